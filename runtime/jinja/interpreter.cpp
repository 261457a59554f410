// Tree-walking evaluator: statements write to an output string, expressions produce Values.
#include "runtime/jinja/interpreter.h"

#include <memory>
#include <optional>
#include <unordered_map>

#include "runtime/jinja/builtins.h"

namespace ember::jinja {

namespace {

struct Frame {
    std::unordered_map<std::string, Value> vars;
    std::shared_ptr<Frame> parent;

    const Value* find(const std::string& name) const {
        for (const Frame* f = this; f; f = f->parent.get()) {
            auto it = f->vars.find(name);
            if (it != f->vars.end()) return &it->second;
        }
        return nullptr;
    }
};
using FramePtr = std::shared_ptr<Frame>;

FramePtr child_of(const FramePtr& parent) {
    auto f = std::make_shared<Frame>();
    f->parent = parent;
    return f;
}

enum class Flow { Normal, Break, Continue };

// The `loop` variable of a for-loop iteration.
class LoopObject : public Object {
  public:
    // `changed` is the loop.changed() memory, shared by all iterations of one loop.
    LoopObject(std::shared_ptr<const std::vector<Value>> items, size_t index0,
               std::shared_ptr<std::optional<Value>> changed)
        : items_(std::move(items)), index0_(index0), last_changed_(std::move(changed)) {}
    std::string type_name() const override { return "LoopContext"; }
    std::string repr() const override {
        return "<LoopContext " + std::to_string(index0_ + 1) + "/" + std::to_string(items_->size()) + ">";
    }
    Value get_attr(const std::string& name) const override {
        const auto n = static_cast<int64_t>(items_->size());
        const auto i = static_cast<int64_t>(index0_);
        if (name == "index") return Value(i + 1);
        if (name == "index0") return Value(i);
        if (name == "revindex") return Value(n - i);
        if (name == "revindex0") return Value(n - i - 1);
        if (name == "first") return Value(i == 0);
        if (name == "last") return Value(i == n - 1);
        if (name == "length") return Value(n);
        if (name == "depth") return Value(1);
        if (name == "depth0") return Value(0);
        if (name == "previtem")
            return i > 0 ? (*items_)[index0_ - 1] : Value::undefined("there is no previous item");
        if (name == "nextitem")
            return i + 1 < n ? (*items_)[index0_ + 1] : Value::undefined("there is no next item");
        if (name == "cycle") {
            size_t idx = index0_;
            return make_function("loop.cycle", [idx](CallArgs& a) {
                if (a.args.empty()) throw Error("no items for cycling given");
                return a.args[idx % a.args.size()];
            });
        }
        if (name == "changed") {
            auto last = last_changed_;
            return make_function("loop.changed", [last](CallArgs& a) {
                Value now = Value::list(a.args);
                if (last->has_value() && values_equal(**last, now)) return Value(false);
                *last = now;
                return Value(true);
            });
        }
        return Value::undefined("'LoopContext object' has no attribute '" + name + "'");
    }

  private:
    std::shared_ptr<const std::vector<Value>> items_;
    size_t index0_;
    std::shared_ptr<std::optional<Value>> last_changed_;
};

class Interpreter {
  public:
    explicit Interpreter(const RenderSettings& settings) : settings_(settings) {}

    std::string render(const TemplateAst& ast, const Value& context) {
        auto root = std::make_shared<Frame>();
        DictData globals;
        add_globals(globals, settings_.now, namespaces_);
        for (auto& kv : globals.items) root->vars[kv.first.as_string()] = kv.second;
        if (!context.is_dict()) throw Error("the template context must be a JSON object");
        for (const auto& kv : context.as_dict().items) {
            if (!kv.first.is_string()) throw Error("template context keys must be strings");
            root->vars[kv.first.as_string()] = kv.second;
        }
        std::string out;
        try {
            exec(ast.body, root, out);
        } catch (...) {
            release_namespaces();
            throw;
        }
        release_namespaces();
        return out;
    }

  private:
    // ---- statements ----
    Flow exec(const Body& body, const FramePtr& frame, std::string& out) {
        for (const auto& s : body) {
            Flow f = exec_stmt(*s, frame, out);
            if (f != Flow::Normal) return f;
        }
        return Flow::Normal;
    }

