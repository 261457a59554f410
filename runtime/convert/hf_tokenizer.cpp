// Collects what the runtime's tokenizer needs from the HF side files, without
// interpreting the vocabulary itself (that is tokenizer/'s job at load time).
#include "runtime/convert/hf_tokenizer.h"

#include <fstream>
#include <iterator>
#include <map>

#include "runtime/convert/json_file.h"
#include "runtime/model_file.h"

namespace ember {
namespace {

using nlohmann::json;

// Special tokens are written either as "<s>" or as a serialized AddedToken {"content": "<s>", ...}.
json token_text(const json& v) {
    if (v.is_string()) return v;
    if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"];
    return nullptr;
}

// [{id, content, special}] sorted by id, from tokenizer_config's added_tokens_decoder
// ({"151643": {"content": ..., "special": true}}) or else tokenizer.json's added_tokens.
json collect_added_tokens(const json& tok_config, const json& tok_json, const std::filesystem::path& dir) {
    std::map<int64_t, json> by_id;
    if (tok_config.contains("added_tokens_decoder") && tok_config["added_tokens_decoder"].is_object()) {
        for (const auto& [id_text, t] : tok_config["added_tokens_decoder"].items()) {
            int64_t id;
            try {
                id = std::stoll(id_text);
            } catch (const std::exception&) {
                throw ModelFileError((dir / "tokenizer_config.json").string() + ": added_tokens_decoder key '" +
                                     id_text + "' is not a token id");
            }
            if (!token_text(t).is_string()) continue;
            by_id[id] = {{"id", id}, {"content", token_text(t)}, {"special", t.value("special", false)}};
        }
    } else if (tok_json.contains("added_tokens") && tok_json["added_tokens"].is_array()) {
        for (const auto& t : tok_json["added_tokens"]) {
            if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer() || !token_text(t).is_string())
                continue;
            int64_t id = t["id"].get<int64_t>();
            by_id[id] = {{"id", id}, {"content", token_text(t)}, {"special", t.value("special", false)}};
        }
    }
    json out = json::array();
    for (auto& kv : by_id) out.push_back(std::move(kv.second));
    return out;
}

// "<s>": tokenizer_config, then special_tokens_map; an explicit null there means none.
// If neither names it, the added token with the config's id.
json special_token(const char* key, const json& tok_config, const json& special_map, int64_t id, const json& added) {
    if (tok_config.contains(key)) return token_text(tok_config[key]);
    if (special_map.contains(key)) return token_text(special_map[key]);
    for (const auto& t : added)
        if (t["id"].get<int64_t>() == id) return t["content"];
    return nullptr;
}

// A tokenizer.json post-processor that puts a special token before the text (Llama 3's
// TemplateProcessing "<|begin_of_text|> $A") adds BOS even without add_bos_token.
bool post_processor_adds_bos(const json& p) {
    if (!p.is_object()) return false;
    if (p.value("type", "") == "Sequence" && p.contains("processors") && p["processors"].is_array()) {
        for (const auto& sub : p["processors"])
            if (post_processor_adds_bos(sub)) return true;
        return false;
    }
    if (p.value("type", "") != "TemplateProcessing" || !p.contains("single") || !p["single"].is_array() ||
        p["single"].empty())
        return false;
    return p["single"][0].is_object() && p["single"][0].contains("SpecialToken");
}

// tokenizer_config.json's chat_template (a string, or a list of {name, template} from
// which "default" is taken); newer checkpoints keep it in chat_template.jinja / .json.
json find_chat_template(const json& tok_config, const std::filesystem::path& dir, std::vector<std::string>& warnings) {
    if (tok_config.contains("chat_template")) {
        const json& t = tok_config["chat_template"];
        if (t.is_string()) return t;
        if (t.is_array()) {
            for (const auto& entry : t)
                if (entry.is_object() && entry.value("name", "") == "default" && entry.contains("template") &&
                    entry["template"].is_string())
                    return entry["template"];
            warnings.push_back("tokenizer_config.json lists chat templates but none is named \"default\"; "
                               "no chat template stored");
        }
        return nullptr;
    }
    const auto jinja = dir / "chat_template.jinja";
    std::error_code ec;
    if (std::filesystem::exists(jinja, ec)) {
        std::ifstream in(jinja, std::ios::binary);
        if (!in) throw ModelFileError(jinja.string() + ": cannot read");
        return std::string(std::istreambuf_iterator<char>(in), {});
    }
    if (auto j = read_json_file_if_exists(dir / "chat_template.json"))
        if (j->is_object() && j->contains("chat_template") && (*j)["chat_template"].is_string())
            return (*j)["chat_template"];
    return nullptr;
}

}  // namespace

HfTokenizer read_hf_tokenizer(const std::filesystem::path& dir, const ModelConfig& cfg) {
    HfTokenizer tk;
    std::error_code ec;
    const bool has_spm = std::filesystem::exists(dir / "tokenizer.model", ec);
    const bool has_json = std::filesystem::exists(dir / "tokenizer.json", ec);
    if (has_spm) tk.blobs.push_back({"tokenizer.model", dir / "tokenizer.model"});
    if (has_json) tk.blobs.push_back({"tokenizer.json", dir / "tokenizer.json"});
    // SentencePiece is preferred when both exist: for Llama 2 / TinyLlama it is the original.
    const std::string kind = has_spm ? "sentencepiece" : has_json ? "bpe" : "none";
    if (kind == "none")
        tk.warnings.push_back("no tokenizer.model or tokenizer.json in " + dir.string() +
                              ": the model will only accept token ids (--tokens)");

    auto object_or_empty = [](std::optional<json> j) { return j && j->is_object() ? *j : json::object(); };
    const json tok_config = object_or_empty(read_json_file_if_exists(dir / "tokenizer_config.json"));
    const json special_map = object_or_empty(read_json_file_if_exists(dir / "special_tokens_map.json"));
    const json tok_json = has_json ? object_or_empty(read_json_file(dir / "tokenizer.json")) : json::object();

    const json added = collect_added_tokens(tok_config, tok_json, dir);

    bool add_bos = false;
    if (tok_config.contains("add_bos_token") && tok_config["add_bos_token"].is_boolean())
        add_bos = tok_config["add_bos_token"].get<bool>();
    else if (kind == "sentencepiece")
        add_bos = true;  // LlamaTokenizer's default
    else if (kind == "bpe")
        add_bos = post_processor_adds_bos(tok_json.value("post_processor", json()));

    const int64_t first_eos = cfg.eos_token_ids.empty() ? -1 : cfg.eos_token_ids.front();
    tk.header = {
        {"kind", kind},
        {"blob", kind == "sentencepiece" ? json("tokenizer.model") : kind == "bpe" ? json("tokenizer.json") : json()},
        {"bos_token", special_token("bos_token", tok_config, special_map, cfg.bos_token_id, added)},
        {"eos_token", special_token("eos_token", tok_config, special_map, first_eos, added)},
        {"bos_token_id", cfg.bos_token_id},
        {"eos_token_ids", cfg.eos_token_ids},
        {"add_bos", add_bos},
        {"chat_template", find_chat_template(tok_config, dir, tk.warnings)},
        {"added_tokens", added},
    };
    return tk;
}

}  // namespace ember
