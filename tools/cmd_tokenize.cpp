// `ember tokenize MODEL` (text -> ids) and `ember detokenize MODEL` (ids -> text) with the
// tokenizer embedded in a .ember file (or a bare tokenizer.json / tokenizer.model).
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "runtime/model.h"
#include "tools/commands.h"

namespace ember::cli {
namespace {

std::string read_all(std::istream& in) {
    return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string read_text_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    return read_all(in);
}

// The tokenizer of MODEL: a .ember file's embedded one, or a tokenizer file given directly.
struct LoadedTokenizer {
    std::unique_ptr<Model> model;    // when MODEL is a .ember file
    std::unique_ptr<Tokenizer> own;  // when MODEL is a tokenizer file
    const Tokenizer* tok = nullptr;
    int64_t bos_token_id = -1;
};

LoadedTokenizer load_tokenizer(const std::string& path) {
    LoadedTokenizer t;
    if (path.ends_with(".json") || path.ends_with(".model")) {
        const std::string bytes = read_text_file(path);
        try {
            t.own = path.ends_with(".json") ? make_bpe_tokenizer(bytes) : make_sentencepiece_tokenizer(bytes);
        } catch (const TokenizerError& e) {
            throw std::runtime_error(path + ": " + e.what());
        }
        t.tok = t.own.get();
        return t;
    }
    t.model = Model::load(path);
    t.tok = t.model->tokenizer();
    if (!t.tok)
        throw std::runtime_error(path + " embeds no tokenizer Ember can use (kind '" +
                                 t.model->tokenizer_info().kind + "')");
    t.bos_token_id = t.model->tokenizer_info().bos_token_id;
    return t;
}

struct TokenizeFlags {
    std::string model, file, prompt;
    bool bos = false, no_special = false;
};

int run_tokenize(const TokenizeFlags& f, const CLI::App& sub) {
    LoadedTokenizer t = load_tokenizer(f.model);
    const std::string text = sub.count("--prompt") ? f.prompt
                             : !f.file.empty()     ? read_text_file(f.file)
                                                   : read_all(std::cin);
    std::vector<int32_t> ids;
    if (f.bos) {
        if (t.bos_token_id < 0)
            throw std::runtime_error("--bos: " + f.model +
                                     " names no BOS token (a .ember model says which id it is)");
        ids.push_back(int32_t(t.bos_token_id));
    }
    EncodeOptions opts;
    opts.allow_special = !f.no_special;
    try {
        const auto body = t.tok->encode(text, opts);
        ids.insert(ids.end(), body.begin(), body.end());
    } catch (const TokenizerError& e) {
        throw std::runtime_error(std::string("cannot tokenize the input: ") + e.what());
    }
    std::string line;
    for (size_t i = 0; i < ids.size(); ++i) {
        if (i) line += ',';
        line += std::to_string(ids[i]);
    }
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stdout);
    return 0;
}

struct DetokenizeFlags {
    std::string model, ids;
    bool skip_special = false;
};

// "1,2, 3\n4" -> {1, 2, 3, 4}; any mix of commas and whitespace separates.
std::vector<int32_t> parse_id_list(const std::string& s, int64_t vocab_size) {
    std::vector<int32_t> ids;
    size_t i = 0;
    while (i < s.size()) {
        if (s[i] == ',' || std::isspace(static_cast<unsigned char>(s[i]))) {
            ++i;
            continue;
        }
        size_t j = i;
        while (j < s.size() && s[j] != ',' && !std::isspace(static_cast<unsigned char>(s[j]))) ++j;
        const std::string item = s.substr(i, j - i);
        size_t used = 0;
        long long v = -1;
        try {
            v = std::stoll(item, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used != item.size() || v < 0 || v >= vocab_size)
            throw std::invalid_argument("'" + item + "' is not a token id (expected integers 0.." +
                                        std::to_string(vocab_size - 1) + " separated by commas or spaces)");
        ids.push_back(int32_t(v));
        i = j;
    }
    return ids;
}

int run_detokenize(const DetokenizeFlags& f, const CLI::App& sub) {
    LoadedTokenizer t = load_tokenizer(f.model);
    const std::string list = sub.count("--ids") ? f.ids : read_all(std::cin);
    const std::vector<int32_t> ids = parse_id_list(list, t.tok->vocab_size());
    DecodeOptions opts;
    opts.skip_special = f.skip_special;
    const std::string text = t.tok->decode(ids, opts);
    std::fwrite(text.data(), 1, text.size(), stdout);
    return 0;
}

}  // namespace

Command add_tokenize_command(CLI::App& app) {
    auto f = std::make_shared<TokenizeFlags>();
    CLI::App* sub =
        app.add_subcommand("tokenize", "Print the token ids of a text (stdin, -f FILE or -p TEXT)");
    sub->add_option("model", f->model, "Model file (.ember), or a tokenizer.json / tokenizer.model")
        ->required()
        ->check(CLI::ExistingFile);
    auto* pf = sub->add_option("-f,--file", f->file, "Read the text from a file (default: stdin, all of it)")
                   ->check(CLI::ExistingFile);
    sub->add_option("-p,--prompt", f->prompt, "The text itself")->excludes(pf);
    sub->add_flag("--bos", f->bos, "Put the model's BOS id first");
    sub->add_flag("--no-special", f->no_special,
                  "Treat special tokens written in the text (<|im_start|>) as plain text");
    return {sub, [f, sub] { return run_tokenize(*f, *sub); }};
}

Command add_detokenize_command(CLI::App& app) {
    auto f = std::make_shared<DetokenizeFlags>();
    CLI::App* sub = app.add_subcommand("detokenize", "Print the text of token ids (stdin or --ids)");
    sub->add_option("model", f->model, "Model file (.ember), or a tokenizer.json / tokenizer.model")
        ->required()
        ->check(CLI::ExistingFile);
    sub->add_option("--ids", f->ids, "Ids separated by commas or spaces (default: read stdin)");
    sub->add_flag("--skip-special", f->skip_special, "Leave special tokens (<|im_end|>) out of the text");
    return {sub, [f, sub] { return run_detokenize(*f, *sub); }};
}

}  // namespace ember::cli
