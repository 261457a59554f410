// Memory planner: byte arithmetic for known configs (hand-computed numbers), the .ember
// header inventory against the converter's rules, /proc/meminfo and cgroup parsing on
// fixture files, and the refusal message.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

#include <unistd.h>

#include "runtime/convert/converter.h"
#include "runtime/convert/hf_config.h"
#include "runtime/convert/json_file.h"
#include "runtime/memory_plan.h"
#include "runtime/memory_stats.h"
#include "runtime/model_file.h"

using namespace ember;
namespace fs = std::filesystem;

namespace {

fs::path source_root() {
    const char* r = std::getenv("EMBER_SOURCE_ROOT");
    return r ? fs::path(r) : fs::path(__FILE__).parent_path().parent_path().parent_path();
}
fs::path here() { return source_root() / "tests" / "plan"; }
fs::path fixtures() { return here() / "fixtures"; }

fs::path shared_dir() {
    const char* s = std::getenv("EMBER_SHARED");
    return s ? fs::path(s) : source_root() / ".." / "shared";
}

ModelConfig tiny_config() { return model_config_from_hf(read_json_file(here() / "tiny_config.json")); }

}  // namespace

TEST_CASE("tiny config: weights per type, KV per token, scratch (hand-computed)") {
    // Llama, vocab 64, hidden 32, intermediate 96, 2 layers, 4 heads, 2 kv heads (head_dim 8),
    // untied lm_head, no biases. Per layer: q 32x32, k 16x32, v 16x32, o 32x32, gate/up 96x32,
    // down 32x96, two norms [32]; plus embed 64x32, lm_head 64x32, final norm [32].
    const ModelConfig c = tiny_config();
    // f32: (2048 + 2 * (1024 + 512 + 512 + 1024 + 3 * 3072 + 64) + 32 + 2048) * 4 = 28832 * 4
    CHECK(weight_bytes_for_type(c, DType::F32).total() == 115328);
    // f16 halves every matrix; norms stay f32: (28832 - 160) * 2 + 160 * 4
    CHECK(weight_bytes_for_type(c, DType::F16).total() == 57984);
    CHECK(weight_bytes_for_type(c, DType::BF16).total() == 57984);
    // q4: embed and lm_head q8 (64 rows x one 34 B block), matrices with K = 32 one 18 B block
    // per row, down (K = 96) three; norms f32.
    //   2 * 64 * 34 + 2 * ((32 + 16 + 16 + 32 + 96 + 96) * 18 + 32 * 54) + 160 * 4
    const WeightBytes q4 = weight_bytes_for_type(c, DType::Q4);
    CHECK(q4.total() == 18816);
    CHECK(q4.by_dtype.at(DType::Q8) == 4352);
    CHECK(q4.by_dtype.at(DType::Q4) == 13824);
    CHECK(q4.by_dtype.at(DType::F32) == 640);
    // q8 everywhere (34 B per 32): 2 * 64 * 34 + 2 * (288 * 34 + 32 * 102) + 640
    CHECK(weight_bytes_for_type(c, DType::Q8).total() == 31104);

    // KV per token: 2 layers x (K, V) x 2 kv heads x head_dim 8.
    CHECK(kv_bytes_per_token(c, DType::F32) == 2 * 2 * 2 * 8 * 4);
    CHECK(kv_bytes_per_token(c, DType::F16) == 2 * 2 * 2 * 8 * 2);
    CHECK(kv_bytes_per_token(c, DType::Q8) == 2 * 2 * 2 * 34);  // one BlockQ8 per 8-element row
    CHECK_THROWS_AS(kv_bytes_per_token(c, DType::Q4), std::invalid_argument);

    PlanOptions o;
    o.ctx = 100;  // 7 pool blocks of 16 positions
    o.kv_type = DType::F16;
    o.max_batch = 256;
    o.n_threads = 2;
    const MemoryPlan p = memory_plan(c, q4, o);
    CHECK(p.weights == 18816);
    CHECK(p.kv_cache == 112 * 128);
    // LlamaGraph floats: 256 * (3*32 + 2*32 + 2*16 + 2*96 + 8) + 2 threads * 100 ctx scores
    CHECK(p.graph_scratch == (256 * 392 + 200) * 4);
    CHECK(p.logits == 64 * 13);
    CHECK(p.scratch == p.graph_scratch + p.logits + p.kernel_scratch);
    CHECK(p.overhead == kRuntimeOverheadBytes);
    CHECK(p.total == p.weights + p.kv_cache + p.scratch + p.overhead);
}

