// Model::load: from a mapped .ember file to validated weight views.
#include "runtime/model.h"

#include <algorithm>
#include <functional>

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "kernels/half.h"
#include "kernels/interleaved8.h"
#include "kernels/quant.h"

namespace ember {
namespace {

std::string shape_str(const std::vector<int64_t>& s) {
    std::string out = "[";
    for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
}

// Looks up a tensor the config requires and checks its shape and dtype.
class TensorBinder {
public:
    TensorBinder(const ModelFile& f, const ModelConfig& c) : file_(f) {
        for (auto& e : expected_tensors(c)) expected_[e.name] = e;
    }

    MatrixView matrix(const std::string& name) const {
        const TensorInfo& t = checked(name, true);
        MatrixView m;
        m.dtype = t.dtype;
        m.rows = t.shape[0];
        m.cols = t.shape[1];
        m.data = t.data;
        m.row_bytes = dtype_row_bytes(t.dtype, m.cols);
        return m;
    }

    const float* vector(const std::string& name) const {
        return reinterpret_cast<const float*>(checked(name, false).data);
    }

private:
    const TensorInfo& checked(const std::string& name, bool is_matrix) const {
        const TensorInfo& t = file_.tensor(name);  // throws if missing
        const ExpectedTensor& e = expected_.at(name);
        auto where = [&] {
            return file_.path().string() + ": tensor '" + name + "' at offset " + std::to_string(t.offset);
        };
        if (t.shape != e.shape)
            throw ModelFileError(where() + " has shape " + shape_str(t.shape) + " but the config needs " +
                                 shape_str(e.shape));
        bool ok = is_matrix ? t.dtype != DType::U8 : t.dtype == DType::F32;
        if (!ok)
            throw ModelFileError(where() + " has dtype " + std::string(dtype_name(t.dtype)) + ", which is not allowed here (" +
                                 (is_matrix ? "matrices: f32, f16, bf16, q8, q4" : "vectors: f32") + ")");
        return t;
    }

