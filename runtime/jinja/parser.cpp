// Recursive-descent parser mirroring jinja2's: condexpr > or > and > not > compare > + - >
// ~ > * / // % > ** > unary > primary with postfix (. [] ()) and filters/tests (| is).
#include "runtime/jinja/parser.h"

#include <algorithm>

#include "runtime/jinja/builtins.h"
#include "runtime/jinja/lexer.h"

namespace ember::jinja {

namespace {

class Parser {
  public:
    explicit Parser(std::vector<Token> tokens) : toks_(std::move(tokens)) {}

    TemplateAst parse() {
        TemplateAst t;
        t.body = subparse({});
        return t;
    }

  private:
    // ---- token helpers ----
    const Token& cur() const { return toks_[i_]; }
    const Token& look() const { return toks_[std::min(i_ + 1, toks_.size() - 1)]; }
    const Token& next() {
        const Token& t = toks_[i_];
        if (t.type != TokenType::Eof) ++i_;
        return t;
    }
    bool is_op(const Token& t, std::string_view op) const {
        return t.type == TokenType::Operator && t.text == op;
    }
    bool is_name(const Token& t, std::string_view n) const {
        return t.type == TokenType::Name && t.text == n;
    }
    bool skip_op(std::string_view op) {
        if (!is_op(cur(), op)) return false;
        next();
        return true;
    }
    bool skip_name(std::string_view n) {
        if (!is_name(cur(), n)) return false;
        next();
        return true;
    }

    [[noreturn]] void fail(const std::string& msg, SourcePos pos) const { throw Error(msg, pos); }
    [[noreturn]] void fail(const std::string& msg) const { throw Error(msg, cur().pos); }

    [[noreturn]] void fail_expected(const std::string& what) const {
        if (cur().type == TokenType::Eof) fail("unexpected end of template, expected '" + what + "'.");
        fail("expected token '" + what + "', got '" + describe_token(cur()) + "'");
    }
    const Token& expect_op(std::string_view op) {
        if (!is_op(cur(), op)) fail_expected(std::string(op));
        return next();
    }
    const Token& expect_type(TokenType t, const char* what) {
        if (cur().type != t) fail_expected(what);
        return next();
    }
    const Token& expect_name(std::string_view n) {
        if (!is_name(cur(), n)) fail_expected(std::string(n));
        return next();
    }

    static ExprPtr make(ExprKind k, SourcePos p) { return std::make_unique<Expr>(k, p); }

    // ---- statements ----
    [[noreturn]] void fail_unknown_tag(const std::string& name, SourcePos pos) const {
        std::string msg =
            name.empty() ? "Unexpected end of template." : "Encountered unknown tag '" + name + "'.";
        if (!end_stack_.empty()) {
            std::string looking;
            for (const auto& e : end_stack_.back()) looking += (looking.empty() ? "'" : " or '") + e + "'";
            bool expected_elsewhere = false;
            for (const auto& level : end_stack_)
                expected_elsewhere |= std::find(level.begin(), level.end(), name) != level.end();
            if (!name.empty() && expected_elsewhere)
                msg +=
                    " You probably made a nesting mistake. Jinja is expecting this tag, but currently "
                    "looking for " +
                    looking + ".";
            else
                msg += " Jinja was looking for the following tags: " + looking + ".";
        }
        if (!tag_stack_.empty())
            msg += " The innermost block that needs to be closed is '" + tag_stack_.back() + "'.";
        fail(msg, pos);
    }

    // Parses statements until {% <one of end_tokens> %}; leaves the end tag name as current token.
    Body subparse(const std::vector<std::string>& end_tokens) {
        Body body;
        if (!end_tokens.empty()) end_stack_.push_back(end_tokens);
        while (cur().type != TokenType::Eof) {
            const Token& t = cur();
            if (t.type == TokenType::Data) {
                auto s = std::make_unique<Stmt>(StmtKind::Text, t.pos);
                s->text = t.text;
                body.push_back(std::move(s));
                next();
            } else if (t.type == TokenType::VarBegin) {
                next();
                auto s = std::make_unique<Stmt>(StmtKind::Output, t.pos);
                s->expr = parse_tuple(false, true, {}, false);
                expect_type(TokenType::VarEnd, "end of print statement");
                body.push_back(std::move(s));
            } else if (t.type == TokenType::BlockBegin) {
                next();
                if (!end_tokens.empty() && cur().type == TokenType::Name &&
                    std::find(end_tokens.begin(), end_tokens.end(), cur().text) != end_tokens.end()) {
                    end_stack_.pop_back();
                    return body;
                }
                body.push_back(parse_statement());
                expect_type(TokenType::BlockEnd, "end of statement block");
            } else {
                fail("internal parsing error: unexpected " + describe_token(t));
            }
        }
        if (!end_tokens.empty()) fail_unknown_tag("", cur().pos);
        return body;
    }