    Flow exec_stmt(const Stmt& s, const FramePtr& frame, std::string& out) {
        try {
            switch (s.kind) {
                case StmtKind::Text:
                    out += s.text;
                    return Flow::Normal;
                case StmtKind::Output:
                    out += eval(*s.expr, frame).str();
                    return Flow::Normal;
                case StmtKind::If:
                    for (const auto& [cond, body] : s.branches)
                        if (eval(*cond, frame).truthy()) return exec(body, frame, out);
                    return exec(s.else_body, frame, out);
                case StmtKind::For:
                    return exec_for(s, frame, out);
                case StmtKind::Set:
                    assign(s.target, eval(*s.expr, frame), frame);
                    return Flow::Normal;
                case StmtKind::SetBlock: {
                    std::string text;
                    exec(s.body, frame, text);
                    Value v(text);
                    if (s.expr) v = apply_filter_chain(*s.expr, frame, v);
                    assign(s.target, v, frame);
                    return Flow::Normal;
                }
                case StmtKind::Macro:
                    frame->vars[s.text] = make_macro(s, frame);
                    return Flow::Normal;
                case StmtKind::FilterBlock: {
                    std::string text;
                    exec(s.body, frame, text);
                    out += apply_filter_chain(*s.expr, frame, Value(text)).str();
                    return Flow::Normal;
                }
                case StmtKind::With: {
                    auto inner = child_of(frame);
                    for (const auto& [name, expr] : s.params) inner->vars[name] = eval(*expr, frame);
                    return exec(s.body, inner, out);
                }
                case StmtKind::Break:
                    return Flow::Break;
                case StmtKind::Continue:
                    return Flow::Continue;
                case StmtKind::Generation:
                    return exec(s.body, frame, out);
            }
        } catch (const Error& e) {
            if (e.pos().line == 0) throw Error(e.message(), s.pos);
            throw;
        }
        return Flow::Normal;
    }

    Flow exec_for(const Stmt& s, const FramePtr& frame, std::string& out) {
        Value iterable = eval(*s.expr, frame);
        if (iterable.is_none()) throw Error("'NoneType' object is not iterable", s.expr->pos);
        std::vector<Value> all;
        try {
            all = iterate(iterable);
        } catch (const Error& e) {
            throw Error(e.message(), s.expr->pos);
        }
        auto items = std::make_shared<std::vector<Value>>();
        if (s.cond) {
            for (auto& item : all) {
                auto probe = child_of(frame);
                assign(s.target, item, probe);
                if (eval(*s.cond, probe).truthy()) items->push_back(std::move(item));
            }
        } else {
            *items = std::move(all);
        }
        if (items->empty()) return exec(s.else_body, child_of(frame), out);
        std::shared_ptr<const std::vector<Value>> shared = items;
        auto changed_state = std::make_shared<std::optional<Value>>();
        for (size_t i = 0; i < shared->size(); ++i) {
            auto iter_frame = child_of(frame);
            auto loop = std::make_shared<LoopObject>(shared, i, changed_state);
            iter_frame->vars["loop"] = Value(std::shared_ptr<Object>(loop));
            assign(s.target, (*shared)[i], iter_frame);
            Flow f = exec(s.body, iter_frame, out);
            if (f == Flow::Break) break;
        }
        return Flow::Normal;
    }

    void assign(const Target& t, const Value& v, const FramePtr& frame) {
        switch (t.kind) {
            case Target::Kind::Name:
                frame->vars[t.name] = v;
                return;
            case Target::Kind::NamespaceAttr: {
                const Value* ns = frame->find(t.name);
                if (!ns || ns->is_undefined()) throw Error("'" + t.name + "' is undefined", t.pos);
                if (!ns->is_object() || !ns->as_object()->set_attr(t.attr, v))
                    throw Error("cannot assign attribute on non-namespace object", t.pos);
                return;
            }
            case Target::Kind::Tuple: {
                std::vector<Value> parts;
                try {
                    parts = iterate(v);
                } catch (const Error& e) {
                    throw Error("cannot unpack non-iterable " + v.type_name() + " object", t.pos);
                }
                if (parts.size() != t.items.size()) {
                    if (parts.size() > t.items.size())
                        throw Error(
                            "too many values to unpack (expected " + std::to_string(t.items.size()) + ")",
                            t.pos);
                    throw Error("not enough values to unpack (expected " + std::to_string(t.items.size()) +
                                    ", got " + std::to_string(parts.size()) + ")",
                                t.pos);
                }
                for (size_t i = 0; i < parts.size(); ++i) assign(t.items[i], parts[i], frame);
                return;
            }
        }
    }