TEST_CASE("Qwen2.5-0.5B-Instruct config.json: exact weight and KV bytes") {
    const fs::path cfg = shared_dir() / "configs" / "Qwen2.5-0.5B-Instruct" / "config.json";
    if (!fs::exists(cfg)) {
        MESSAGE("skipped: " << cfg.string() << " not found (needs ../shared/configs)");
        return;
    }
    const PlanSource src = plan_source(cfg.parent_path());
    CHECK_FALSE(src.is_ember_file);
    CHECK(plan_source(cfg).config.vocab_size == src.config.vocab_size);  // the config.json itself works too
    // 494,032,768 parameters (136,134,656 in the tied embedding).
    CHECK(weight_bytes_for_type(src.config, DType::F32).total() == uint64_t(494032768) * 4);
    // q4: embedding q8 151936 x 952 B; per layer q4 matrices 8,386,560 B (rows x 504 B for
    // K = 896, down 896 x 2736 B for K = 4864); norms and biases f32 (71,552 floats).
    CHECK(weight_bytes_for_type(src.config, DType::Q4).total() == 346206720);
    // q8: embedding as above, per layer 15,841,280 B (504 -> 952, 2736 -> 5168 B rows).
    CHECK(weight_bytes_for_type(src.config, DType::Q8).total() == uint64_t(144643072) + 24 * 15841280 + 286208);
    // KV per token: 24 layers x 2 x 2 kv heads x 64.
    CHECK(kv_bytes_per_token(src.config, DType::F16) == 12288);
    CHECK(kv_bytes_per_token(src.config, DType::F32) == 24576);
    CHECK(kv_bytes_per_token(src.config, DType::Q8) == 24 * 2 * 2 * 68);
    PlanOptions o;
    o.ctx = 4096;
    o.kv_type = DType::F16;
    CHECK(memory_plan(src.config, weight_bytes_for_type(src.config, DType::Q4), o).kv_cache == 4096 * 12288);
}

TEST_CASE("a .ember header gives the same bytes as the converter's rules, without loading") {
    const ModelConfig c = tiny_config();
    ConvertOptions opts;
    opts.type = DType::Q4;
    std::vector<TensorInfo> plan;
    plan.push_back({"tokenizer.json", DType::U8, {1000}, 0, 0, nullptr});
    for (const auto& e : expected_tensors(c)) plan.push_back({e.name, stored_dtype(e, opts), e.shape, 0, 0, nullptr});
    const fs::path path = fs::temp_directory_path() / ("ember_plan_test_" + std::to_string(::getpid()) + ".ember");
    {
        nlohmann::json header = {{"format", "ember"}, {"config", config_to_json(c)}, {"weights_type", "q4"}};
        ModelFileWriter w(path, header, plan);
        for (const auto& t : plan) {
            std::vector<uint8_t> zeros(tensor_bytes(t.dtype, t.shape));
            w.write_next(t.name, zeros.data(), zeros.size());
        }
        w.finish();
    }
    const PlanSource src = plan_source(path);
    CHECK(src.is_ember_file);
    CHECK(src.weight_type == DType::Q4);
    CHECK(src.tokenizer_file == 1000);
    CHECK(src.ember_weights.by_dtype == weight_bytes_for_type(c, DType::Q4).by_dtype);
    const WeightBytes w = source_weight_bytes(src, DType::F32);  // a file keeps its own types
    CHECK(w.total() == 18816);
    PlanOptions o;
    o.ctx = 64;
    CHECK(memory_plan(c, w, o).overhead == kRuntimeOverheadBytes + 1000 * kTokenizerMemoryFactor + kTokenizerBaseBytes);
    fs::remove(path);

    // Not an .ember file: a clear error naming it.
    const fs::path bogus = fs::temp_directory_path() / ("ember_plan_bogus_" + std::to_string(::getpid()));
    std::ofstream(bogus) << "this is not a model file at all";
    CHECK_THROWS_WITH_AS(plan_source(bogus), doctest::Contains("bad magic"), ModelFileError);
    fs::remove(bogus);
}

TEST_CASE("largest fitting context") {
    const ModelConfig c = tiny_config();  // max_position 128
    const WeightBytes w = weight_bytes_for_type(c, DType::F32);
    PlanOptions o;
    o.kv_type = DType::F32;
    o.n_threads = 1;
    o.ctx = 128;
    const uint64_t full = memory_plan(c, w, o).total;
    CHECK(largest_fitting_context(c, w, o, full) == 128);
    CHECK(largest_fitting_context(c, w, o, full * 2) == 128);  // capped at max_position_embeddings
    o.ctx = 40;
    const uint64_t at40 = memory_plan(c, w, o).total;
    const int64_t n = largest_fitting_context(c, w, o, at40);
    CHECK(n >= 40);
    o.ctx = n;
    CHECK(memory_plan(c, w, o).total <= at40);
    o.ctx = n + 1;
    CHECK(memory_plan(c, w, o).total > at40);
    CHECK(largest_fitting_context(c, w, o, 1024) == 0);  // not even the weights
}

