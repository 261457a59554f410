// tokenizer.json SAX reader: a small DOM for the settings, compact tables for vocab and merges.
#include "tokenizer/tokenizer_json_reader.h"

#include "tokenizer/tokenizer.h"

namespace ember {

using nlohmann::json;

void MergeTexts::push(std::string_view left, std::string_view right) {
    arena_.append(left).append(right);
    if (arena_.size() > UINT32_MAX) throw TokenizerError("tokenizer.json merges exceed 4 GiB");
    start_.push_back(uint32_t(arena_.size()));
    left_size_.push_back(uint32_t(left.size()));
}

namespace {

// The SAX handler (nlohmann's json_sax interface). Outside model.vocab / model.merges it
// builds the DOM the way json::parse would: `stack_` holds the open containers, `slot_` the
// object member the next value goes to.
class Reader {
  public:
    explicit Reader(TokenizerJson& out) : out_(out) {}

    bool null() { return scalar(nullptr, "null"); }
    bool boolean(bool v) { return scalar(v, v ? "true" : "false"); }
    bool number_integer(json::number_integer_t v) {
        if (mode_ == Mode::Vocab) return vocab_id(v);
        return scalar(v, "a number");
    }
    bool number_unsigned(json::number_unsigned_t v) {
        if (mode_ == Mode::Vocab) return vocab_id(v > uint64_t(INT64_MAX) ? -1 : int64_t(v));
        return scalar(v, "a number");
    }
    bool number_float(json::number_float_t v, const std::string&) { return scalar(v, "a number"); }
    bool binary(json::binary_t&) { return scalar(nullptr, "binary data"); }

    bool string(std::string& s) {
        switch (mode_) {
            case Mode::Merges:
                return merge_line(s);
            case Mode::MergePair:
                if (pair_size_ == 0) pair_left_ = s;
                if (pair_size_ == 1) pair_right_ = s;
                if (++pair_size_ > 2) bad_merge("a list of more than two tokens");
                return true;
            case Mode::Vocab:
                bad_vocab_entry();
            case Mode::Dom:
                break;
        }
        return place(json(std::move(s)));
    }

    bool start_object(size_t) {
        if (mode_ == Mode::Vocab) bad_vocab_entry();
        if (mode_ == Mode::Merges || mode_ == Mode::MergePair) bad_merge("an object");
        if (pending_ == Pending::Vocab) {
            pending_ = Pending::None;
            if (out_.has_vocab) throw TokenizerError("tokenizer.json model has two \"vocab\" objects");
            out_.has_vocab = true;
            mode_ = Mode::Vocab;
            return true;
        }
        const bool is_model = stack_.size() == 1 && stack_.back()->is_object() && last_key_ == "model";
        json* obj = place(json::object());
        if (is_model) model_ = obj;
        stack_.push_back(obj);
        return true;
    }

    bool key(std::string& k) {
        if (mode_ == Mode::Vocab) {
            vocab_key_ = k;
            return true;
        }
        json& top = *stack_.back();
        if (&top == model_ && (k == "vocab" || k == "merges")) {
            pending_ = k == "vocab" ? Pending::Vocab : Pending::Merges;  // see place()
            return true;
        }
        if (stack_.size() == 1) last_key_ = k;
        slot_ = &top[k];
        return true;
    }

    bool end_object() {
        if (mode_ == Mode::Vocab) {
            mode_ = Mode::Dom;
            return true;
        }
        stack_.pop_back();
        return true;
    }

    bool start_array(size_t) {
        if (mode_ == Mode::Vocab) bad_vocab_entry();
        if (mode_ == Mode::MergePair) bad_merge("a nested list");
        if (mode_ == Mode::Merges) {
            mode_ = Mode::MergePair;
            pair_size_ = 0;
            return true;
        }
        if (pending_ == Pending::Merges) {
            pending_ = Pending::None;
            if (out_.has_merges) throw TokenizerError("tokenizer.json model has two \"merges\" lists");
            out_.has_merges = true;
            mode_ = Mode::Merges;
            return true;
        }
        stack_.push_back(place(json::array()));
        return true;
    }

