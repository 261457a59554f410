// The global functions of a render: Jinja's range, dict, namespace, cycler, joiner, and HF's
// raise_exception and strftime_now.
#include <vector>

#include "runtime/jinja/builtins.h"
#include "runtime/jinja/helpers.h"

namespace ember::jinja {

using namespace detail;

namespace {

class Cycler : public Object {
  public:
    explicit Cycler(std::vector<Value> items) : items_(std::move(items)) {}
    std::string type_name() const override { return "Cycler"; }
    Value get_attr(const std::string& name) const override {
        auto self = const_cast<Cycler*>(this);
        if (name == "current") return items_.empty() ? Value::none() : items_[pos_];
        if (name == "next")
            return make_function("cycler.next", [self](CallArgs&) {
                if (self->items_.empty()) throw Error("cycler has no items");
                Value v = self->items_[self->pos_];
                self->pos_ = (self->pos_ + 1) % self->items_.size();
                return v;
            });
        if (name == "reset")
            return make_function("cycler.reset", [self](CallArgs&) {
                self->pos_ = 0;
                return Value::none();
            });
        return Value::undefined("'Cycler object' has no attribute '" + name + "'");
    }

  private:
    std::vector<Value> items_;
    size_t pos_ = 0;
};

std::string strftime_tm(const std::string& fmt, const std::tm& tm) {
    if (fmt.empty()) return "";
    std::vector<char> buf(256 + fmt.size() * 8);
    while (true) {
        size_t n = std::strftime(buf.data(), buf.size(), fmt.c_str(), &tm);
        if (n > 0 || buf.size() > (1u << 20)) return std::string(buf.data(), n);
        buf.resize(buf.size() * 4);
    }
}

}  // namespace

void add_globals(DictData& g, const std::tm& now, const std::shared_ptr<NamespaceRegistry>& namespaces) {
    g.set(Value("range"), make_function("range", [](CallArgs& a) {
              if (a.args.empty() || a.args.size() > 3) throw Error("range expected 1 to 3 arguments");
              int64_t start = 0, stop, step = 1;
              if (a.args.size() == 1) {
                  stop = need_int(a.args[0], "range argument");
              } else {
                  start = need_int(a.args[0], "range argument");
                  stop = need_int(a.args[1], "range argument");
                  if (a.args.size() == 3) step = need_int(a.args[2], "range argument");
              }
              if (step == 0) throw Error("range() arg 3 must not be zero");
              std::vector<Value> out;
              for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
                  if (out.size() >= 100000)
                      throw Error("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
                  out.emplace_back(i);
              }
              return Value::list(std::move(out));
          }));
    g.set(Value("dict"), make_function("dict", [](CallArgs& a) {
              auto d = std::make_shared<DictData>();
              if (!a.args.empty()) {
                  const Value& src = a.args[0];
                  if (src.is_dict()) {
                      *d = src.as_dict();
                  } else {
                      for (const auto& pair : iterate(src)) {
                          auto kv = iterate(pair);
                          if (kv.size() != 2)
                              throw Error("dictionary update sequence element has wrong length");
                          d->set(kv[0], kv[1]);
                      }
                  }
              }
              for (const auto& kv : a.kwargs) d->set(Value(kv.first), kv.second);
              return Value(d);
          }));
    g.set(Value("namespace"), make_function("namespace", [namespaces](CallArgs& a) {
              auto ns = std::make_shared<Namespace>();
              namespaces->push_back(ns);
              for (const auto& positional : a.args) {
                  if (!positional.is_dict()) throw Error("namespace() takes a mapping and keyword arguments");
                  for (const auto& kv : positional.as_dict().items) ns->set_attr(kv.first.str(), kv.second);
              }
              for (const auto& kv : a.kwargs) ns->set_attr(kv.first, kv.second);
              return Value(std::shared_ptr<Object>(ns));
          }));
    g.set(Value("cycler"), make_function("cycler", [](CallArgs& a) {
              return Value(std::shared_ptr<Object>(std::make_shared<Cycler>(a.args)));
          }));
    g.set(Value("joiner"), make_function("joiner", [](CallArgs& a) {
              std::string sep = arg_at(a, 0, "sep", Value(", ")).str();
              auto used = std::make_shared<bool>(false);
              return make_function("joiner", [sep, used](CallArgs&) {
                  if (!*used) {
                      *used = true;
                      return Value("");
                  }
                  return Value(sep);
              });
          }));
    g.set(Value("raise_exception"), make_function("raise_exception", [](CallArgs& a) -> Value {
              throw Error("raise_exception: " + arg_at(a, 0, "message", Value("")).str());
          }));
    g.set(Value("strftime_now"), make_function("strftime_now", [now](CallArgs& a) {
              return Value(strftime_tm(need_str(arg_at(a, 0, "format"), "strftime_now format"), now));
          }));
}

}  // namespace ember::jinja