    // {% ... %} body {% end %}: expects the block end, parses the body, leaves the end name current.
    Body parse_statements(const std::vector<std::string>& end_tokens, bool drop_needle) {
        skip_op(":");
        expect_type(TokenType::BlockEnd, "end of statement block");
        Body body = subparse(end_tokens);
        if (drop_needle) next();
        return body;
    }

    StmtPtr parse_statement() {
        DepthGuard guard(*this);
        const Token& t = cur();
        if (t.type != TokenType::Name) fail("tag name expected");
        const std::string name = t.text;
        const SourcePos pos = t.pos;
        static const char* const unsupported[] = {"extends", "include", "import",     "from",
                                                  "block",   "call",    "autoescape", "do"};
        for (const char* u : unsupported)
            if (name == u)
                fail(
                    "unsupported template construct '{% " + name +
                        " %}': chat templates are rendered standalone (no extends/include/import/block/call)",
                    pos);
        tag_stack_.push_back(name);
        StmtPtr s;
        if (name == "if") {
            s = parse_if();
        } else if (name == "for") {
            s = parse_for();
        } else if (name == "set") {
            s = parse_set();
        } else if (name == "macro") {
            s = parse_macro();
        } else if (name == "filter") {
            s = parse_filter_block();
        } else if (name == "with") {
            s = parse_with();
        } else if (name == "print") {
            next();
            s = std::make_unique<Stmt>(StmtKind::Output, pos);
            auto tuple = make(ExprKind::Tuple, pos);
            while (cur().type != TokenType::BlockEnd) {
                if (!tuple->items.empty()) expect_op(",");
                tuple->items.push_back(parse_expression(true));
            }
            // print a, b writes each expression; represent as a Concat of str() parts.
            auto cat = make(ExprKind::Concat, pos);
            cat->items = std::move(tuple->items);
            s->expr = std::move(cat);
        } else if (name == "break" || name == "continue") {
            next();
            if (loop_depth_ == 0) fail("'" + name + "' outside of a for loop", pos);
            s = std::make_unique<Stmt>(name == "break" ? StmtKind::Break : StmtKind::Continue, pos);
        } else if (name == "generation") {
            next();
            s = std::make_unique<Stmt>(StmtKind::Generation, pos);
            s->body = parse_statements({"endgeneration"}, true);
        } else {
            tag_stack_.pop_back();
            fail_unknown_tag(name, pos);
        }
        tag_stack_.pop_back();
        return s;
    }

    StmtPtr parse_if() {
        auto s = std::make_unique<Stmt>(StmtKind::If, next().pos);
        while (true) {
            ExprPtr test = parse_tuple(false, false, {}, false);
            Body body = parse_statements({"elif", "else", "endif"}, false);
            s->branches.emplace_back(std::move(test), std::move(body));
            const Token& t = next();
            if (t.text == "elif") continue;
            if (t.text == "else") s->else_body = parse_statements({"endif"}, true);
            break;
        }
        return s;
    }

    StmtPtr parse_for() {
        auto s = std::make_unique<Stmt>(StmtKind::For, next().pos);
        s->target = parse_assign_target(false, {"in"});
        expect_name("in");
        s->expr = parse_tuple(false, false, {"recursive"}, false);
        if (skip_name("if")) s->cond = parse_expression(true);
        if (skip_name("recursive"))
            fail("unsupported template construct 'for ... recursive' (recursive loops)", s->pos);
        ++loop_depth_;
        s->body = parse_statements({"endfor", "else"}, false);
        --loop_depth_;
        if (next().text == "else") {
            int saved = loop_depth_;
            loop_depth_ = 0;  // break/continue in the else branch are outside the loop
            s->else_body = parse_statements({"endfor"}, true);
            loop_depth_ = saved;
        }
        return s;
    }

    StmtPtr parse_set() {
        SourcePos pos = next().pos;
        Target target = parse_assign_target(true, {});
        if (skip_op("=")) {
            auto s = std::make_unique<Stmt>(StmtKind::Set, pos);
            s->target = std::move(target);
            s->expr = parse_tuple(false, true, {}, false);
            return s;
        }
        auto s = std::make_unique<Stmt>(StmtKind::SetBlock, pos);
        s->target = std::move(target);
        if (is_op(cur(), "|")) s->expr = parse_filter(nullptr, false);
        s->body = parse_statements({"endset"}, true);
        return s;
    }

