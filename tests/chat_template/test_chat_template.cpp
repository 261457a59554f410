// Chat templates: every construct case of constructs.json (expected text checked against
// python3-jinja2 by test_parity.py --constructs), the public API, error positions, and the
// Python-compatible number / JSON formatting. Needs nothing outside the repository.
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "runtime/chat_template.h"
#include "runtime/jinja/pyformat.h"

using ember::ChatTemplate;
using ember::ChatTemplateError;
using nlohmann::ordered_json;

namespace {

std::string source_root() {
    if (const char* r = std::getenv("EMBER_SOURCE_ROOT")) return r;
    std::string here = __FILE__;  // .../tests/chat_template/test_chat_template.cpp
    return here.substr(0, here.rfind("/tests/"));
}

std::tm fixed_time() {  // 2025-03-09 12:00:00, a Sunday (what test_parity.py passes as --now)
    std::tm tm{};
    tm.tm_year = 125;
    tm.tm_mon = 2;
    tm.tm_mday = 9;
    tm.tm_hour = 12;
    tm.tm_wday = 0;
    tm.tm_yday = 67;
    return tm;
}

std::string render(const std::string& source, const ordered_json& ctx = ordered_json::object()) {
    ChatTemplate t = ChatTemplate::parse(source);
    t.set_fixed_time(fixed_time());
    return t.render(ctx);
}

// The error message of rendering `source`, or "" when it renders.
std::string error_of(const std::string& source, const ordered_json& ctx = ordered_json::object()) {
    try {
        render(source, ctx);
    } catch (const ChatTemplateError& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("constructs.json: each case renders the text jinja2 renders, or fails with the stated error") {
    std::string path = source_root() + "/tests/chat_template/constructs.json";
    std::ifstream f(path);
    REQUIRE_MESSAGE(f.good(), "cannot open " << path);
    ordered_json cases = ordered_json::parse(f);
    REQUIRE(cases.size() > 50);
    for (const auto& c : cases) {
        const std::string name = c.at("name");
        const ordered_json ctx = c.contains("context") ? c.at("context") : ordered_json::object();
        INFO("case " << name << ": " << c.at("template").get<std::string>());
        if (c.contains("expect")) {
            std::string got;
            CHECK_NOTHROW(got = render(c.at("template"), ctx));
            CHECK(got == c.at("expect").get<std::string>());
        } else {
            std::string err = error_of(c.at("template"), ctx);
            CHECK_MESSAGE(err.find(c.at("error").get<std::string>()) != std::string::npos,
                          "error was: " << err);
        }
    }
}

TEST_CASE("render_chat: HF apply_chat_template conventions") {
    const std::string qwen_like =
        "{%- if messages[0]['role'] == 'system' %}\n"
        "    {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n"
        "{%- else %}\n"
        "    {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
        "assistant.<|im_end|>\\n' }}\n"
        "{%- endif %}\n"
        "{%- for message in messages %}\n"
        "    {%- if message.role != 'system' %}\n"
        "        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}\n"
        "    {%- endif %}\n"
        "{%- endfor %}\n"
        "{%- if add_generation_prompt %}\n"
        "    {{- '<|im_start|>assistant\\n' }}\n"
        "{%- endif %}\n"
        "{{- bos_token is defined }}|{{ tools is none }}\n";
    ChatTemplate t = ChatTemplate::parse(qwen_like);
    ordered_json messages = ordered_json::array({{{"role", "user"}, {"content", "Hi {{ not a tag }}"}}});
    std::string out = ember::render_chat(t, messages, true, "", "<|im_end|>");
    CHECK(
        out ==
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\nHi {{ not a tag }}<|im_end|>\n<|im_start|>assistant\nFalse|True");
    messages.insert(messages.begin(), ordered_json{{"role", "system"}, {"content", "Be brief."}});
    out = ember::render_chat(t, messages, false, "<s>", "</s>", ordered_json::array());
    CHECK(out ==
          "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi {{ not a tag "
          "}}<|im_end|>\nTrue|False");
}

TEST_CASE("tojson keeps key order with ordered_json; nlohmann::json sorts keys") {
    ChatTemplate t = ChatTemplate::parse("{{ tool | tojson }}");
    ordered_json ordered = {
        {"tool", {{"type", "function"}, {"name", "f"}, {"arguments", {{"b", 1}, {"a", 2.5}}}}}};
    CHECK(t.render(ordered) == R"({"type": "function", "name": "f", "arguments": {"b": 1, "a": 2.5}})");
    nlohmann::json sorted = nlohmann::json::parse(ordered.dump());
    CHECK(t.render(sorted) == R"({"arguments": {"a": 2.5, "b": 1}, "name": "f", "type": "function"})");
}

TEST_CASE("errors name the construct and its line and column") {
    try {
        ChatTemplate::parse("line one\n{% if x %}\n  {{ x | no_such_filter }}\n{% endif %}");
        FAIL("parse should fail");
    } catch (const ChatTemplateError& e) {
        CHECK(e.pos().line == 3);
        CHECK(e.pos().column == 10);
        CHECK(std::string(e.what()) ==
              "chat template error at line 3, column 10: unknown filter 'no_such_filter' (No filter named "
              "'no_such_filter')");
    }
    try {
        ChatTemplate::parse("{% include 'header.jinja' %}");
        FAIL("parse should fail");
    } catch (const ChatTemplateError& e) {
        CHECK(std::string(e.message()).find("unsupported template construct '{% include %}'") == 0);
        CHECK(e.pos().line == 1);
    }
    // Render-time errors carry the position of the failing expression.
    std::string err = error_of("ok\n{{ raise_exception('no tools given') }}");
    CHECK(err == "chat template error at line 2, column 4: raise_exception: no tools given");
    err = error_of("{% for m in messages %}\n{{ m.content + 1 }}{% endfor %}",
                   {{"messages", {{{"content", "text"}}}}});
    CHECK(err.find("line 2") != std::string::npos);
    CHECK(err.find("can only concatenate str (not \"int\") to str") != std::string::npos);
}

TEST_CASE("hostile input is rejected cleanly") {
    CHECK(error_of("{{ " + std::string(2000, '(') + "1" + std::string(2000, ')') + " }}")
              .find("nesting too deep") != std::string::npos);
    std::string deep_if;
    for (int i = 0; i < 1000; ++i) deep_if += "{% if true %}";
    CHECK(error_of(deep_if).find("nesting too deep") != std::string::npos);
    std::string nested = std::string(600, '[') + std::string(600, ']');
    ChatTemplate t = ChatTemplate::parse("{{ x }}");
    CHECK_THROWS_AS(t.render(ordered_json{{"x", ordered_json::parse(nested)}}), ChatTemplateError);
    CHECK(error_of("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}").find("recursion") != std::string::npos);
    CHECK(error_of("{{ range(1000000)|length }}").find("Range too big") != std::string::npos);
    CHECK(error_of("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns }}") == "");
    CHECK(error_of("{{ 'x' * 100000000000 }}").find("too large") != std::string::npos);
    CHECK(error_of("{{ 9223372036854775807 + 1 }}").find("integer overflow") != std::string::npos);
}

TEST_CASE("strftime_now uses the fixed clock in tests and the local clock otherwise") {
    CHECK(render("{{ strftime_now('%d %b %Y') }}") == "09 Mar 2025");
    ChatTemplate t = ChatTemplate::parse("{{ strftime_now('%Y') }}");
    std::string year = t.render(ordered_json::object());
    CHECK(year.size() == 4);
    CHECK(year >= "2024");
}

TEST_CASE("Python float repr") {
    using ember::jinja::py_float_repr;
    CHECK(py_float_repr(0.1) == "0.1");
    CHECK(py_float_repr(1.0) == "1.0");
    CHECK(py_float_repr(-0.0) == "-0.0");
    CHECK(py_float_repr(0.1 + 0.2) == "0.30000000000000004");
    CHECK(py_float_repr(1e16) == "1e+16");
    CHECK(py_float_repr(1e15) == "1000000000000000.0");
    CHECK(py_float_repr(123456789012345678.0) == "1.2345678901234568e+17");
    CHECK(py_float_repr(0.0001) == "0.0001");
    CHECK(py_float_repr(0.00001) == "1e-05");
    CHECK(py_float_repr(2.5e-7) == "2.5e-07");
    CHECK(py_float_repr(1.7976931348623157e308) == "1.7976931348623157e+308");
    CHECK(py_float_repr(5e-324) == "5e-324");
    CHECK(py_float_repr(1.0 / 0.0) == "inf");
}

TEST_CASE("json.dumps compatibility") {
    using ember::jinja::JsonOptions;
    using ember::jinja::Value;
    Value v =
        Value::from_json(ordered_json::parse(R"({"é": ["\u0001", "\"q\"", 1.0, null, true, {}], "n": 2})"));
    JsonOptions o;
    CHECK(ember::jinja::json_dumps(v, o) ==
          "{\"é\": [\"\\u0001\", \"\\\"q\\\"\", 1.0, null, true, {}], \"n\": 2}");
    o.ensure_ascii = true;
    CHECK(ember::jinja::json_dumps(Value("é😀"), o) == "\"\\u00e9\\ud83d\\ude00\"");
    JsonOptions indented;
    indented.indent = "  ";
    indented.item_separator = ",";
    CHECK(ember::jinja::json_dumps(v, indented) ==
          "{\n  \"é\": [\n    \"\\u0001\",\n    \"\\\"q\\\"\",\n    1.0,\n    null,\n    true,\n    {}\n  "
          "],\n  \"n\": 2\n}");
}
