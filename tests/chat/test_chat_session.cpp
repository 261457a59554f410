// ChatSession (runtime/chat_session.h) on a random Qwen2-tiny model with a ChatML template
// (tests/chat/make_chat_model.py, built by meson into EMBER_CHAT_MODEL): the history is
// rendered with the template, reusing the cached prefix gives the tokens (and logits) of a
// full re-prefill, /reset forgets, a too-long conversation is refused with history intact.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "runtime/chat_session.h"

using namespace ember;
using json = nlohmann::ordered_json;

namespace {

const Model& chat_model() {
    static std::unique_ptr<Model> model = [] {
        const char* path = std::getenv("EMBER_CHAT_MODEL");
        REQUIRE_MESSAGE(path != nullptr, "EMBER_CHAT_MODEL is not set (run through meson test)");
        return Model::load(path);
    }();
    return *model;
}

ChatSessionOptions greedy(int64_t max_new = 12) {
    ChatSessionOptions o;
    o.context = 512;
    o.max_new_tokens = max_new;
    o.sampling.temperature = 0;
    return o;
}

// Asks and collects the streamed text.
std::string ask(ChatSession& s, const std::string& q, ChatTurnStats* stats = nullptr) {
    std::string text;
    ChatTurnStats st = s.ask(q, [&](std::string_view piece) {
        text += piece;
        return true;
    });
    if (stats) *stats = st;
    return text;
}

bool starts_with(const std::vector<int32_t>& a, const std::vector<int32_t>& prefix) {
    return prefix.size() <= a.size() && std::equal(prefix.begin(), prefix.end(), a.begin());
}

const std::vector<std::string> kQuestions = {"Hello, who are you?", "What is 12 + 30?", "Tell me a story.",
                                             "Thanks!"};

}  // namespace

TEST_CASE("the model's ChatML template and end-of-turn token are found") {
    ChatFormat f(chat_model());
    const json m = single_turn_messages("Be brief.", "Hi");
    CHECK(f.render(m, true) ==
          "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
          "<|im_start|>assistant\n");
    const auto im_end = chat_model().tokenizer()->encode("<|im_end|>");
    REQUIRE(im_end.size() == 1);
    CHECK(f.is_stop(im_end[0]));
    const auto ids = f.encode(m);
    CHECK(std::count(ids.begin(), ids.end(), im_end[0]) == 2);  // specials are single ids, no BOS
}

TEST_CASE("history: every turn is rendered with the template; --no-history asks alone") {
    ChatSessionOptions o = greedy();
    o.system = "You are terse.";
    ChatSession s(chat_model(), o);
    const std::string a1 = ask(s, "First question");
    const json m = s.messages();
    REQUIRE(m.size() == 3);
    CHECK(m[0]["role"] == "system");
    CHECK(m[1]["content"] == "First question");
    CHECK(m[2]["role"] == "assistant");
    CHECK(m[2]["content"] == a1);  // the history holds what was streamed
    CHECK(s.last_answer_ids().size() == size_t(s.last_stats().n_generated));

    json expected = m;
    expected.push_back({{"role", "user"}, {"content", "Second"}});
    CHECK(s.prompt_ids("Second") == s.format().encode(expected, true));
    const std::string text = s.format().render(expected, true);
    CHECK(text.find("<|im_start|>user\nFirst question<|im_end|>\n<|im_start|>assistant\n" + a1) !=
          std::string::npos);

    o.keep_history = false;
    ChatSession alone(chat_model(), o);
    ask(alone, "First question");
    CHECK(alone.messages().size() == 1);  // just the system prompt
    CHECK(alone.prompt_ids("Second") ==
          alone.format().encode(single_turn_messages("You are terse.", "Second")));
}

TEST_CASE("prefix reuse: same answers as re-prefilling the whole conversation every turn") {
    ChatSessionOptions o = greedy();
    ChatSession reuse(chat_model(), o);
    o.reuse_cache = false;
    ChatSession full(chat_model(), o);
    int turns_reused = 0;
    for (const auto& q : kQuestions) {
        const std::vector<int32_t> before = reuse.cached_ids();
        const std::vector<int32_t> prompt = reuse.prompt_ids(q);
        ChatTurnStats sr, sf;
        const std::string ar = ask(reuse, q, &sr);
        const std::string af = ask(full, q, &sf);
        CAPTURE(q);
        CHECK(ar == af);
        CHECK(reuse.last_answer_ids() == full.last_answer_ids());
        CHECK(sf.n_reused == 0);
        // Reused exactly when the new prompt extends the cached ids (and then all of them).
        const bool extends = !before.empty() && before.size() < prompt.size() && starts_with(prompt, before);
        CHECK(sr.n_reused == (extends ? int64_t(before.size()) : 0));
        CHECK(sr.n_prompt == int64_t(prompt.size()));
        turns_reused += sr.n_reused > 0;
        // The cache holds the prompt and the answer but its last id.
        CHECK(reuse.cached_ids().size() == prompt.size() + reuse.last_answer_ids().size() - 1);
        CHECK(starts_with(reuse.cached_ids(), prompt));
    }
    CHECK(turns_reused >= 1);  // ChatML turns start with <|im_start|>: earlier turns' ids stay a prefix
}