    StmtPtr parse_macro() {
        auto s = std::make_unique<Stmt>(StmtKind::Macro, next().pos);
        s->text = expect_type(TokenType::Name, "name").text;
        expect_op("(");
        bool have_default = false;
        while (!is_op(cur(), ")")) {
            if (!s->params.empty()) expect_op(",");
            std::string pname = expect_type(TokenType::Name, "name").text;
            ExprPtr def;
            if (skip_op("=")) {
                def = parse_expression(true);
                have_default = true;
            } else if (have_default) {
                fail("non-default argument follows default argument");
            }
            s->params.emplace_back(pname, std::move(def));
        }
        expect_op(")");
        int saved = loop_depth_;
        loop_depth_ = 0;
        s->body = parse_statements({"endmacro"}, true);
        loop_depth_ = saved;
        return s;
    }

    StmtPtr parse_filter_block() {
        auto s = std::make_unique<Stmt>(StmtKind::FilterBlock, next().pos);
        s->expr = parse_filter(nullptr, true);
        s->body = parse_statements({"endfilter"}, true);
        return s;
    }

    StmtPtr parse_with() {
        auto s = std::make_unique<Stmt>(StmtKind::With, next().pos);
        while (cur().type != TokenType::BlockEnd) {
            if (!s->params.empty()) expect_op(",");
            std::string name = expect_type(TokenType::Name, "name").text;
            expect_op("=");
            s->params.emplace_back(name, parse_expression(true));
        }
        s->body = parse_statements({"endwith"}, true);
        return s;
    }

    // Names, tuples of names, or (for set) ns.attr.
    Target parse_assign_target(bool with_namespace, const std::vector<std::string>& extra_end) {
        Target t;
        t.pos = cur().pos;
        if (with_namespace && cur().type == TokenType::Name && is_op(look(), ".")) {
            t.kind = Target::Kind::NamespaceAttr;
            t.name = next().text;
            next();
            t.attr = expect_type(TokenType::Name, "name").text;
            return t;
        }
        std::vector<Target> items;
        bool is_tuple = false;
        while (true) {
            if (!items.empty()) expect_op(",");
            if (is_tuple_end(extra_end)) break;
            Target item;
            item.pos = cur().pos;
            if (cur().type == TokenType::Name && !is_reserved(cur().text)) {
                item.name = next().text;
            } else if (skip_op("(")) {
                item = parse_assign_target(false, {});
                expect_op(")");
            } else {
                fail("can't assign to '" + describe_token(cur()) + "'");
            }
            items.push_back(std::move(item));
            if (is_op(cur(), ","))
                is_tuple = true;
            else
                break;
        }
        if (items.empty()) fail("expected an assignment target");
        if (!is_tuple) return std::move(items[0]);
        t.kind = Target::Kind::Tuple;
        t.items = std::move(items);
        return t;
    }

    static bool is_reserved(const std::string& n) {
        return n == "true" || n == "false" || n == "none" || n == "True" || n == "False" || n == "None";
    }

    // ---- expressions ----
    bool is_tuple_end(const std::vector<std::string>& extra_end) const {
        const Token& t = cur();
        if (t.type == TokenType::VarEnd || t.type == TokenType::BlockEnd || is_op(t, ")")) return true;
        if (t.type == TokenType::Name)
            return std::find(extra_end.begin(), extra_end.end(), t.text) != extra_end.end();
        return false;
    }

    ExprPtr parse_tuple(bool simplified, bool with_condexpr, const std::vector<std::string>& extra_end,
                        bool explicit_parens) {
        SourcePos pos = cur().pos;
        std::vector<ExprPtr> args;
        bool is_tuple = false;
        while (true) {
            if (!args.empty()) expect_op(",");
            if (is_tuple_end(extra_end)) break;
            args.push_back(simplified ? parse_primary() : parse_expression(with_condexpr));
            if (is_op(cur(), ","))
                is_tuple = true;
            else
                break;
        }
        if (!is_tuple) {
            if (!args.empty()) return std::move(args[0]);
            if (!explicit_parens) fail("Expected an expression, got '" + describe_token(cur()) + "'");
        }
        auto e = make(ExprKind::Tuple, pos);
        e->items = std::move(args);
        return e;
    }