    bool end_array() {
        if (mode_ == Mode::MergePair) {
            if (pair_size_ != 2) bad_merge("a list of " + std::to_string(pair_size_) + " tokens");
            out_.merges.push(pair_left_, pair_right_);
            mode_ = Mode::Merges;
            return true;
        }
        if (mode_ == Mode::Merges) {
            mode_ = Mode::Dom;
            return true;
        }
        stack_.pop_back();
        return true;
    }

    bool parse_error(size_t, const std::string&, const nlohmann::detail::exception& e) {
        throw TokenizerError(std::string("tokenizer.json does not parse: ") + e.what());
    }

  private:
    enum class Mode { Dom, Vocab, Merges, MergePair };
    enum class Pending { None, Vocab, Merges };  // model's "vocab"/"merges" key just seen

    // A value outside vocab and merges goes into the DOM.
    bool scalar(json v, const char* what) {
        if (mode_ == Mode::Vocab) bad_vocab_entry();
        if (mode_ == Mode::Merges || mode_ == Mode::MergePair) bad_merge(what);
        place(std::move(v));
        return true;
    }

    json* place(json v) {
        if (stack_.empty()) {
            out_.rest = std::move(v);
            return &out_.rest;
        }
        if (pending_ != Pending::None) {
            // model.vocab is not an object / model.merges not a list: keep it in the DOM so
            // the loader reports what it found.
            slot_ = &(*model_)[pending_ == Pending::Vocab ? "vocab" : "merges"];
            pending_ = Pending::None;
        }
        json& top = *stack_.back();
        if (top.is_array()) {
            top.push_back(std::move(v));
            return &top.back();
        }
        *slot_ = std::move(v);
        return slot_;
    }

    bool vocab_id(int64_t id) {
        if (id < 0 || id > INT32_MAX) bad_vocab_entry();
        out_.vocab.append(vocab_key_, int32_t(id));  // indexed once the file is read
        return true;
    }

    [[noreturn]] void bad_vocab_entry() const {
        throw TokenizerError("tokenizer.json vocab entry " + json(vocab_key_).dump() +
                             " has no valid id (an integer in [0, 2^31))");
    }

    bool merge_line(const std::string& line) {
        if (line.starts_with("#version")) return true;
        const size_t sp = line.find(' ');
        if (sp == std::string::npos || line.find(' ', sp + 1) != std::string::npos)
            throw TokenizerError("tokenizer.json merge " + std::to_string(out_.merges.size() + 1) + " " +
                                 json(line).dump() + " is not two tokens separated by one space");
        out_.merges.push(std::string_view(line).substr(0, sp), std::string_view(line).substr(sp + 1));
        return true;
    }

    [[noreturn]] void bad_merge(const std::string& found) const {
        throw TokenizerError("tokenizer.json merge " + std::to_string(out_.merges.size() + 1) + " is " + found +
                             ", neither \"a b\" nor [\"a\", \"b\"]");
    }

    TokenizerJson& out_;
    std::vector<json*> stack_;  // open DOM containers, outermost first
    json* slot_ = nullptr;
    json* model_ = nullptr;     // the DOM object of root.model
    std::string last_key_;      // the last key of the root object
    Mode mode_ = Mode::Dom;
    Pending pending_ = Pending::None;
    std::string vocab_key_;
    std::string pair_left_, pair_right_;
    size_t pair_size_ = 0;
};

}  // namespace

TokenizerJson read_tokenizer_json(std::string_view text) {
    TokenizerJson out;
    Reader reader(out);
    if (!json::sax_parse(text.data(), text.data() + text.size(), &reader))
        throw TokenizerError("tokenizer.json does not parse");
    out.vocab.shrink_to_fit();
    out.vocab.build_index();
    for (size_t k = 0; k < out.vocab.size(); ++k) out.max_vocab_id = std::max(out.max_vocab_id, out.vocab.id(k));
    return out;
}

}  // namespace ember
