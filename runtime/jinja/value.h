// Values of the template interpreter, with Python semantics: none, bool, int, float, str,
// list/tuple, dict (insertion-ordered, like Python's), objects (namespace, loop), functions,
// and Jinja's Undefined (prints as "", is false, iterates as empty; most other uses raise).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace ember::jinja {

// 1-based line and column in the template source; line 0 = unknown.
struct SourcePos {
    int line = 0;
    int column = 0;
};

// Every parse or render failure. what() = "chat template error at line L, column C: message"
// (position left out when unknown); message() is the bare message.
class Error : public std::runtime_error {
  public:
    explicit Error(const std::string& message, SourcePos pos = {});
    const std::string& message() const { return message_; }
    SourcePos pos() const { return pos_; }

  private:
    std::string message_;
    SourcePos pos_;
};

class Value;
struct ListData;
struct DictData;
class Object;
struct Function;

struct UndefinedData {
    std::string hint;  // the error raised when the value is used: "'x' is undefined"
};
struct NoneData {};
// markupsafe.Markup: a str marked safe (`|safe`, `|escape`). It behaves as a string, except
// that plain strings combined with it are HTML-escaped (Markup + str escapes the str).
struct MarkupData {
    std::string text;
};

class Value {
  public:
    enum class Kind { Undefined, None, Bool, Int, Float, String, List, Dict, Object, Function };

    Value() : v_(UndefinedData{}) {}
    static Value undefined(std::string hint = "value is undefined") {
        return Value(UndefinedData{std::move(hint)});
    }
    static Value none() { return Value(NoneData{}); }
    Value(bool b) : v_(b) {}
    Value(int64_t i) : v_(i) {}
    Value(int i) : v_(static_cast<int64_t>(i)) {}
    Value(double f) : v_(f) {}
    Value(std::string s) : v_(std::move(s)) {}
    Value(const char* s) : v_(std::string(s)) {}
    // Wrapping a container records its nesting depth; deeper than kMaxNesting throws Error
    // (so hostile templates or inputs cannot exhaust the stack when printing or freeing).
    Value(std::shared_ptr<ListData> l);
    Value(std::shared_ptr<DictData> d);
    Value(std::shared_ptr<Object> o);
    static constexpr int kMaxNesting = 512;
    Value(std::shared_ptr<Function> f) : v_(std::move(f)) {}

    static Value markup(std::string text) { return Value(MarkupData{std::move(text)}); }
    static Value list(std::vector<Value> items);
    static Value tuple(std::vector<Value> items);
    static Value from_json(const nlohmann::json& j);
    static Value from_json(const nlohmann::ordered_json& j);

    Kind kind() const { return v_.index() == kMarkupIndex ? Kind::String : static_cast<Kind>(v_.index()); }
    bool is_markup() const { return v_.index() == kMarkupIndex; }
    bool is_undefined() const { return kind() == Kind::Undefined; }
    bool is_none() const { return kind() == Kind::None; }
    bool is_bool() const { return kind() == Kind::Bool; }
    bool is_int() const { return kind() == Kind::Int; }
    bool is_float() const { return kind() == Kind::Float; }
    bool is_number() const { return is_int() || is_float() || is_bool(); }  // Python: bool is an int
    bool is_string() const { return kind() == Kind::String; }
    bool is_list() const { return kind() == Kind::List; }  // list or tuple
    bool is_dict() const { return kind() == Kind::Dict; }
    bool is_object() const { return kind() == Kind::Object; }
    bool is_function() const { return kind() == Kind::Function; }
    bool is_tuple() const;

    bool as_bool() const { return std::get<bool>(v_); }
    int64_t as_int() const;    // int or bool
    double as_double() const;  // int, bool or float
    const std::string& as_string() const {
        return is_markup() ? std::get<MarkupData>(v_).text : std::get<std::string>(v_);
    }
    const ListData& as_list() const { return *std::get<std::shared_ptr<ListData>>(v_); }
    const DictData& as_dict() const { return *std::get<std::shared_ptr<DictData>>(v_); }
    const std::shared_ptr<Object>& as_object() const { return std::get<std::shared_ptr<Object>>(v_); }
    const Function& as_function() const { return *std::get<std::shared_ptr<Function>>(v_); }
    const std::string& undefined_hint() const { return std::get<UndefinedData>(v_).hint; }

    // Python truthiness (Undefined is false).
    bool truthy() const;
    // Python type name, as in Python's error messages: str, int, float, bool, NoneType, list, ...
    std::string type_name() const;
    // Python str() and repr(). Undefined prints as "" (str) and "Undefined" (repr).
    std::string str() const;
    std::string repr() const;

    // Raises the UndefinedError this value carries; call when an operation needs a real value.
    [[noreturn]] void fail_undefined() const;

    // Levels of containers/objects inside this value (0 for scalars).
    int nesting_depth() const;

  private:
    explicit Value(UndefinedData u) : v_(std::move(u)) {}
    explicit Value(NoneData n) : v_(n) {}
    explicit Value(MarkupData m) : v_(std::move(m)) {}
    static constexpr size_t kMarkupIndex = 10;

    std::variant<UndefinedData, NoneData, bool, int64_t, double, std::string, std::shared_ptr<ListData>,
                 std::shared_ptr<DictData>, std::shared_ptr<Object>, std::shared_ptr<Function>, MarkupData>
        v_;
};

struct ListData {
    std::vector<Value> items;
    bool is_tuple = false;
    int depth = 1;  // set when wrapped in a Value
};

// Insertion-ordered mapping with Python key equality (1 == 1.0 == True).
struct DictData {
    std::vector<std::pair<Value, Value>> items;
    int depth = 1;  // set when wrapped in a Value
    const Value* find(const Value& key) const;
    void set(const Value& key, Value value);
};

// Attribute-bearing objects: namespace(), the loop variable, bound methods' owners.
class Object {
  public:
    virtual ~Object() = default;
    virtual std::string type_name() const = 0;
    // Undefined when the attribute does not exist.
    virtual Value get_attr(const std::string& name) const = 0;
    virtual std::string repr() const { return std::string("<").append(type_name()).append(" object>"); }
    // Only namespace() objects accept `{% set ns.attr = value %}`.
    virtual bool set_attr(const std::string& name, Value value);
    int depth = 1;  // nesting depth of what the object holds, plus one
};

// namespace(...): the one mutable object templates can write to.
class Namespace : public Object {
  public:
    std::string type_name() const override { return "Namespace"; }
    Value get_attr(const std::string& name) const override;
    std::string repr() const override;
    bool set_attr(const std::string& name, Value value) override;
    DictData attrs;
};

struct CallArgs {
    std::vector<Value> args;
    std::vector<std::pair<std::string, Value>> kwargs;
};

// Builtin functions, bound methods, macros. Throws Error on bad arguments.
struct Function {
    std::string name;
    std::function<Value(CallArgs&)> call;
};

Value make_function(std::string name, std::function<Value(CallArgs&)> call);

// Python ==, and the ordering used by <, sorted(), min() and max() (throws on unorderable types).
bool values_equal(const Value& a, const Value& b);
int values_compare(const Value& a, const Value& b);

}  // namespace ember::jinja
