// Unit tests of the compact vocabulary / merge tables and the SAX tokenizer.json reader that
// fills them: lookups of present and absent tokens, merge ranks, file-order independence, and
// bad input (truncated JSON, wrong types) rejected with an error naming the problem.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/token_tables.h"
#include "tokenizer/tokenizer_json_reader.h"

using namespace ember;
using nlohmann::json;
using Ids = std::vector<int32_t>;

namespace {

// A hand-written character-level BPE (no pre-tokenizer, no decoder): "a b" -> "ab", then
// ["ab", "c"] -> "abc" in the list form; id 5 is a hole, id 6 an added special token.
const char* kTinyTokenizer = R"({
  "version": "1.0",
  "added_tokens": [{"id": 6, "content": "<|end|>", "special": true}],
  "normalizer": null,
  "pre_tokenizer": null,
  "decoder": {"type": "Fuse"},
  "model": {
    "type": "BPE",
    "dropout": null,
    "unk_token": null,
    "vocab": {"a": 0, "b": 1, "c": 2, "ab": 3, "abc": 4},
    "merges": ["#version: 0.2", "a b", ["ab", "c"]],
    "byte_fallback": false
  }
})";

// The message of the TokenizerError f throws ("" when it throws none).
template <typename F>
std::string error_of(F f) {
    try {
        f();
    } catch (const TokenizerError& e) {
        return e.what();
    }
    return "";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::string reader_error(const std::string& text) {
    return error_of([&] { read_tokenizer_json(text); });
}

std::string loader_error(const std::string& text) {
    return error_of([&] { BpeTokenizer tok(text); });
}

}  // namespace

TEST_CASE("TokenTable: present and absent strings, replaced ids, growth past its first size") {
    TokenTable t;
    CHECK(t.find("a") == -1);  // empty table
    for (int k = 0; k < 5000; ++k) t.insert("tok" + std::to_string(k), k * 3);
    t.insert("", 7);  // the empty string is a string like any other
    t.shrink_to_fit();
    CHECK(t.size() == 5001);
    for (int k = 0; k < 5000; ++k) REQUIRE(t.find("tok" + std::to_string(k)) == k * 3);
    CHECK(t.find("") == 7);
    CHECK(t.find("tok5000") == -1);
    CHECK(t.find("tok") == -1);
    CHECK(t.find("tok12x") == -1);
    t.insert("tok12", 99);  // a duplicate replaces the id, the entry stays
    CHECK(t.find("tok12") == 99);
    CHECK(t.size() == 5001);
    CHECK(t.text(12) == "tok12");
    CHECK(t.id(12) == 99);
    // The text plus ~8 bytes per entry and its share of the slots: well under the ~70 bytes of
    // heap node + std::string per entry of an unordered_map<std::string, int32_t>.
    CHECK(t.memory_bytes() < 5001 * 32);
}

TEST_CASE("TokenTable bulk loading: append, then one index; a repeated string keeps the later id") {
    TokenTable t;
    t.append("x", 0);
    t.append("y", 1);
    t.append("x", 2);  // as a JSON object's repeated key: the later value wins
    for (int k = 0; k < 3000; ++k) t.append(std::string("w").append(std::to_string(k)), 10 + k);
    t.build_index();
    CHECK(t.find("x") == 2);
    CHECK(t.find("y") == 1);
    CHECK(t.find("w2999") == 3009);
    CHECK(t.find("w3000") == -1);
    CHECK(t.id(0) == 2);
    CHECK(t.id(2) == -1);  // the repeat's own entry is dead
    t.insert("z", 5);  // inserting afterwards works as usual
    CHECK(t.find("z") == 5);
    CHECK(t.find("x") == 2);
}

TEST_CASE("PairMap: ranks and merged ids by (left, right), absent pairs, later duplicates win") {
    PairMap m;
    CHECK(m.find(0, 1) == nullptr);
    m.reserve(3);
    for (int32_t k = 0; k < 1000; ++k) m.insert(k, k + 1, {uint32_t(k), 5000 + k});  // grows past 3
    CHECK(m.size() == 1000);
    for (int32_t k = 0; k < 1000; ++k) {
        const PairMap::Merge* hit = m.find(k, k + 1);
        REQUIRE(hit != nullptr);
        CHECK(hit->rank == uint32_t(k));
        CHECK(hit->new_id == 5000 + k);
    }
    CHECK(m.find(1, 0) == nullptr);  // order matters
    CHECK(m.find(999, 999) == nullptr);
    CHECK(m.find(-1, -1) == nullptr);  // the packed key of (-1, -1) is the empty marker
    m.insert(3, 4, {7, 42});
    CHECK(m.size() == 1000);
    CHECK(m.find(3, 4)->rank == 7);
    CHECK(m.find(3, 4)->new_id == 42);
}

