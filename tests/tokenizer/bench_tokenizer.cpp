// Encode throughput of Ember's tokenizers (a benchmark, not a test).
//   bench_tokenizer TOKENIZER INPUT... [--runs N]
// TOKENIZER: tokenizer.json (BPE) or tokenizer.model (SentencePiece). INPUT: a .jsonl corpus
// (one JSON string per line, each encoded separately) or any other file (encoded whole, as
// `ember perplexity` does). Per input: the load time, then the first run on a fresh
// tokenizer (cold word cache) and the mean ± stddev of N more runs (default 5), in MB/s of
// UTF-8 input (1 MB = 10^6 bytes), single thread.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace {

using Clock = std::chrono::steady_clock;

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    int runs = 5;
    for (size_t k = 0; k + 1 < args.size(); ++k)
        if (args[k] == "--runs") {
            runs = std::max(1, std::atoi(args[k + 1].c_str()));
            args.erase(args.begin() + long(k), args.begin() + long(k) + 2);
            break;
        }
    if (args.size() < 2) {
        std::fprintf(stderr, "usage: %s TOKENIZER INPUT... [--runs N]\n", argv[0]);
        return 2;
    }
    try {
        const std::string tok_path = args[0];
        const std::string tok_bytes = read_file(tok_path);
        auto load = [&] {
            return tok_path.ends_with(".model") ? ember::make_sentencepiece_tokenizer(tok_bytes)
                                                : ember::make_bpe_tokenizer(tok_bytes);
        };
        auto t0 = Clock::now();
        load();
        std::printf("tokenizer %s: load %.0f ms\n", tok_path.c_str(), seconds_since(t0) * 1000);
        for (size_t f = 1; f < args.size(); ++f) {
            std::vector<std::string> texts;
            if (args[f].ends_with(".jsonl")) {
                std::ifstream in(args[f], std::ios::binary);
                for (std::string line; std::getline(in, line);)
                    texts.push_back(nlohmann::json::parse(line).get<std::string>());
            } else {
                texts.push_back(read_file(args[f]));
            }
            size_t bytes = 0;
            for (const auto& t : texts) bytes += t.size();
            auto tok = load();
            size_t n_ids = 0;
            auto run_once = [&] {
                n_ids = 0;
                const auto start = Clock::now();
                for (const auto& t : texts) n_ids += tok->encode(t).size();
                return seconds_since(start);
            };
            const double cold = run_once();
            std::vector<double> mbs;
            for (int r = 0; r < runs; ++r) mbs.push_back(bytes / 1e6 / run_once());
            double mean = 0, var = 0;
            for (double v : mbs) mean += v / double(mbs.size());
            for (double v : mbs) var += (v - mean) * (v - mean) / double(std::max<size_t>(1, mbs.size() - 1));
            std::printf(
                "%s: %zu strings, %.2f MB, %zu ids (%.2f bytes/id): cold %.1f MB/s, warm %.1f ± %.1f MB/s "
                "(%d runs)\n",
                args[f].c_str(), texts.size(), bytes / 1e6, n_ids,
                double(bytes) / double(std::max<size_t>(1, n_ids)), bytes / 1e6 / cold, mean, std::sqrt(var),
                runs);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_tokenizer: %s\n", e.what());
        return 1;
    }
    return 0;
}
