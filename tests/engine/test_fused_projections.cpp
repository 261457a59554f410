// Fused q|k|v and gate|up projections (LayerWeights::qkv_proj / gate_up_proj, runtime/model.h):
// which parts fuse_rows accepts, that q4 models get the fused views (in the repacked layout
// on a table that repacks, from both Model::synthetic and Model::load), and that the
// logits with fusion equal those without bit for bit: the kernels give each output row
// the same arithmetic whatever the matrix's other rows are. Run with the CPU's table and
// with EMBER_ISA=generic (tests/engine/meson.build).
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine_test_util.h"
#include "kernels/quant.h"
#include "runtime/kv_cache.h"
#include "runtime/llama_graph.h"
#include "runtime/model_file.h"

using namespace ember;
using namespace ember::test;
namespace fs = std::filesystem;

namespace {

// The tiny Qwen2 config as a Llama: no q/k/v biases, an untied lm_head.
ModelConfig tiny_llama_config() {
    ModelConfig c = tiny_qwen2_config(512);
    c.arch = "llama";
    c.qkv_bias = false;
    c.tie_embeddings = false;
    return c;
}

bool table_repacks() { return kernels().repack != nullptr; }

// Every layer has both fused views, made of its own parts' bytes.
void check_fused_views(const Model& m) {
    const ModelConfig& c = m.config();
    const int64_t qkv_rows = (c.n_heads + 2 * c.n_kv_heads) * c.head_dim;
    for (const LayerWeights& L : m.weights().layers) {
        REQUIRE(L.qkv_proj.has_value());
        REQUIRE(L.gate_up_proj.has_value());
        CHECK(L.qkv_proj->rows == qkv_rows);
        CHECK(L.qkv_proj->data == L.q_proj.data);
        CHECK(L.gate_up_proj->rows == 2 * c.intermediate_size);
        CHECK(L.gate_up_proj->data == L.gate_proj.data);
        // On the AVX2 table the fused views are of the interleaved-8 repack (the decode layout).
        const WeightLayout want = table_repacks() ? WeightLayout::kInterleaved8 : WeightLayout::kRows;
        CHECK(L.qkv_proj->layout == want);
        CHECK(L.gate_up_proj->layout == want);
    }
}

KvBlockPool make_pool(const Model& m) {
    const ModelConfig& c = m.config();
    return KvBlockPool({int(c.n_layers), int(c.n_kv_heads), int(c.head_dim), 16}, 96);
}

// One sequence: a 40-token prompt in chunks of 16 (all logits), then 4 decode steps.
// Returns every logit row, concatenated.
std::vector<float> run_single(const Model& m, bool fuse) {
    const int64_t V = m.config().vocab_size;
    KvBlockPool pool = make_pool(m);
    SequenceKv seq(pool);
    LlamaGraph graph(m, 128, 16, fuse);
    const std::vector<int32_t> prompt = random_tokens(40, 11);
    std::vector<float> out(size_t(40 * V));
    graph.forward(prompt, seq, out.data(), true);
    std::vector<float> logits(static_cast<size_t>(V));
    for (int32_t t : random_tokens(4, 12)) {
        graph.forward({&t, 1}, seq, logits.data());
        out.insert(out.end(), logits.begin(), logits.end());
    }
    return out;
}

// Three sequences through forward_batch: prompts of 5, 17 and 9 tokens in steps of at most
// 24 rows, then 3 batched decode steps. Returns each item's logits of each step.
std::vector<float> run_batch(const Model& m, bool fuse) {
    const int64_t V = m.config().vocab_size;
    KvBlockPool pool = make_pool(m);
    LlamaGraph graph(m, 128, 24, fuse);
    const size_t lens[] = {5, 17, 9};
    std::vector<std::unique_ptr<SequenceKv>> seqs;
    std::vector<std::vector<int32_t>> tokens;
    for (size_t i = 0; i < 3; ++i) {
        seqs.push_back(std::make_unique<SequenceKv>(pool));
        tokens.push_back(random_tokens(lens[i], 20 + i));
    }
    std::vector<float> out;
    std::vector<std::vector<float>> logits(3, std::vector<float>(size_t(V)));
    for (int step = 0; step < 4; ++step) {
        std::vector<BatchItem> items;
        for (size_t i = 0; i < 3; ++i) items.push_back({seqs[i].get(), tokens[i], logits[i].data()});
        graph.forward_batch(items);
        for (size_t i = 0; i < 3; ++i) {
            out.insert(out.end(), logits[i].begin(), logits[i].end());
            tokens[i] = random_tokens(1, 100 * size_t(step) + i);
        }
    }
    return out;
}

bool identical(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

void check_fused_equals_split(const Model& m) {
    CHECK(identical(run_single(m, true), run_single(m, false)));
    CHECK(identical(run_batch(m, true), run_batch(m, false)));
}

// A q4 .ember file (q8 embedding / lm_head) for `c` with random weights; returns its path.
fs::path write_q4_model(const ModelConfig& c, const std::string& name) {
    std::vector<TensorInfo> plan;
    for (const auto& e : expected_tensors(c)) {
        TensorInfo t;
        t.name = e.name;
        t.shape = e.shape;
        const bool embed = e.name == "model.embed_tokens.weight" || e.name == "lm_head.weight";
        t.dtype = !e.is_matrix ? DType::F32 : embed ? DType::Q8 : DType::Q4;
        plan.push_back(t);
    }
    const nlohmann::json header = {{"format", "ember"}, {"config", config_to_json(c)}};
    const fs::path path =
        fs::temp_directory_path() / ("ember-test-fuse-" + std::to_string(::getpid()) + "-" + name + ".ember");
    ModelFileWriter w(path, header, plan);
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> u(-0.5f, 0.5f);
    for (const auto& t : plan) {
        std::vector<uint8_t> bytes(tensor_bytes(t.dtype, t.shape));
        const int64_t cols = t.shape.back(), rows = t.shape.size() == 2 ? t.shape[0] : 1;
        std::vector<float> row(static_cast<size_t>(cols));
        for (int64_t r = 0; r < rows; ++r) {
            const bool norm = t.name.ends_with("norm.weight");
            for (float& v : row) v = norm ? 1.0f : u(rng);
            uint8_t* dst = bytes.data() + r * dtype_row_bytes(t.dtype, cols);
            if (t.dtype == DType::Q4) quantize_row_q4_ref(row.data(), reinterpret_cast<BlockQ4*>(dst), cols);
            else if (t.dtype == DType::Q8) quantize_row_q8_ref(row.data(), reinterpret_cast<BlockQ8*>(dst), cols);
            else std::memcpy(dst, row.data(), row.size() * sizeof(float));
        }
        w.write_next(t.name, bytes.data(), bytes.size());
    }
    w.finish();
    return path;
}

}  // namespace

TEST_CASE("fuse_rows stacks q4/q8 parts only when their bytes form one matrix") {
    const int64_t cols = 80, rb = dtype_row_bytes(DType::Q4, cols);
    std::vector<uint8_t> buf(size_t(64 * rb));
    auto part = [&](int64_t row0, int64_t rows) { return MatrixView{DType::Q4, rows, cols, buf.data() + row0 * rb, rb}; };

    const MatrixView ok[] = {part(0, 16), part(16, 8), part(24, 13)};  // the last part may be any size
    const auto fused = fuse_rows(ok);
    REQUIRE(fused.has_value());
    CHECK(fused->rows == 37);
    CHECK(fused->data == buf.data());
    CHECK(fused->cols == cols);

    const MatrixView gap[] = {part(0, 16), part(17, 8)};
    CHECK_FALSE(fuse_rows(gap).has_value());
    const MatrixView odd_first[] = {part(0, 12), part(12, 8)};  // its last 4 rows would join a group of 8
    CHECK_FALSE(fuse_rows(odd_first).has_value());
    MatrixView other_layout[] = {part(0, 16), part(16, 8)};
    other_layout[1].layout = WeightLayout::kInterleaved8;
    CHECK_FALSE(fuse_rows(other_layout).has_value());
    MatrixView other_dtype[] = {part(0, 16), part(16, 8)};
    other_dtype[1].dtype = DType::Q8;
    CHECK_FALSE(fuse_rows(other_dtype).has_value());
    MatrixView floats[] = {part(0, 16), part(16, 8)};
    for (MatrixView& m : floats) m.dtype = DType::F32, m.row_bytes = cols * 4;
    floats[1].data = static_cast<const uint8_t*>(floats[0].data) + 16 * cols * 4;
    CHECK_FALSE(fuse_rows(floats).has_value());  // float weights stay split (oneDNN batches)
}

TEST_CASE("fused q|k|v and gate|up give the split matmuls' logits bit for bit (synthetic q4 models)") {
    for (const bool qwen : {true, false}) {
        CAPTURE(qwen);
        const ModelConfig c = qwen ? tiny_qwen2_config(512) : tiny_llama_config();
        auto m = Model::synthetic(c, DType::Q4, DType::Q8, 3);
        check_fused_views(*m);
        check_fused_equals_split(*m);
    }
}

TEST_CASE("a loaded q4 file gets fused views from the repack arena, with the split matmuls' logits") {
    const ModelConfig c = tiny_qwen2_config(512);
    const fs::path path = write_q4_model(c, "qwen2");
    auto m = Model::load(path);
    fs::remove(path);
    if (table_repacks()) {
        // The arena packs k, v after q and up after gate, although the file pads each
        // tensor to 64 bytes (q_proj here is 80 rows x 54 bytes = 4320 bytes, not aligned).
        check_fused_views(*m);
    } else {
        // The file layout itself has those gaps: the graph keeps the split matmuls.
        for (const LayerWeights& L : m->weights().layers) {
            CHECK_FALSE(L.qkv_proj.has_value());
            CHECK_FALSE(L.gate_up_proj.has_value());
        }
    }
    check_fused_equals_split(*m);
}
