// JSON side files of an HF checkpoint, read whole and parsed with file-naming errors.
#include "runtime/convert/json_file.h"

#include <fstream>
#include <sstream>

#include "runtime/model_file.h"

namespace ember {

nlohmann::json read_json_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ModelFileError(path.string() + ": cannot read");
    std::ostringstream text;
    text << in.rdbuf();
    try {
        return nlohmann::json::parse(text.str());
    } catch (const nlohmann::json::exception& e) {
        throw ModelFileError(path.string() + ": invalid JSON: " + e.what());
    }
}

std::optional<nlohmann::json> read_json_file_if_exists(const std::filesystem::path& path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return std::nullopt;
    return read_json_file(path);
}

}  // namespace ember