TEST_CASE("PackedStrings: strings by number, empty ones included") {
    const std::vector<std::string> items = {"x", "", "hello", "\xC4\xA0the", ""};
    PackedStrings p;
    p.build(items.size(), [&](size_t k) -> std::string_view { return items[k]; });
    REQUIRE(p.size() == items.size());
    for (size_t k = 0; k < items.size(); ++k) CHECK(p[k] == items[k]);
}

TEST_CASE("read_tokenizer_json: vocab and merges go to the tables, the rest to the DOM") {
    TokenizerJson f = read_tokenizer_json(kTinyTokenizer);
    REQUIRE(f.has_vocab);
    REQUIRE(f.has_merges);
    CHECK(f.vocab.size() == 5);
    CHECK(f.vocab.find("a") == 0);
    CHECK(f.vocab.find("abc") == 4);
    CHECK(f.vocab.find("ba") == -1);
    CHECK(f.vocab.find("<|end|>") == -1);  // added tokens are not in model.vocab
    CHECK(f.max_vocab_id == 4);
    REQUIRE(f.merges.size() == 2);  // the "#version" line is not a merge
    CHECK(f.merges.left(0) == "a");
    CHECK(f.merges.right(0) == "b");
    CHECK(f.merges.merged(0) == "ab");
    CHECK(f.merges.left(1) == "ab");
    CHECK(f.merges.right(1) == "c");
    CHECK(f.merges.merged(1) == "abc");
    // The DOM keeps everything else, and nothing of vocab and merges.
    CHECK(f.rest["model"]["type"] == "BPE");
    CHECK(f.rest["model"]["byte_fallback"] == false);
    CHECK(f.rest["model"]["dropout"].is_null());
    CHECK(!f.rest["model"].contains("vocab"));
    CHECK(!f.rest["model"].contains("merges"));
    CHECK(f.rest["added_tokens"][0]["content"] == "<|end|>");
    CHECK(f.rest["decoder"]["type"] == "Fuse");
    CHECK(f.rest["version"] == "1.0");
    // A "vocab" or "merges" key elsewhere is ordinary data.
    TokenizerJson g = read_tokenizer_json(R"({"x": {"vocab": {"a": 1}, "merges": [1]}, "model": {}})");
    CHECK(!g.has_vocab);
    CHECK(!g.has_merges);
    CHECK(g.rest["x"]["vocab"]["a"] == 1);
    CHECK(g.rest["x"]["merges"][0] == 1);
}

TEST_CASE("the tiny tokenizer encodes, decodes and looks tokens up through the compact tables") {
    BpeTokenizer tok(kTinyTokenizer);
    CHECK(tok.vocab_size() == 7);
    CHECK(tok.encode("abc") == Ids{4});
    CHECK(tok.encode("cab") == Ids{2, 3});
    CHECK(tok.encode("ab<|end|>c") == Ids{3, 6, 2});
    CHECK(tok.decode(Ids{4, 2, 6}) == "abcc<|end|>");
    CHECK(tok.decode(Ids{4, 5, 99, -1}) == "abc");  // a hole and unknown ids decode to nothing
    CHECK(tok.token_to_id("ab") == 3);
    CHECK(tok.token_to_id("<|end|>") == 6);
    CHECK(!tok.token_to_id("ba"));
    CHECK(tok.id_to_token(4) == "abc");
    CHECK(tok.id_to_token(6) == "<|end|>");
    CHECK(!tok.id_to_token(5));
    CHECK(!tok.id_to_token(7));
    CHECK(tok.is_special(6));
    CHECK(!tok.is_special(4));
}

TEST_CASE("a token repeated in the vocabulary takes its later id, as a JSON object's key does") {
    json j = json::parse(kTinyTokenizer);
    std::string text = j.dump();
    const std::string vocab = R"("vocab":{"a":0,)";
    REQUIRE(text.find(vocab) != std::string::npos);
    text.replace(text.find(vocab), vocab.size(), R"("vocab":{"c":5,"a":0,)");  // "c" at 5, then at 2
    BpeTokenizer tok(text);
    CHECK(tok.token_to_id("c") == 2);
    CHECK(tok.id_to_token(2) == "c");
    CHECK(!tok.id_to_token(5));  // 5 stays a hole
    CHECK(tok.vocab_size() == 7);
    CHECK(tok.encode("abcc") == Ids{4, 2});
}