TEST_CASE("prefix reuse: logits of cached prefix + suffix equal a full forward of the prompt") {
    // The first turn whose prompt extends the cache (as in the session) is the case to check.
    ChatSession s(chat_model(), greedy());
    std::vector<int32_t> cached, prompt;
    for (const auto& q : kQuestions) {
        prompt = s.prompt_ids(q);
        cached = s.cached_ids();
        if (!cached.empty() && cached.size() < prompt.size() && starts_with(prompt, cached)) break;
        ask(s, q);
        cached.clear();
    }
    REQUIRE_MESSAGE(!cached.empty(), "no turn extended the cache (see the previous test)");

    const Model& m = chat_model();
    const ModelConfig& c = m.config();
    KvCacheShape shape{int(c.n_layers), int(c.n_kv_heads), int(c.head_dim), 16};
    KvBlockPool pool(shape, 64);
    LlamaGraph graph(m, 512);
    std::vector<float> split(size_t(c.vocab_size)), whole(size_t(c.vocab_size));
    {
        SequenceKv seq(pool);
        graph.forward(cached, seq, split.data());
        graph.forward(std::span<const int32_t>(prompt).subspan(cached.size()), seq, split.data());
    }
    {
        SequenceKv seq(pool);
        graph.forward(prompt, seq, whole.data());
    }
    float worst = 0, scale = 0;
    for (size_t i = 0; i < split.size(); ++i) {
        worst = std::max(worst, std::fabs(split[i] - whole[i]));
        scale = std::max(scale, std::fabs(whole[i]));
    }
    CAPTURE(worst);
    CAPTURE(scale);
    CHECK(worst <= 2e-3f * std::max(scale, 1.0f));
    CHECK(std::max_element(split.begin(), split.end()) - split.begin() ==
          std::max_element(whole.begin(), whole.end()) - whole.begin());
}

TEST_CASE("/reset forgets the conversation and the cache; the same question gets the same answer") {
    ChatSessionOptions o = greedy();
    o.system = "Stay calm.";
    ChatSession s(chat_model(), o);
    const std::string first = ask(s, kQuestions[0]);
    ask(s, kQuestions[1]);
    REQUIRE(s.messages().size() == 5);
    s.reset();
    CHECK(s.messages().size() == 1);
    CHECK(s.messages()[0]["content"] == "Stay calm.");
    CHECK(s.cached_ids().empty());
    ChatTurnStats st;
    CHECK(ask(s, kQuestions[0], &st) == first);
    CHECK(st.n_reused == 0);
    s.set_system("");
    CHECK(s.messages()[0]["role"] == "user");
}

TEST_CASE("a conversation longer than the context is refused, history unchanged") {
    ChatSessionOptions o = greedy(4);
    o.context = 96;
    ChatSession s(chat_model(), o);
    ask(s, "Hi");
    const json before = s.messages();
    std::string long_q;
    for (int i = 0; i < 100; ++i) long_q += "word ";
    CHECK_THROWS_AS(ask(s, long_q), ContextOverflow);
    try {
        ask(s, long_q);
    } catch (const ContextOverflow& e) {
        CHECK(std::string(e.what()).find("context holds 96") != std::string::npos);
    }
    CHECK(s.messages() == before);
    ChatTurnStats st;
    ask(s, "ok", &st);  // still usable
    CHECK(st.n_generated >= 1);
}

TEST_CASE("an answer that fills the context says so") {
    ChatSessionOptions o = greedy(1000);
    o.context = 40;
    ChatSession s(chat_model(), o);
    ChatTurnStats st;
    ask(s, "Hi", &st);
    REQUIRE(!st.end_of_turn);  // this random model does not say <|im_end|> that soon
    CHECK(st.context_full);
    CHECK(st.n_prompt + st.n_generated == 40);
}

TEST_CASE("on_text returning false stops the answer; what was said stays in the history") {
    ChatSession s(chat_model(), greedy(40));
    int calls = 0;
    std::string text;
    const ChatTurnStats st = s.ask("Talk", [&](std::string_view piece) {
        text += piece;
        return ++calls < 3;
    });
    CHECK(st.interrupted);
    CHECK(st.n_generated == 3);
    CHECK(s.messages().back()["content"] == text);
}

TEST_CASE("a model without a chat template is refused with a pointer to run --raw") {
    const char* path = std::getenv("EMBER_CHAT_MODEL_NO_TEMPLATE");
    REQUIRE(path != nullptr);
    auto m = Model::load(path);
    CHECK_THROWS_WITH_AS(ChatSession(*m, greedy()), doctest::Contains("ember run --raw"), NoChatTemplate);
}