    Value make_macro(const Stmt& s, const FramePtr& defining) {
        const Stmt* macro = &s;
        std::weak_ptr<Frame> weak = defining;  // the frame holds the macro: avoid a reference cycle
        return make_function(s.text, [this, macro, weak](CallArgs& a) {
            FramePtr parent = weak.lock();
            if (!parent) throw Error("macro '" + macro->text + "' called after its scope ended");
            if (++depth_ > 200) {
                depth_ = 0;
                throw Error("maximum recursion depth exceeded in macro '" + macro->text + "'");
            }
            auto frame = child_of(parent);
            const auto& params = macro->params;
            if (a.args.size() > params.size())
                throw Error("macro '" + macro->text + "' takes not more than " +
                            std::to_string(params.size()) + " argument(s)");
            for (size_t i = 0; i < params.size(); ++i) {
                const auto& [name, def] = params[i];
                Value v;
                bool given = false;
                if (i < a.args.size()) {
                    v = a.args[i];
                    given = true;
                }
                for (const auto& kv : a.kwargs)
                    if (kv.first == name) {
                        if (given)
                            throw Error("macro '" + macro->text + "' got multiple values for argument '" +
                                        name + "'");
                        v = kv.second;
                        given = true;
                    }
                if (!given)
                    v = def ? eval(*def, frame)
                            : Value::undefined("parameter '" + name + "' was not provided");
                frame->vars[name] = v;
            }
            for (const auto& kv : a.kwargs) {
                bool known = false;
                for (const auto& p : params) known |= p.first == kv.first;
                if (!known)
                    throw Error("macro '" + macro->text + "' takes no keyword argument '" + kv.first + "'");
            }
            std::string text;
            exec(macro->body, frame, text);
            --depth_;
            return Value(text);
        });
    }

    // ---- expressions ----
    Value apply_filter_chain(const Expr& e, const FramePtr& frame, const Value& input) {
        Value v = e.a ? apply_filter_chain(*e.a, frame, input) : input;
        CallArgs args = eval_args(e, frame);
        return apply_filter(e.name, v, args);
    }

    CallArgs eval_args(const Expr& e, const FramePtr& frame) {
        CallArgs args;
        for (const auto& x : e.items) args.args.push_back(eval(*x, frame));
        for (const auto& [k, x] : e.kwargs) args.kwargs.emplace_back(k, eval(*x, frame));
        if (e.dyn_args) {
            for (auto& v : iterate(eval(*e.dyn_args, frame))) args.args.push_back(std::move(v));
        }
        if (e.dyn_kwargs) {
            Value d = eval(*e.dyn_kwargs, frame);
            if (!d.is_dict()) throw Error("argument after ** must be a mapping, not " + d.type_name());
            for (const auto& kv : d.as_dict().items) args.kwargs.emplace_back(kv.first.str(), kv.second);
        }
        return args;
    }

    Value eval(const Expr& e, const FramePtr& frame) {
        try {
            return eval_inner(e, frame);
        } catch (const Error& err) {
            if (err.pos().line == 0) throw Error(err.message(), e.pos);
            throw;
        }
    }

