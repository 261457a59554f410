// The conversion pipeline: read and check everything, plan the file, then stream the
// tensors through encode_tensor into ModelFileWriter.
#include "runtime/convert/converter.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <set>
#include <vector>

#include "runtime/convert/convert_version.h"
#include "runtime/convert/hf_config.h"
#include "runtime/convert/hf_tokenizer.h"
#include "runtime/convert/json_file.h"
#include "runtime/convert/progress.h"
#include "runtime/convert/safetensors.h"
#include "runtime/convert/tensor_encode.h"
#include "runtime/model_file.h"

namespace ember {
namespace {

using nlohmann::json;

constexpr size_t kMaxListedNames = 3;  // in notes about ignored tensors

std::string shape_text(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

bool is_weight_type(DType t) {
    return t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::Q8 || t == DType::Q4;
}

void check_options(const ConvertOptions& opts) {
    std::error_code ec;
    if (!std::filesystem::is_directory(opts.hf_dir, ec))
        throw ModelFileError(opts.hf_dir.string() + ": not a directory (expected a Hugging Face checkpoint)");
    if (!is_weight_type(opts.type))
        throw ModelFileError("weight type must be f32, f16, bf16, q8 or q4, not " + std::string(dtype_name(opts.type)));
    if (opts.embed_type && !is_weight_type(*opts.embed_type))
        throw ModelFileError("embedding type must be f32, f16, bf16, q8 or q4, not " +
                             std::string(dtype_name(*opts.embed_type)));
    if (opts.output.empty()) throw ModelFileError("no output path given");
}

struct HfInputs {
    json config_json, generation_json;
    ModelConfig config;
};

HfInputs read_hf_config(const std::filesystem::path& dir) {
    HfInputs in;
    const auto config_path = dir / "config.json";
    std::error_code ec;
    if (!std::filesystem::exists(config_path, ec)) throw ModelFileError("no config.json in " + dir.string());
    in.config_json = read_json_file(config_path);
    in.generation_json = read_json_file_if_exists(dir / "generation_config.json").value_or(json::object());
    if (!in.generation_json.is_object())
        throw ModelFileError((dir / "generation_config.json").string() + ": not a JSON object");
    try {
        in.config = model_config_from_hf(in.config_json, in.generation_json);
    } catch (const std::runtime_error& e) {
        throw ModelFileError(config_path.string() + ": " + e.what());
    }
    return in;
}

// Every expected tensor present, with that exact shape and a float dtype. Returns the
// source tensors in expected order; reports (or rejects) the checkpoint's extra tensors.
std::vector<const SafetensorsTensor*> match_tensors(const SafetensorsCheckpoint& ck,
                                                    const std::vector<ExpectedTensor>& expected,
                                                    const ModelConfig& cfg, const std::filesystem::path& dir,
                                                    std::vector<std::string>& notes) {
    std::vector<const SafetensorsTensor*> sources;
    std::vector<std::string> missing;
    for (const auto& e : expected) {
        const SafetensorsTensor* t = ck.find(e.name);
        if (!t) {
            missing.push_back(e.name + " " + shape_text(e.shape));
            continue;
        }
        if (t->shape != e.shape)
            throw ModelFileError(t->file.string() + ": tensor '" + e.name + "' has shape " + shape_text(t->shape) +
                                 ", expected " + shape_text(e.shape) + " from config.json");
        require_float_dtype(*t);
        sources.push_back(t);
    }
    if (!missing.empty())
        throw ModelFileError("tensor '" + missing.front() + "' is missing from the checkpoint in " + dir.string() +
                             (missing.size() > 1 ? " (and " + std::to_string(missing.size() - 1) + " more)" : ""));

    std::set<std::string> wanted;
    for (const auto& e : expected) wanted.insert(e.name);
    std::vector<std::string> ignored;
    for (const auto& name : ck.names()) {
        if (wanted.count(name)) continue;
        // With tied embeddings HF uses embed_tokens as the output head and never reads lm_head.
        if (cfg.tie_embeddings && name == "lm_head.weight") continue;
        // A bias the graph has no slot for (o_proj / mlp bias) would silently change the model.
        if (name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0)
            throw ModelFileError("the checkpoint in " + dir.string() + " has tensor '" + name +
                                 "', which Ember's " + cfg.arch + " graph does not use; converting without it "
                                 "would change the model");
        ignored.push_back(name);
    }
    if (!ignored.empty()) {
        std::string list;
        for (size_t i = 0; i < ignored.size() && i < kMaxListedNames; ++i) list += (i ? ", " : "") + ignored[i];
        if (ignored.size() > kMaxListedNames) list += ", ...";
        notes.push_back("ignoring " + std::to_string(ignored.size()) + " tensor(s) the model does not use: " + list);
    }
    return sources;
}

std::vector<uint8_t> read_blob(const TokenizerBlob& blob) {
    std::ifstream in(blob.path, std::ios::binary);
    if (!in) throw ModelFileError(blob.path.string() + ": cannot read");
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.empty()) throw ModelFileError(blob.path.string() + ": file is empty");
    return bytes;
}

json make_header(const HfInputs& in, const ConvertOptions& opts, const HfTokenizer& tok) {
    const json& c = in.config_json;
    // transformers >= 4.56 writes "dtype" where older versions wrote "torch_dtype".
    json torch_dtype = c.contains("torch_dtype") ? c["torch_dtype"] : c.contains("dtype") ? c["dtype"] : json();
    return {
        {"format", "ember"},
        {"config", config_to_json(in.config)},
        {"weights_type", std::string(dtype_name(opts.type))},
        {"tokenizer", tok.header},
        {"generation", in.generation_json},
        {"source",
         {{"converter", std::string("ember-convert ") + EMBER_VERSION},
          {"hf_architecture", c["architectures"][0]},
          {"hf_torch_dtype", torch_dtype}}},
    };
}

void print_line(const char* kind, const std::string& text) {
    std::fprintf(stderr, "ember-convert: %s: %s\n", kind, text.c_str());
}

}  // namespace

DType stored_dtype(const ExpectedTensor& t, const ConvertOptions& opts) {
    if (!t.is_matrix) return DType::F32;  // norms and biases: tiny, and precision matters
    if (t.name == "model.embed_tokens.weight" || t.name == "lm_head.weight")
        return opts.embed_type.value_or(opts.type == DType::Q4 ? DType::Q8 : opts.type);
    return opts.type;
}

ConvertSummary convert_hf_checkpoint(const ConvertOptions& opts) {
    const auto start = std::chrono::steady_clock::now();
    check_options(opts);

    // 1. Read and check everything before the first byte is written.
    const HfInputs in = read_hf_config(opts.hf_dir);
    const SafetensorsCheckpoint ck = SafetensorsCheckpoint::open_dir(opts.hf_dir);
    const std::vector<ExpectedTensor> expected = expected_tensors(in.config);
    std::vector<std::string> notes;
    const auto sources = match_tensors(ck, expected, in.config, opts.hf_dir, notes);
    const HfTokenizer tok = read_hf_tokenizer(opts.hf_dir, in.config);
    std::vector<std::vector<uint8_t>> blobs;
    for (const auto& b : tok.blobs) blobs.push_back(read_blob(b));

    if (!opts.quiet) {
        for (const auto& w : tok.warnings) print_line("warning", w);
        for (const auto& n : notes) print_line("note", n);
    }

    // 2. Plan: tokenizer blobs first, then the weights in HF order.
    std::vector<TensorInfo> plan;
    for (size_t i = 0; i < blobs.size(); ++i)
        plan.push_back({tok.blobs[i].tensor_name, DType::U8, {int64_t(blobs[i].size())}, 0, 0, nullptr});
    for (const auto& e : expected) plan.push_back({e.name, stored_dtype(e, opts), e.shape, 0, 0, nullptr});

    ConvertSummary summary;
    summary.tensors = plan.size();
    for (const auto& t : plan) summary.bytes_by_dtype[t.dtype] += tensor_bytes(t.dtype, t.shape);
    uint64_t source_bytes = 0;
    for (const auto* s : sources) source_bytes += s->size;

    // 3. Stream. The writer's destructor removes its temp file if anything below throws.
    ModelFileWriter writer(opts.output, make_header(in, opts, tok), plan);
    ConvertProgress progress(opts.progress && !opts.quiet, sources.size(), source_bytes);
    for (size_t i = 0; i < blobs.size(); ++i) writer.write_next(tok.blobs[i].tensor_name, blobs[i].data(), blobs[i].size());
    for (size_t i = 0; i < sources.size(); ++i) {
        if (opts.cancel && opts.cancel->load()) throw ModelFileError(opts.output.string() + ": interrupted");
        const TensorInfo& t = plan[blobs.size() + i];
        const uint64_t bytes = tensor_bytes(t.dtype, t.shape);
        std::unique_ptr<uint8_t[]> buffer(new uint8_t[bytes]);
        const EncodeStats stats = encode_tensor(*sources[i], t.dtype, buffer.get());
        if (stats.f16_overflows && !opts.quiet)
            print_line("warning", "tensor '" + t.name + "': " + std::to_string(stats.f16_overflows) +
                                      " values exceed the f16 range and became infinite; use --type bf16 or f32");
        writer.write_next(t.name, buffer.get(), bytes);
        progress.tensor_done(t.name, sources[i]->size);
    }
    writer.finish();
    progress.finish();

    summary.output_bytes = std::filesystem::file_size(opts.output);
    summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return summary;
}

std::string format_summary(const ConvertSummary& s, const std::filesystem::path& output) {
    auto size_text = [](uint64_t bytes) {
        char buf[32];
        if (bytes >= (uint64_t(1) << 20))
            std::snprintf(buf, sizeof buf, "%.1f MB", double(bytes) / (1024.0 * 1024.0));
        else
            std::snprintf(buf, sizeof buf, "%.1f KB", double(bytes) / 1024.0);
        return std::string(buf);
    };
    std::string by_dtype;
    for (const auto& [dtype, bytes] : s.bytes_by_dtype)
        by_dtype += (by_dtype.empty() ? "" : ", ") + std::string(dtype_name(dtype)) + " " + size_text(bytes);
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.2f s", s.seconds);
    return "wrote " + output.string() + ": " + std::to_string(s.tensors) + " tensors (" + by_dtype + "), " +
           size_text(s.output_bytes) + " in " + secs;
}

}  // namespace ember