    // Bounds recursion so a hostile template cannot overflow the stack.
    struct DepthGuard {
        Parser& p;
        explicit DepthGuard(Parser& parser) : p(parser) {
            if (++p.depth_ > kMaxDepth)
                p.fail("template nesting too deep (more than " + std::to_string(kMaxDepth) + " levels)");
        }
        ~DepthGuard() { --p.depth_; }
    };
    static constexpr int kMaxDepth = 500;

    ExprPtr parse_expression(bool with_condexpr) {
        DepthGuard guard(*this);
        return with_condexpr ? parse_condexpr() : parse_or();
    }

    ExprPtr parse_condexpr() {
        SourcePos pos = cur().pos;
        ExprPtr e1 = parse_or();
        while (skip_name("if")) {
            auto ce = make(ExprKind::CondExpr, pos);
            ce->a = parse_or();  // condition
            ce->b = std::move(e1);
            if (skip_name("else")) ce->c = parse_condexpr();
            e1 = std::move(ce);
            pos = cur().pos;
        }
        return e1;
    }

    ExprPtr parse_or() {
        SourcePos pos = cur().pos;
        ExprPtr left = parse_and();
        while (skip_name("or")) {
            auto e = make(ExprKind::Or, pos);
            e->a = std::move(left);
            e->b = parse_and();
            left = std::move(e);
            pos = cur().pos;
        }
        return left;
    }

    ExprPtr parse_and() {
        SourcePos pos = cur().pos;
        ExprPtr left = parse_not();
        while (skip_name("and")) {
            auto e = make(ExprKind::And, pos);
            e->a = std::move(left);
            e->b = parse_not();
            left = std::move(e);
            pos = cur().pos;
        }
        return left;
    }

    ExprPtr parse_not() {
        DepthGuard guard(*this);
        if (is_name(cur(), "not")) {
            auto e = make(ExprKind::Not, next().pos);
            e->a = parse_not();
            return e;
        }
        return parse_compare();
    }

    ExprPtr parse_compare() {
        SourcePos pos = cur().pos;
        ExprPtr first = parse_math1();
        auto cmp = make(ExprKind::Compare, pos);
        while (true) {
            const Token& t = cur();
            std::string op;
            if (t.type == TokenType::Operator && (t.text == "==" || t.text == "!=" || t.text == "<" ||
                                                  t.text == "<=" || t.text == ">" || t.text == ">=")) {
                op = t.text;
                next();
            } else if (is_name(t, "in")) {
                op = "in";
                next();
            } else if (is_name(t, "not") && is_name(look(), "in")) {
                op = "not in";
                next();
                next();
            } else {
                break;
            }
            cmp->ops.push_back(op);
            cmp->items.push_back(parse_math1());
        }
        if (cmp->ops.empty()) return first;
        cmp->a = std::move(first);
        return cmp;
    }

    ExprPtr binary(const std::string& op, ExprPtr l, ExprPtr r, SourcePos pos) {
        auto e = make(ExprKind::Binary, pos);
        e->name = op;
        e->a = std::move(l);
        e->b = std::move(r);
        return e;
    }

    ExprPtr parse_math1() {
        SourcePos pos = cur().pos;
        ExprPtr left = parse_concat();
        while (is_op(cur(), "+") || is_op(cur(), "-")) {
            std::string op = next().text;
            left = binary(op, std::move(left), parse_concat(), pos);
            pos = cur().pos;
        }
        return left;
    }

    ExprPtr parse_concat() {
        SourcePos pos = cur().pos;
        ExprPtr first = parse_math2();
        if (!is_op(cur(), "~")) return first;
        auto e = make(ExprKind::Concat, pos);
        e->items.push_back(std::move(first));
        while (skip_op("~")) e->items.push_back(parse_math2());
        return e;
    }

    ExprPtr parse_math2() {
        SourcePos pos = cur().pos;
        ExprPtr left = parse_pow();
        while (is_op(cur(), "*") || is_op(cur(), "/") || is_op(cur(), "//") || is_op(cur(), "%")) {
            std::string op = next().text;
            left = binary(op, std::move(left), parse_pow(), pos);
            pos = cur().pos;
        }
        return left;
    }

    ExprPtr parse_pow() {
        SourcePos pos = cur().pos;
        ExprPtr left = parse_unary(true);
        while (skip_op("**")) {
            left = binary("**", std::move(left), parse_unary(true), pos);
            pos = cur().pos;
        }
        return left;
    }

