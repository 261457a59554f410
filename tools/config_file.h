// Defaults for `ember run` / `ember chat` from a TOML file (CLI11's config reader). Keys are
// the long flag names with '_' for '-' (max_new_tokens, temp, top_p, ...); a [run] or [chat]
// section applies to that command only. Flags given on the command line win over the file,
// a section wins over the top level. docs/usage.md ("Config file").
#pragma once
#include <CLI/CLI.hpp>
#include <string>

namespace ember::cli {

// Adds --config FILE to `sub`; `path` receives it.
void add_config_option(CLI::App* sub, std::string& path);

// The file to read: `explicit_path` when given, else $XDG_CONFIG_HOME/ember/config.toml (or
// ~/.config/ember/config.toml when XDG_CONFIG_HOME is unset) if that file exists, else "".
std::string config_file_path(const std::string& explicit_path);

// Fills the options of `sub` that the command line left unset from the file. Throws
// std::runtime_error naming the file and key for an unknown key or section, a value the
// option rejects, or an unreadable file.
void apply_config_file(CLI::App& sub, const std::string& path);

}  // namespace ember::cli
