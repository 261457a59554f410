// `ember info MODEL`: what a model file holds: config, tokenizer, generation defaults,
// tensor count and bytes by dtype.
#include <cstdio>
#include <map>
#include <memory>

#include "runtime/model.h"
#include "tools/commands.h"

namespace ember::cli {
namespace {

std::string mib(uint64_t bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f MiB", double(bytes) / (1024.0 * 1024.0));
    return buf;
}

int info(const std::string& path, bool json) {
    auto model = Model::load(path);  // validates everything, so info on a bad file errors out
    const ModelFile& f = model->file();
    std::map<std::string, std::pair<int, uint64_t>> by_dtype;  // dtype -> (count, bytes)
    for (const auto& t : f.tensors()) {
        auto& e = by_dtype[std::string(dtype_name(t.dtype))];
        e.first++;
        e.second += t.size;
    }
    if (json) {
        nlohmann::json j = f.header();
        j.erase("tokenizer");  // large strings (chat template) are summarised below
        j["tokenizer_kind"] = model->tokenizer_info().kind;
        j["has_chat_template"] = !model->tokenizer_info().chat_template.empty();
        j["file_size"] = f.file_size();
        j["tensor_count"] = f.tensors().size();
        for (auto& [d, e] : by_dtype) j["bytes_by_dtype"][d] = {{"tensors", e.first}, {"bytes", e.second}};
        std::printf("%s\n", j.dump(2).c_str());
        return 0;
    }
    const ModelConfig& c = model->config();
    std::printf("file:            %s (%s)\n", path.c_str(), mib(f.file_size()).c_str());
    std::printf("architecture:    %s\n", c.arch.c_str());
    std::printf("weights type:    %s\n", f.header().value("weights_type", "?").c_str());
    std::printf("vocab:           %lld\n", (long long)c.vocab_size);
    std::printf("hidden / ffn:    %lld / %lld\n", (long long)c.hidden_size, (long long)c.intermediate_size);
    std::printf("layers:          %lld\n", (long long)c.n_layers);
    std::printf("heads / kv:      %lld / %lld (head_dim %lld)\n", (long long)c.n_heads, (long long)c.n_kv_heads,
                (long long)c.head_dim);
    std::printf("max positions:   %lld\n", (long long)c.max_position);
    std::printf("rope:            theta %g, scaling %s", c.rope_theta, c.rope_scaling.type.c_str());
    if (c.rope_scaling.type != "none") std::printf(" (factor %g)", c.rope_scaling.factor);
    std::printf("\nqkv bias:        %s\ntied embeddings: %s\n", c.qkv_bias ? "yes" : "no", c.tie_embeddings ? "yes" : "no");
    const auto& ti = model->tokenizer_info();
    std::printf("tokenizer:       %s (add_bos %s, bos %lld, eos", ti.kind.c_str(), ti.add_bos ? "yes" : "no",
                (long long)ti.bos_token_id);
    for (auto e : ti.eos_token_ids) std::printf(" %lld", (long long)e);
    std::printf(")\nchat template:   %s\n", ti.chat_template.empty() ? "none" : "yes");
    if (f.header().contains("generation"))
        std::printf("generation:      %s\n", f.header()["generation"].dump().c_str());
    std::printf("tensors:         %zu\n", f.tensors().size());
    for (auto& [d, e] : by_dtype) std::printf("  %-5s %4d tensors  %s\n", d.c_str(), e.first, mib(e.second).c_str());
    return 0;
}

}  // namespace

Command add_info_command(CLI::App& app) {
    auto path = std::make_shared<std::string>();
    auto json = std::make_shared<bool>(false);
    CLI::App* sub = app.add_subcommand("info", "Show what a model file holds");
    sub->add_option("model", *path, "Model file (.ember)")->required()->check(CLI::ExistingFile);
    sub->add_flag("--json", *json, "Print as JSON");
    return {sub, [path, json] { return info(*path, *json); }};
}

}  // namespace ember::cli