    ExprPtr parse_unary(bool with_filter) {
        DepthGuard guard(*this);
        SourcePos pos = cur().pos;
        ExprPtr node;
        if (skip_op("-")) {
            node = make(ExprKind::Neg, pos);
            node->a = parse_unary(false);
        } else if (skip_op("+")) {
            node = make(ExprKind::Pos, pos);
            node->a = parse_unary(false);
        } else {
            node = parse_primary();
        }
        node = parse_postfix(std::move(node));
        if (with_filter) node = parse_filter_expr(std::move(node));
        return node;
    }

    ExprPtr parse_primary() {
        const Token& t = cur();
        SourcePos pos = t.pos;
        if (t.type == TokenType::Name) {
            auto e = make(ExprKind::Const, pos);
            if (t.text == "true" || t.text == "True") {
                e->value = Value(true);
            } else if (t.text == "false" || t.text == "False") {
                e->value = Value(false);
            } else if (t.text == "none" || t.text == "None") {
                e->value = Value::none();
            } else {
                e = make(ExprKind::Name, pos);
                e->name = t.text;
            }
            next();
            return e;
        }
        if (t.type == TokenType::String) {
            std::string s;
            while (cur().type == TokenType::String) s += next().text;  // 'a' 'b' == 'ab'
            auto e = make(ExprKind::Const, pos);
            e->value = Value(std::move(s));
            return e;
        }
        if (t.type == TokenType::Integer || t.type == TokenType::Float) {
            auto e = make(ExprKind::Const, pos);
            e->value = t.type == TokenType::Integer ? Value(t.int_value) : Value(t.float_value);
            next();
            return e;
        }
        if (skip_op("(")) {
            ExprPtr e = parse_tuple(false, true, {}, true);
            expect_op(")");
            return e;
        }
        if (is_op(t, "[")) {
            next();
            auto e = make(ExprKind::List, pos);
            while (!is_op(cur(), "]")) {
                if (!e->items.empty()) expect_op(",");
                if (is_op(cur(), "]")) break;
                e->items.push_back(parse_expression(true));
            }
            expect_op("]");
            return e;
        }
        if (is_op(t, "{")) {
            next();
            auto e = make(ExprKind::Dict, pos);
            while (!is_op(cur(), "}")) {
                if (!e->items.empty()) expect_op(",");
                if (is_op(cur(), "}")) break;
                e->items.push_back(parse_expression(true));
                expect_op(":");
                e->items.push_back(parse_expression(true));
            }
            expect_op("}");
            return e;
        }
        if (t.type == TokenType::Eof) fail("unexpected end of template");
        fail("unexpected '" + describe_token(t) + "'");
    }

    ExprPtr parse_postfix(ExprPtr node) {
        while (true) {
            if (is_op(cur(), ".") || is_op(cur(), "[")) {
                node = parse_subscript(std::move(node));
            } else if (is_op(cur(), "(")) {
                node = parse_call(std::move(node));
            } else {
                return node;
            }
        }
    }

    ExprPtr parse_filter_expr(ExprPtr node) {
        while (true) {
            if (is_op(cur(), "|")) {
                node = parse_filter(std::move(node), false);
            } else if (is_name(cur(), "is")) {
                node = parse_test(std::move(node));
            } else if (is_op(cur(), "(")) {
                node = parse_call(std::move(node));
            } else {
                return node;
            }
        }
    }

    ExprPtr parse_subscript(ExprPtr node) {
        const Token& t = next();
        SourcePos pos = t.pos;
        if (t.text == ".") {
            const Token& attr = next();
            if (attr.type == TokenType::Name) {
                auto e = make(ExprKind::Getattr, pos);
                e->a = std::move(node);
                e->name = attr.text;
                return e;
            }
            if (attr.type != TokenType::Integer) fail("expected name or number", attr.pos);
            auto e = make(ExprKind::Getitem, pos);
            e->a = std::move(node);
            e->b = make(ExprKind::Const, attr.pos);
            e->b->value = Value(attr.int_value);
            return e;
        }
        // '['
        std::vector<ExprPtr> args;
        while (!is_op(cur(), "]")) {
            if (!args.empty()) expect_op(",");
            args.push_back(parse_subscribed());
        }
        expect_op("]");
        auto e = make(ExprKind::Getitem, pos);
        e->a = std::move(node);
        if (args.size() == 1) {
            e->b = std::move(args[0]);
        } else {
            e->b = make(ExprKind::Tuple, pos);
            e->b->items = std::move(args);
        }
        return e;
    }

