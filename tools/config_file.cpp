#include "tools/config_file.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <vector>

namespace ember::cli {

namespace {

// Every key a config file may hold, for any command. A key that another command uses
// (history, for run) is skipped; anything else is an error, so a typo never goes unnoticed.
const std::vector<std::string> kKnownKeys = {
    "max_new_tokens", "temp",    "top_p", "top_k", "min_p",  "repeat_penalty", "repeat_last_n",
    "seed",           "threads", "cpus",  "ctx",   "system", "history",
};
const std::vector<std::string> kSections = {"run", "chat"};

std::string known_keys_list() {
    std::string s;
    for (const auto& k : kKnownKeys) s += (s.empty() ? "" : ", ") + k;
    return s;
}

std::string flag_name(std::string key) {
    std::replace(key.begin(), key.end(), '_', '-');
    return "--" + key;
}

}  // namespace

void add_config_option(CLI::App* sub, std::string& path) {
    sub->add_option("--config", path,
                    "TOML file of defaults (default: $XDG_CONFIG_HOME/ember/config.toml or "
                    "~/.config/ember/config.toml, if it exists)")
        ->check(CLI::ExistingFile);
}

std::string config_file_path(const std::string& explicit_path) {
    if (!explicit_path.empty()) return explicit_path;
    std::filesystem::path dir;
    if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg && *xdg)
        dir = xdg;
    else if (const char* home = std::getenv("HOME"); home && *home)
        dir = std::filesystem::path(home) / ".config";
    else
        return "";
    const auto file = dir / "ember" / "config.toml";
    std::error_code ec;
    return std::filesystem::is_regular_file(file, ec) ? file.string() : "";
}

void apply_config_file(CLI::App& sub, const std::string& path) {
    if (path.empty()) return;
    std::vector<CLI::ConfigItem> items;
    try {
        items = CLI::ConfigTOML().from_file(path);
    } catch (const CLI::Error& e) {
        throw std::runtime_error("config file " + path + ": " + e.what());
    }
    // Sections first, so that they win over the top level (the first value set is kept).
    std::stable_partition(items.begin(), items.end(),
                          [](const CLI::ConfigItem& i) { return !i.parents.empty(); });
    for (const CLI::ConfigItem& item : items) {
        if (item.name == "++" || item.name == "--") continue;  // section open/close markers
        const std::string where = "config file " + path + ": ";
        if (item.parents.size() > 1 ||
            (item.parents.size() == 1 &&
             std::find(kSections.begin(), kSections.end(), item.parents[0]) == kSections.end()))
            throw std::runtime_error(where + "unknown section [" + CLI::detail::join(item.parents, ".") +
                                     "] (sections: [run], [chat])");
        if (std::find(kKnownKeys.begin(), kKnownKeys.end(), item.name) == kKnownKeys.end())
            throw std::runtime_error(where + "unknown key '" + item.fullname() +
                                     "' (keys: " + known_keys_list() + ")");
        if (item.parents.size() == 1 && item.parents[0] != sub.get_name())
            continue;  // the other command's section
        CLI::Option* opt = sub.get_option_no_throw(flag_name(item.name));
        if (!opt) continue;              // a key for the other command (history for run)
        if (opt->count() > 0) continue;  // the command line (or a section) already set it
        try {
            if (opt->get_expected_min() == 0)  // a flag: true/false
                opt->add_result(opt->get_flag_value(item.name, CLI::ConfigTOML().to_flag(item)));
            else
                opt->add_result(item.inputs);
            opt->run_callback();
        } catch (const CLI::Error& e) {
            throw std::runtime_error(where + "key '" + item.fullname() + "': " + e.what());
        }
    }
}

}  // namespace ember::cli
