// render_cli: renders chat templates with Ember's interpreter, for the parity test against
// python3-jinja2 (render_reference.py takes the same arguments and prints the same JSON).
//
//   render_cli TEMPLATE_FILE CONTEXT_JSON_FILE [--now 2025-03-09T12:00:00]
//       prints the rendering; on error prints the message to stderr and exits 1
//   render_cli --batch CASES_JSON_FILE [--now ...]
//       CASES: [{"template": "...", "context": {...}}, ...]
//       prints [{"ok": true, "output": "..."} | {"ok": false, "error": "..."}, ...]
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>

#include "runtime/chat_template.h"

namespace {

std::string read_file(const char* path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error(std::string("cannot open ") + path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

std::tm parse_now(const char* s) {
    std::tm tm{};
    if (!strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
        throw std::runtime_error(std::string("bad --now value: ") + s);
    tm.tm_isdst = -1;
    std::time_t t = std::mktime(&tm);  // fills in the weekday and day of the year
    localtime_r(&t, &tm);
    return tm;
}

std::string render_one(const std::string& source, const nlohmann::ordered_json& context, const std::tm* now) {
    ember::ChatTemplate t = ember::ChatTemplate::parse(source);
    if (now) t.set_fixed_time(*now);
    return t.render(context);
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const char* batch = nullptr;
        const char* now_arg = nullptr;
        std::vector<const char*> positional;
        for (int i = 1; i < argc; ++i) {
            if (!std::strcmp(argv[i], "--batch") && i + 1 < argc) {
                batch = argv[++i];
            } else if (!std::strcmp(argv[i], "--now") && i + 1 < argc) {
                now_arg = argv[++i];
            } else {
                positional.push_back(argv[i]);
            }
        }
        std::tm now{};
        if (now_arg) now = parse_now(now_arg);
        const std::tm* now_ptr = now_arg ? &now : nullptr;
        if (batch) {
            auto cases = nlohmann::ordered_json::parse(read_file(batch));
            nlohmann::ordered_json results = nlohmann::ordered_json::array();
            for (const auto& c : cases) {
                nlohmann::ordered_json r;
                try {
                    r["ok"] = true;
                    r["output"] = render_one(c.at("template").get<std::string>(), c.at("context"), now_ptr);
                } catch (const ember::ChatTemplateError& e) {
                    r = {{"ok", false}, {"error", e.what()}};
                }
                results.push_back(r);
            }
            std::cout << results.dump(1, ' ', false, nlohmann::ordered_json::error_handler_t::replace)
                      << "\n";
            return 0;
        }
        if (positional.size() != 2) {
            std::fprintf(
                stderr, "usage: render_cli TEMPLATE CONTEXT.json [--now Y-m-dTH:M:S] | --batch CASES.json\n");
            return 2;
        }
        auto context = nlohmann::ordered_json::parse(read_file(positional[1]));
        std::cout << render_one(read_file(positional[0]), context, now_ptr);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
}
