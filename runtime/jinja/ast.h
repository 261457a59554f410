// Syntax tree of a template: expressions and statements, each with its source position.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "runtime/jinja/value.h"

namespace ember::jinja {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

enum class ExprKind {
    Const,     // value
    Name,      // name
    List,      // items
    Tuple,     // items
    Dict,      // items (key, value pairs, flattened: k0 v0 k1 v1 ...)
    Getattr,   // a.name
    Getitem,   // a[b]
    Slice,     // [a:b:c] inside Getitem; null parts are omitted bounds
    Call,      // a(args, kwargs)
    Filter,    // a | name(args, kwargs); a may be null in {% filter %} blocks
    Test,      // a is name(args)
    Not,       // not a
    Neg,       // -a
    Pos,       // +a
    And,       // a and b
    Or,        // a or b
    Binary,    // a op b: + - * / // % **
    Concat,    // a ~ b ~ ...
    Compare,   // a op1 b op2 c ...: == != < <= > >= in notin
    CondExpr,  // b if a else c (c may be null -> undefined)
};

struct Expr {
    ExprKind kind;
    SourcePos pos;
    Value value;                 // Const
    std::string name;            // Name, Getattr attribute, Filter/Test name, Binary operator
    ExprPtr a, b, c;             // operands (see ExprKind)
    std::vector<ExprPtr> items;  // List/Tuple/Dict items, Call/Filter/Test positional args, Concat parts
    std::vector<std::pair<std::string, ExprPtr>> kwargs;  // Call/Filter/Test keyword args
    std::vector<std::string> ops;                         // Compare operators, one per items entry
    ExprPtr dyn_args, dyn_kwargs;                         // f(*args, **kwargs)

    Expr(ExprKind k, SourcePos p) : kind(k), pos(p) {}
};

// Left side of set / for: a name, a tuple of targets, or namespace attribute (ns.attr).
struct Target {
    enum class Kind { Name, Tuple, NamespaceAttr } kind = Kind::Name;
    std::string name;
    std::string attr;
    std::vector<Target> items;
    SourcePos pos;
};

enum class StmtKind {
    Text,         // text
    Output,       // {{ expr }}
    If,           // branches, else_body
    For,          // target, iter, cond, body, else_body
    Set,          // target = expr
    SetBlock,     // {% set target %}body{% endset %} (optional filter applied to the body)
    Macro,        // name, params, body
    FilterBlock,  // {% filter f %}body{% endfilter %}
    With,         // {% with a = 1 %}body{% endwith %}
    Break,
    Continue,
    Generation,  // HF's {% generation %} ... {% endgeneration %}: renders its body
};

struct Stmt {
    StmtKind kind;
    SourcePos pos;
    std::string text;  // Text; Macro name
    ExprPtr expr;      // Output, Set value, For iterable, FilterBlock / SetBlock filter
    ExprPtr cond;      // For filter condition
    Target target;     // Set, SetBlock, For
    std::vector<std::pair<ExprPtr, Body>> branches;  // If / elif
    Body body;
    Body else_body;
    std::vector<std::pair<std::string, ExprPtr>>
        params;              // Macro parameters (default may be null); With assignments
    bool recursive = false;  // For ... recursive

    Stmt(StmtKind k, SourcePos p) : kind(k), pos(p) {}
};

struct TemplateAst {
    Body body;
};

}  // namespace ember::jinja