    const ModelFile& file_;
    std::map<std::string, ExpectedTensor> expected_;
};

// The tokenizer builds its own tables from the embedded file, so once it is built the file's
// pages (7 MB for Qwen2.5's tokenizer.json) are dropped from this process's resident set;
// they stay in the page cache, and a later read would fault them back in.
void release_tokenizer_pages(const TensorInfo& blob) {
    const auto page = uintptr_t(::sysconf(_SC_PAGESIZE));
    const auto from = reinterpret_cast<uintptr_t>(blob.data);
    const uintptr_t begin = (from + page - 1) / page * page, end = (from + blob.size) / page * page;
    if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

TokenizerInfo read_tokenizer_info(const nlohmann::json& h, const ModelConfig& c) {
    TokenizerInfo info;
    info.bos_token_id = c.bos_token_id;
    info.eos_token_ids = c.eos_token_ids;
    if (!h.contains("tokenizer") || !h["tokenizer"].is_object()) return info;
    const auto& t = h["tokenizer"];
    info.kind = t.value("kind", "none");
    info.add_bos = t.value("add_bos", false);
    if (t.contains("bos_token_id") && t["bos_token_id"].is_number_integer()) info.bos_token_id = t["bos_token_id"];
    if (t.contains("eos_token_ids") && t["eos_token_ids"].is_array() && !t["eos_token_ids"].empty())
        info.eos_token_ids = t["eos_token_ids"].get<std::vector<int64_t>>();
    if (t.contains("chat_template") && t["chat_template"].is_string()) info.chat_template = t["chat_template"];
    return info;
}

}  // namespace

std::unique_ptr<Model> Model::load(const std::filesystem::path& path) {
    auto model = std::make_unique<Model>();
    model->file_ = ModelFile::open(path);
    const ModelFile& f = *model->file_;
    const auto& h = f.header();
    if (!h.contains("config")) throw ModelFileError(path.string() + ": header has no \"config\" object");
    try {
        model->config_ = config_from_json(h["config"]);
        model->config_.validate();
    } catch (const std::runtime_error& e) {
        throw ModelFileError(path.string() + ": " + e.what());
    }
    const ModelConfig& c = model->config_;

    TensorBinder bind(f, c);
    model->weights_ = bind_weights(
        c, [&](const std::string& name) { return bind.matrix(name); },
        [&](const std::string& name) { return bind.vector(name); });

    model->tokenizer_info_ = read_tokenizer_info(h, c);
    TokenizerInfo& ti = model->tokenizer_info_;
    if (ti.kind == "sentencepiece") {
        const TensorInfo& blob = f.tensor("tokenizer.model");
        try {
            model->tokenizer_ = make_sentencepiece_tokenizer(
                std::string_view(reinterpret_cast<const char*>(blob.data), blob.size));
            release_tokenizer_pages(blob);
        } catch (const TokenizerError& e) {
            throw ModelFileError(path.string() + ": tensor 'tokenizer.model' at offset " + std::to_string(blob.offset) +
                                 ": " + e.what());
        }
    }
    if (ti.kind == "bpe") {  // the embedded tokenizer.json (tokenizer/bpe_tokenizer.h)
        const auto& t = h["tokenizer"];
        const std::string blob_name =
            t.contains("blob") && t["blob"].is_string() ? t["blob"].get<std::string>() : "tokenizer.json";
        const TensorInfo& blob = f.tensor(blob_name);
        try {
            model->tokenizer_ =
                make_bpe_tokenizer(std::string_view(reinterpret_cast<const char*>(blob.data), blob.size));
            release_tokenizer_pages(blob);
        } catch (const TokenizerError& e) {
            throw ModelFileError(path.string() + ": tensor '" + blob_name + "' at offset " +
                                 std::to_string(blob.offset) + ": " + e.what());
        }
    }
    model->repacked_weights_ = repack_weights_to_arena(model->weights_, kernels());
    fuse_projections(model->weights_);
    return model;
}

ModelWeights bind_weights(const ModelConfig& c, const std::function<MatrixView(const std::string&)>& matrix,
                          const std::function<const float*(const std::string&)>& vector) {
    ModelWeights w;
    w.embed = matrix("model.embed_tokens.weight");
    w.layers.resize(size_t(c.n_layers));
    for (int64_t l = 0; l < c.n_layers; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        LayerWeights& L = w.layers[size_t(l)];
        L.attn_norm = vector(p + "input_layernorm.weight");
        L.q_proj = matrix(p + "self_attn.q_proj.weight");
        L.k_proj = matrix(p + "self_attn.k_proj.weight");
        L.v_proj = matrix(p + "self_attn.v_proj.weight");
        if (c.qkv_bias) {
            L.q_bias = vector(p + "self_attn.q_proj.bias");
            L.k_bias = vector(p + "self_attn.k_proj.bias");
            L.v_bias = vector(p + "self_attn.v_proj.bias");
        }
        L.o_proj = matrix(p + "self_attn.o_proj.weight");
        L.ffn_norm = vector(p + "post_attention_layernorm.weight");
        L.gate_proj = matrix(p + "mlp.gate_proj.weight");
        L.up_proj = matrix(p + "mlp.up_proj.weight");
        L.down_proj = matrix(p + "mlp.down_proj.weight");
    }
    w.final_norm = vector("model.norm.weight");
    w.lm_head = c.tie_embeddings ? w.embed : matrix("lm_head.weight");
    return w;
}

namespace {

// A matrix repack_weights_* offer to the table. packed_after_previous: placed right after
// the previous candidate's bytes, with no alignment gap, so the two can be one fused view
// (fuse_projections).
struct RepackCandidate {
    MatrixView* m;
    bool packed_after_previous;
};

// The candidates in a fixed order: q, k, v and gate, up adjacent.
std::vector<RepackCandidate> repack_candidates(ModelWeights& w) {
    std::vector<RepackCandidate> out;
    for (LayerWeights& L : w.layers) {
        out.push_back({&L.q_proj, false});
        out.push_back({&L.k_proj, true});
        out.push_back({&L.v_proj, true});
        out.push_back({&L.o_proj, false});
        out.push_back({&L.gate_proj, false});
        out.push_back({&L.up_proj, true});
        out.push_back({&L.down_proj, false});
    }
    out.push_back({&w.lm_head, false});  // tied: the embedding too (tie_embedding_view)
    return out;
}

// A tied lm_head is the embedding: after a repack the embedding looks its rows up in the
// new layout (matrix_row_to_f32 reads every layout).
void tie_embedding_view(ModelWeights& w, const void* embed_data_before) {
    if (embed_data_before == w.embed.data && w.lm_head.data != embed_data_before) w.embed = w.lm_head;
}

int64_t matrix_bytes(const MatrixView& m) { return m.rows * m.row_bytes; }

// Row slices repack_weights_to_arena hands the table are a multiple of this: of every
// group size a table uses (KernelTable::repack).
constexpr int64_t kRepackSliceRows = 64;

}  // namespace

void repack_weights_in_place(ModelWeights& w, const KernelTable& table) {
    if (table.repack == nullptr) return;
    const bool tied = w.lm_head.data == w.embed.data;
    for (const RepackCandidate& c : repack_candidates(w))
        *c.m = table.repack(*c.m, const_cast<void*>(c.m->data));  // writable: see model.h
    if (tied) w.embed = w.lm_head;  // same bytes, now in the lm_head's layout
}

std::shared_ptr<void> repack_weights_to_arena(ModelWeights& w, const KernelTable& table, int64_t slice_bytes) {
    if (table.repack == nullptr) return nullptr;
    const void* embed_before = w.lm_head.data == w.embed.data ? w.embed.data : nullptr;
    const std::vector<RepackCandidate> candidates = repack_candidates(w);
    // Reserve room for every candidate (64-byte aligned: an upper bound, as candidates
    // packed after the previous one skip the alignment); pages never written cost nothing
    // (MAP_NORESERVE), and the unused tail is returned at the end.
    size_t capacity = 0;
    for (const RepackCandidate& c : candidates) capacity += size_t((matrix_bytes(*c.m) + 63) / 64 * 64);
    if (capacity == 0) return nullptr;
    void* mem = ::mmap(nullptr, capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED) throw std::runtime_error(std::string("cannot reserve memory for repacked weights: ") + std::strerror(errno));
    // No MADV_HUGEPAGE: with this kernel's defrag=madvise it made load bimodal (55 ms or
    // 380 ms, compaction stalls) against a steady 90-170 ms with 4 KiB pages.
    auto* arena = static_cast<uint8_t*>(mem);
    const long page = ::sysconf(_SC_PAGESIZE);
    // Drops the file pages wholly inside [from, to) from this process: those bytes are
    // no longer read (the arena has them).
    auto release = [page](const uint8_t* from, const uint8_t* to) {
        const auto begin = (reinterpret_cast<uintptr_t>(from) + uintptr_t(page) - 1) / uintptr_t(page) * uintptr_t(page);
        const auto end = reinterpret_cast<uintptr_t>(to) / uintptr_t(page) * uintptr_t(page);
        if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
    };
    size_t used = 0;
    for (const RepackCandidate& c : candidates) {
        MatrixView* m = c.m;
        const MatrixView before = *m;
        if (!c.packed_after_previous) used = (used + 63) / 64 * 64;
        uint8_t* out = arena + used;
        // Slice by slice (KernelTable::repack allows it), releasing each slice's source
        // pages as soon as it is copied: peak memory stays weights + one slice, not
        // weights + the largest matrix (the 145 MB tied lm_head of Qwen2.5-0.5B).
        const int64_t slice_rows = std::max<int64_t>(kRepackSliceRows, slice_bytes / before.row_bytes / kRepackSliceRows * kRepackSliceRows);
        const auto* src = static_cast<const uint8_t*>(before.data);
        MatrixView after = before;
        bool repacked = true;
        for (int64_t r0 = 0; r0 < before.rows && repacked; r0 += slice_rows) {
            MatrixView slice = before;
            slice.rows = std::min(slice_rows, before.rows - r0);
            slice.data = src + r0 * before.row_bytes;
            // The last slice may be short (fewer than a group): the table may then leave
            // it in the file layout, which a repacked matrix keeps for its last rows anyway.
            const MatrixView packed = table.repack(slice, out + r0 * before.row_bytes);
            if (packed.data != out + r0 * before.row_bytes) {
                if (r0 == 0) repacked = false;  // the table does not take this matrix
                else std::memcpy(out + r0 * before.row_bytes, slice.data, size_t(slice.rows * slice.row_bytes));
            } else if (r0 == 0) {
                after = packed;
                after.rows = before.rows;
            }
            if (repacked) release(src, src + (r0 + slice.rows) * before.row_bytes);
        }
        if (!repacked) continue;  // nothing written
        *m = after;
        used += size_t(matrix_bytes(before));
    }
    if (embed_before != nullptr) tie_embedding_view(w, embed_before);
    const size_t kept = (used + size_t(page) - 1) / size_t(page) * size_t(page);
    if (kept < capacity) ::munmap(arena + kept, capacity - kept);
    if (kept == 0) return nullptr;
    return std::shared_ptr<void>(mem, [kept](void* p) { ::munmap(p, kept); });
}

std::optional<MatrixView> fuse_rows(std::span<const MatrixView> parts) {
    if (parts.empty()) return std::nullopt;
    const MatrixView& first = parts[0];
    if (first.dtype != DType::Q4 && first.dtype != DType::Q8) return std::nullopt;
    MatrixView fused = first;
    for (size_t i = 1; i < parts.size(); ++i) {
        const MatrixView& prev = parts[i - 1];
        const MatrixView& p = parts[i];
        if (p.dtype != first.dtype || p.cols != first.cols || p.row_bytes != first.row_bytes ||
            p.layout != first.layout)
            return std::nullopt;
        if (prev.rows % 8 != 0) return std::nullopt;  // its last rows would join a group of the next part's
        if (p.data != static_cast<const uint8_t*>(prev.data) + prev.rows * prev.row_bytes) return std::nullopt;
        fused.rows += p.rows;
    }
    return fused;
}

bool packs_after_previous_tensor(const std::string& name) {
    return name.ends_with(".self_attn.k_proj.weight") || name.ends_with(".self_attn.v_proj.weight") ||
           name.ends_with(".mlp.up_proj.weight");
}

void fuse_projections(ModelWeights& w) {
    for (LayerWeights& L : w.layers) {
        const MatrixView qkv[] = {L.q_proj, L.k_proj, L.v_proj};
        const MatrixView gate_up[] = {L.gate_proj, L.up_proj};
        L.qkv_proj = fuse_rows(qkv);
        L.gate_up_proj = fuse_rows(gate_up);
    }
}

bool Model::is_eos(int32_t id) const {
    const auto& e = tokenizer_info_.eos_token_ids;
    return std::find(e.begin(), e.end(), int64_t(id)) != e.end();
}

void matrix_row_to_f32(const MatrixView& m, int64_t row, float* out) {
    if (m.layout == WeightLayout::kInterleaved8) {  // repacked for the kernels: gather the row
        // Per thread and reused: this is the embedding lookup of every token (tied lm_head).
        thread_local std::vector<uint8_t> bytes;
        bytes.resize(static_cast<size_t>(m.row_bytes));
        il8::copy_row(m, row, bytes.data());
        if (m.dtype == DType::Q4)
            dequantize_row_q4_ref(reinterpret_cast<const BlockQ4*>(bytes.data()), out, m.cols);
        else
            dequantize_row_q8_ref(reinterpret_cast<const BlockQ8*>(bytes.data()), out, m.cols);
        return;
    }
    const uint8_t* p = static_cast<const uint8_t*>(m.data) + row * m.row_bytes;
    switch (m.dtype) {
        case DType::F32: std::copy_n(reinterpret_cast<const float*>(p), m.cols, out); break;
        case DType::F16: {
            auto* h = reinterpret_cast<const uint16_t*>(p);
            for (int64_t i = 0; i < m.cols; ++i) out[i] = f16_to_f32(h[i]);
            break;
        }
        case DType::BF16: {
            auto* h = reinterpret_cast<const uint16_t*>(p);
            for (int64_t i = 0; i < m.cols; ++i) out[i] = bf16_to_f32(h[i]);
            break;
        }
        case DType::Q8: dequantize_row_q8_ref(reinterpret_cast<const BlockQ8*>(p), out, m.cols); break;
        case DType::Q4: dequantize_row_q4_ref(reinterpret_cast<const BlockQ4*>(p), out, m.cols); break;
        case DType::U8: std::fill_n(out, m.cols, 0.0f); break;  // rejected at load; never reached
    }
}

}  // namespace ember