TEST_CASE("merges listed before the vocabulary give the same tokenizer") {
    json j = json::parse(kTinyTokenizer);
    // nlohmann's DOM keeps keys sorted: "merges" < "vocab", so the dump lists merges first.
    const std::string text = j.dump();
    REQUIRE(text.find("\"merges\"") < text.find("\"vocab\""));
    BpeTokenizer tok(text);
    CHECK(tok.encode("abcab") == Ids{4, 3});
}

TEST_CASE("truncated tokenizer.json: every prefix is rejected as not parsing") {
    const std::string full = kTinyTokenizer;
    for (size_t n = 0; n < full.size(); ++n) {
        const std::string prefix = full.substr(0, n);
        if (prefix.find_first_not_of(" \n") == std::string::npos && n > 0) continue;
        INFO("prefix of " << n << " bytes");
        const std::string e = reader_error(prefix);
        CHECK(contains(e, "tokenizer.json does not parse"));
    }
    CHECK(contains(reader_error(full + "}"), "does not parse"));  // trailing garbage
}

TEST_CASE("wrong types in vocab and merges are rejected naming the entry") {
    const std::string head = R"({"model": {"type": "BPE", )";
    auto vocab_error = [&](const std::string& vocab) {
        return loader_error(head + R"("merges": [], "vocab": )" + vocab + "}}");
    };
    for (const char* bad : {R"({"a": 0, "b": "1"})", R"({"a": 0, "b": -1})", R"({"a": 0, "b": 1.5})",
                            R"({"a": 0, "b": 2147483648})", R"({"a": 0, "b": null})", R"({"a": 0, "b": [1]})",
                            R"({"a": 0, "b": {"id": 1}})", R"({"a": 0, "b": true})"}) {
        INFO(bad);
        CHECK(contains(vocab_error(bad), "vocab entry \"b\" has no valid id"));
    }
    CHECK(vocab_error(R"({"a": 0, "b": 60000})").empty());  // holes are fine
    CHECK(contains(vocab_error(R"({"a": 0, "b": 2147483647})"),
                   "token id 2147483647 is far beyond its 2 tokens"));  // not gigabytes of tables
    CHECK(contains(vocab_error("[]"), "model has no \"vocab\" object"));
    CHECK(contains(vocab_error("\"a\""), "model has no \"vocab\" object"));

    auto merges_error = [&](const std::string& merges) {
        return loader_error(head + R"("vocab": {"a": 0, "b": 1, "ab": 2}, "merges": )" + merges + "}}");
    };
    CHECK(merges_error(R"(["a b", ["a", "b"]])").empty());
    CHECK(contains(merges_error(R"(["a b", "ab"])"), "merge 2 \"ab\" is not two tokens separated by one space"));
    CHECK(contains(merges_error(R"(["a b c"])"), "merge 1 \"a b c\" is not two tokens separated by one space"));
    CHECK(contains(merges_error(R"(["a b", 3])"), "merge 2 is a number"));
    CHECK(contains(merges_error(R"([null])"), "merge 1 is null"));
    CHECK(contains(merges_error(R"([{"a": "b"}])"), "merge 1 is an object"));
    CHECK(contains(merges_error(R"([["a", "b", "c"]])"), "merge 1 is a list of more than two tokens"));
    CHECK(contains(merges_error(R"([["a"]])"), "merge 1 is a list of 1 tokens"));
    CHECK(contains(merges_error(R"([["a", ["b"]]])"), "merge 1 is a nested list"));
    CHECK(contains(merges_error(R"([["a", 1]])"), "merge 1 is a number"));
    CHECK(contains(merges_error(R"(["a zz"])"), "merge 1: token \"zz\" is not in the vocabulary"));
    CHECK(contains(merges_error(R"({"a": "b"})"), "model has no \"merges\" list"));

    CHECK(contains(loader_error(R"([1, 2])"), "is not a JSON object"));
    CHECK(contains(loader_error(R"({"model": 3})"), "has no \"model\" object"));
    CHECK(contains(loader_error(R"({"model": {"type": "Unigram", "vocab": []}})"), "\"Unigram\" is not supported"));
    CHECK(contains(loader_error(head + R"("vocab": {}, "merges": [], "vocab": {}}})"), "two \"vocab\" objects"));
}