TEST_CASE("check_fits: passes, refuses with needed vs available and what would fit") {
    const ModelConfig c = tiny_config();
    PlanOptions o;
    o.ctx = 128;
    o.kv_type = DType::F32;
    const MemoryPlan p = memory_plan(c, weight_bytes_for_type(c, DType::F32), o, "tiny.ember (f32)");
    CHECK_NOTHROW(check_fits(p, {p.total, "test"}));
    CHECK_NOTHROW(check_fits(p, {0, "unknown"}));  // unknown budget: nothing to check against
    o.ctx = 16;
    const uint64_t budget = memory_plan(c, weight_bytes_for_type(c, DType::F32), o).total;
    try {
        check_fits(p, {budget, "--mem 1M"});
        FAIL("expected InsufficientMemory");
    } catch (const InsufficientMemory& e) {
        const std::string msg = e.what();
        INFO(msg);
        CHECK(msg.find("tiny.ember (f32) with --ctx 128") != std::string::npos);
        CHECK(msg.find("needs " + format_bytes(p.total)) != std::string::npos);
        CHECK(msg.find("only " + format_bytes(budget) + " is available (--mem 1M)") != std::string::npos);
        CHECK(msg.find("the largest context that fits is --ctx ") != std::string::npos);
        CHECK(msg.find("--no-mem-check") != std::string::npos);
    }
    try {
        check_fits(p, {1 << 20, "--mem 1M"});
        FAIL("expected InsufficientMemory");
    } catch (const InsufficientMemory& e) {
        CHECK(std::string(e.what()).find("not even a 1-token context fits") != std::string::npos);
    }
}

TEST_CASE("MemAvailable from a meminfo file") {
    CHECK(parse_meminfo_available(fixtures() / "meminfo") == uint64_t(23975540) * 1024);
    CHECK_FALSE(parse_meminfo_available(fixtures() / "meminfo_no_available").has_value());
    CHECK_FALSE(parse_meminfo_available(fixtures() / "does_not_exist").has_value());
}

TEST_CASE("cgroup headroom: v2, v1, container fallback, no limit") {
    // v2: the scope has memory.max "max"; its parent slice 2 GiB with 1 GiB used, of which
    // 256 MiB inactive page cache: 2 GiB - 768 MiB.
    auto v2 = cgroup_memory_headroom(fixtures() / "v2" / "proc_self_cgroup", fixtures() / "v2" / "root");
    REQUIRE(v2.has_value());
    CHECK(v2->bytes == 1342177280);
    CHECK(v2->limit == 2147483648);
    CHECK(v2->where.ends_with("user.slice"));
    // v1: the memory line among others; 512 MiB - (100 MiB - 4 MiB total_inactive_file);
    // the root's "unlimited" 9223372036854771712 is no limit.
    auto v1 = cgroup_memory_headroom(fixtures() / "v1" / "proc_self_cgroup", fixtures() / "v1" / "root");
    REQUIRE(v1.has_value());
    CHECK(v1->bytes == 436207616);
    CHECK(v1->limit == 536870912);
    // The host path does not exist inside the container: the root's files, usage over the limit.
    auto box = cgroup_memory_headroom(fixtures() / "v1_container" / "proc_self_cgroup",
                                      fixtures() / "v1_container" / "root");
    REQUIRE(box.has_value());
    CHECK(box->bytes == 0);
    CHECK(box->limit == 268435456);
    CHECK_FALSE(cgroup_memory_headroom(fixtures() / "unlimited" / "proc_self_cgroup", fixtures() / "unlimited" / "root")
                    .has_value());
    CHECK_FALSE(cgroup_memory_headroom(fixtures() / "absent", fixtures() / "absent").has_value());
}

TEST_CASE("budget: the smaller of MemAvailable and the cgroup headroom; --mem overrides") {
    const MemoryBudget b =
        detect_memory_budget(fixtures() / "meminfo", fixtures() / "v2" / "proc_self_cgroup", fixtures() / "v2" / "root");
    CHECK(b.bytes == 1342177280);
    CHECK(b.source.find("cgroup limit 2.00 GiB") != std::string::npos);
    const MemoryBudget m = detect_memory_budget(fixtures() / "meminfo", fixtures() / "unlimited" / "proc_self_cgroup",
                                                fixtures() / "unlimited" / "root");
    CHECK(m.bytes == uint64_t(23975540) * 1024);
    CHECK(m.source.find("MemAvailable") != std::string::npos);
    const MemoryBudget none = detect_memory_budget(fixtures() / "meminfo_no_available",
                                                   fixtures() / "unlimited" / "proc_self_cgroup",
                                                   fixtures() / "unlimited" / "root");
    CHECK(none.bytes == 0);
    CHECK(memory_budget_from_flag("--mem", "4G").bytes == uint64_t(4) << 30);
    CHECK(memory_budget_from_flag("--mem", "4G").source == "--mem 4G");
    CHECK_THROWS_WITH_AS(memory_budget_from_flag("--mem", "lots"), doctest::Contains("--mem: 'lots'"),
                         std::invalid_argument);
    CHECK(detect_memory_budget().bytes > 0);  // this machine has /proc/meminfo
}
