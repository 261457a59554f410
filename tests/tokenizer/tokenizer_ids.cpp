// Test helper: encode a corpus with Ember's tokenizer, one output line per input line.
//   tokenizer_ids TOKENIZER CORPUS OUT [--no-special] [--check-roundtrip[-nfc]]
// TOKENIZER: a tokenizer.json (BPE) or tokenizer.model (SentencePiece). CORPUS: one JSON
// string per line. OUT: the ids of each string, space-separated, one line each (an empty
// line for no ids). --check-roundtrip: also decode and require the original text back
// (-nfc: its NFC form, for tokenizers that normalize); exit 1 naming the lines that differ.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "tokenizer/normalizer.h"
#include "tokenizer/tokenizer.h"

namespace {

std::string read_file(const char* path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error(std::string("cannot read ") + path);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: %s TOKENIZER CORPUS OUT [--no-special] [--check-roundtrip]\n", argv[0]);
        return 2;
    }
    bool allow_special = true, roundtrip = false, roundtrip_nfc = false;
    for (int k = 4; k < argc; ++k) {
        if (!std::strcmp(argv[k], "--no-special"))
            allow_special = false;
        else if (!std::strcmp(argv[k], "--check-roundtrip"))
            roundtrip = true;
        else if (!std::strcmp(argv[k], "--check-roundtrip-nfc"))
            roundtrip = roundtrip_nfc = true;
        else {
            std::fprintf(stderr, "unknown option %s\n", argv[k]);
            return 2;
        }
    }
    try {
        const std::string path = argv[1];
        const std::string bytes = read_file(argv[1]);
        auto tok = path.ends_with(".model") ? ember::make_sentencepiece_tokenizer(bytes)
                                            : ember::make_bpe_tokenizer(bytes);
        std::ifstream corpus(argv[2], std::ios::binary);
        if (!corpus) throw std::runtime_error(std::string("cannot read ") + argv[2]);
        std::ofstream out(argv[3], std::ios::binary);
        std::string line;
        size_t n = 0, roundtrip_failures = 0, total_ids = 0;
        ember::EncodeOptions opts;
        opts.allow_special = allow_special;
        while (std::getline(corpus, line)) {
            ++n;
            const std::string text = nlohmann::json::parse(line).get<std::string>();
            const auto ids = tok->encode(text, opts);
            std::string s;
            for (size_t i = 0; i < ids.size(); ++i) {
                if (i) s += ' ';
                s += std::to_string(ids[i]);
            }
            out << s << '\n';
            total_ids += ids.size();
            if (roundtrip) {
                const std::string back = tok->decode(ids);
                const std::string want =
                    roundtrip_nfc ? ember::unicode_normalize(text, ember::NormalForm::NFC) : text;
                if (back != want && roundtrip_failures++ < 5)
                    std::fprintf(stderr, "line %zu: decode(encode(text)) differs: %s\n", n,
                                 nlohmann::json(back)
                                     .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                                     .substr(0, 200)
                                     .c_str());
            }
        }
        std::fprintf(stderr, "tokenizer_ids: %zu strings, %zu ids%s\n", n, total_ids,
                     roundtrip ? (roundtrip_failures ? "" : ", all round-trip") : "");
        if (roundtrip_failures) {
            std::fprintf(stderr, "%zu of %zu strings do not round-trip\n", roundtrip_failures, n);
            return 1;
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "tokenizer_ids: %s\n", e.what());
        return 1;
    }
    return 0;
}