    Value eval_inner(const Expr& e, const FramePtr& frame) {
        switch (e.kind) {
            case ExprKind::Const:
                return e.value;
            case ExprKind::Name: {
                const Value* v = frame->find(e.name);
                return v ? *v : Value::undefined("'" + e.name + "' is undefined");
            }
            case ExprKind::List:
            case ExprKind::Tuple: {
                std::vector<Value> items;
                for (const auto& x : e.items) items.push_back(eval(*x, frame));
                return e.kind == ExprKind::List ? Value::list(std::move(items))
                                                : Value::tuple(std::move(items));
            }
            case ExprKind::Dict: {
                auto d = std::make_shared<DictData>();
                for (size_t i = 0; i + 1 < e.items.size(); i += 2) {
                    Value k = eval(*e.items[i], frame);
                    if (k.is_list() && !k.is_tuple()) throw Error("unhashable type: 'list'");
                    if (k.is_dict()) throw Error("unhashable type: 'dict'");
                    d->set(k, eval(*e.items[i + 1], frame));
                }
                return Value(d);
            }
            case ExprKind::Getattr:
                return get_attr(eval(*e.a, frame), e.name);
            case ExprKind::Getitem: {
                Value obj = eval(*e.a, frame);
                if (e.b->kind == ExprKind::Slice) {
                    const Expr& sl = *e.b;
                    auto part = [&](const ExprPtr& p) { return p ? eval(*p, frame) : Value::none(); };
                    Value start = part(sl.a), stop = part(sl.b), step = part(sl.c);
                    return slice_value(obj, start, stop, step);
                }
                return get_item(obj, eval(*e.b, frame));
            }
            case ExprKind::Slice:
                throw Error("slice outside of a subscript");
            case ExprKind::Call: {
                Value callee = eval(*e.a, frame);
                CallArgs args = eval_args(e, frame);
                if (callee.is_undefined()) callee.fail_undefined();
                if (!callee.is_function()) throw Error("'" + callee.type_name() + "' object is not callable");
                return callee.as_function().call(args);
            }
            case ExprKind::Filter: {
                Value v = e.a ? eval(*e.a, frame) : Value::undefined();
                CallArgs args = eval_args(e, frame);
                return apply_filter(e.name, v, args);
            }
            case ExprKind::Test: {
                Value v = eval(*e.a, frame);
                CallArgs args = eval_args(e, frame);
                return Value(apply_test(e.name, v, args));
            }
            case ExprKind::Not:
                return Value(!eval(*e.a, frame).truthy());
            case ExprKind::Neg:
                return negate(eval(*e.a, frame));
            case ExprKind::Pos:
                return unary_plus(eval(*e.a, frame));
            case ExprKind::And: {
                Value l = eval(*e.a, frame);
                return l.truthy() ? eval(*e.b, frame) : l;
            }
            case ExprKind::Or: {
                Value l = eval(*e.a, frame);
                return l.truthy() ? l : eval(*e.b, frame);
            }
            case ExprKind::Binary:
                return binary_op(e.name, eval(*e.a, frame), eval(*e.b, frame));
            case ExprKind::Concat: {
                std::string s;
                for (const auto& x : e.items) s += eval(*x, frame).str();
                return Value(s);
            }
            case ExprKind::Compare: {
                Value left = eval(*e.a, frame);
                for (size_t i = 0; i < e.ops.size(); ++i) {
                    Value right = eval(*e.items[i], frame);
                    if (!compare(e.ops[i], left, right)) return Value(false);
                    left = std::move(right);
                }
                return Value(true);
            }
            case ExprKind::CondExpr: {
                if (eval(*e.a, frame).truthy()) return eval(*e.b, frame);
                if (e.c) return eval(*e.c, frame);
                return Value::undefined("the inline if-expression on line " + std::to_string(e.pos.line) +
                                        " evaluated to false and no else section was defined.");
            }
        }
        throw Error("internal error: unknown expression");
    }

    static bool compare(const std::string& op, const Value& a, const Value& b) {
        if (op == "==") return values_equal(a, b);
        if (op == "!=") return !values_equal(a, b);
        if (op == "in") return contains(b, a);
        if (op == "not in") return !contains(b, a);
        if (a.is_undefined()) a.fail_undefined();
        if (b.is_undefined()) b.fail_undefined();
        bool orderable = (a.is_number() && b.is_number()) || (a.is_string() && b.is_string()) ||
                         (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple());
        if (!orderable)
            throw Error("'" + op + "' not supported between instances of '" + a.type_name() + "' and '" +
                        b.type_name() + "'");
        int c = values_compare(a, b);
        if (op == "<") return c < 0;
        if (op == "<=") return c <= 0;
        if (op == ">") return c > 0;
        return c >= 0;
    }

    // Namespaces are the only mutable values, so the only way to a reference cycle; emptying them
    // after the render frees everything.
    void release_namespaces() {
        for (auto& weak : *namespaces_)
            if (auto ns = weak.lock()) ns->attrs.items.clear();
        namespaces_->clear();
    }

    const RenderSettings& settings_;
    std::shared_ptr<NamespaceRegistry> namespaces_ = std::make_shared<NamespaceRegistry>();
    int depth_ = 0;
};

}  // namespace

std::string render_ast(const TemplateAst& ast, const Value& context, const RenderSettings& settings) {
    return Interpreter(settings).render(ast, context);
}

}  // namespace ember::jinja