    ExprPtr parse_subscribed() {
        SourcePos pos = cur().pos;
        ExprPtr start;
        if (!skip_op(":")) {
            ExprPtr node = parse_expression(true);
            if (!is_op(cur(), ":")) return node;
            next();
            start = std::move(node);
        }
        auto s = make(ExprKind::Slice, pos);
        s->a = std::move(start);
        if (!is_op(cur(), ":") && !is_op(cur(), "]") && !is_op(cur(), ",")) s->b = parse_expression(true);
        if (skip_op(":")) {
            if (!is_op(cur(), "]") && !is_op(cur(), ",")) s->c = parse_expression(true);
        }
        return s;
    }

    void parse_call_args(Expr& e) {
        SourcePos pos = expect_op("(").pos;
        bool require_comma = false;
        while (!is_op(cur(), ")")) {
            if (require_comma) {
                expect_op(",");
                if (is_op(cur(), ")")) break;
            }
            if (skip_op("*")) {
                if (e.dyn_args || e.dyn_kwargs) fail("invalid syntax for function call expression", pos);
                e.dyn_args = parse_expression(true);
            } else if (skip_op("**")) {
                if (e.dyn_kwargs) fail("invalid syntax for function call expression", pos);
                e.dyn_kwargs = parse_expression(true);
            } else if (cur().type == TokenType::Name && is_op(look(), "=")) {
                if (e.dyn_kwargs) fail("invalid syntax for function call expression", pos);
                std::string key = next().text;
                next();
                e.kwargs.emplace_back(key, parse_expression(true));
            } else {
                if (e.dyn_args || e.dyn_kwargs || !e.kwargs.empty())
                    fail("invalid syntax for function call expression", pos);
                e.items.push_back(parse_expression(true));
            }
            require_comma = true;
        }
        expect_op(")");
    }

    ExprPtr parse_call(ExprPtr node) {
        auto e = make(ExprKind::Call, node->pos);  // errors point at the start of the callee
        e->a = std::move(node);
        parse_call_args(*e);
        return e;
    }

    ExprPtr parse_filter(ExprPtr node, bool start_inline) {
        while (is_op(cur(), "|") || start_inline) {
            if (!start_inline) next();
            const Token& t = expect_type(TokenType::Name, "name");
            std::string name = t.text;
            SourcePos pos = t.pos;
            while (skip_op(".")) name += "." + expect_type(TokenType::Name, "name").text;
            if (is_unsupported_jinja_filter(name))
                fail(
                    "unsupported filter '" + name + "' (a Jinja builtin this interpreter does not implement)",
                    pos);
            if (!is_known_filter(name))
                fail("unknown filter '" + name + "' (No filter named '" + name + "')", pos);
            auto e = make(ExprKind::Filter, pos);
            e->name = name;
            e->a = std::move(node);
            if (is_op(cur(), "(")) parse_call_args(*e);
            node = std::move(e);
            start_inline = false;
        }
        return node;
    }

    ExprPtr parse_test(ExprPtr node) {
        SourcePos pos = next().pos;  // 'is'
        bool negated = skip_name("not");
        const Token& t = expect_type(TokenType::Name, "name");
        std::string name = t.text;
        while (skip_op(".")) name += "." + expect_type(TokenType::Name, "name").text;
        if (!is_known_test(name)) fail("unknown test '" + name + "' (No test named '" + name + "')", t.pos);
        auto e = make(ExprKind::Test, pos);
        e->name = name;
        e->a = std::move(node);
        const Token& c = cur();
        bool arg_start = c.type == TokenType::Name || c.type == TokenType::String ||
                         c.type == TokenType::Integer || c.type == TokenType::Float || is_op(c, "[") ||
                         is_op(c, "{");
        if (is_op(c, "(")) {
            parse_call_args(*e);
        } else if (arg_start && !is_name(c, "else") && !is_name(c, "or") && !is_name(c, "and")) {
            if (is_name(c, "is")) fail("You cannot chain multiple tests with is");
            e->items.push_back(parse_postfix(parse_primary()));
        }
        if (!negated) return e;
        auto n = make(ExprKind::Not, pos);
        n->a = std::move(e);
        return n;
    }

    std::vector<Token> toks_;
    size_t i_ = 0;
    std::vector<std::string> tag_stack_;
    std::vector<std::vector<std::string>> end_stack_;
    int loop_depth_ = 0;
    int depth_ = 0;
};

}  // namespace

TemplateAst parse_template(std::string_view source) {
    return Parser(tokenize(source)).parse();
}

}  // namespace ember::jinja
