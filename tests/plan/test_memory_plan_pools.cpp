// Memory planner against the pools the runtime really builds: --kv-mem (the planned KV
// bytes equal a KvBlockPool sized by kv_pool_blocks from those bytes) and bench --parallel
// (the planned extra pool equals the one run_parallel_tests builds), and the refusal that
// names the largest --parallel that fits.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "runtime/bench.h"
#include "runtime/convert/hf_config.h"
#include "runtime/convert/json_file.h"
#include "runtime/kv_cache.h"
#include "runtime/memory_plan.h"
#include "runtime/memory_stats.h"

using namespace ember;
namespace fs = std::filesystem;

namespace {

ModelConfig tiny_config() {  // tests/plan/tiny_config.json: 2 layers, 2 kv heads, head_dim 8, max 128
    const char* r = std::getenv("EMBER_SOURCE_ROOT");
    const fs::path root = r ? fs::path(r) : fs::path(__FILE__).parent_path().parent_path().parent_path();
    return model_config_from_hf(read_json_file(root / "tests" / "plan" / "tiny_config.json"));
}

KvCacheShape shape_of(const ModelConfig& c, DType kv_type) {
    return {int(c.n_layers), int(c.n_kv_heads), int(c.head_dim), 16, kv_type};
}

}  // namespace

TEST_CASE("--kv-mem: planned KV bytes are what the pool allocates") {
    const ModelConfig c = tiny_config();
    const WeightBytes w = weight_bytes_for_type(c, DType::Q8);
    for (DType kv : {DType::F32, DType::F16, DType::Q8}) {
        const KvCacheShape shape = shape_of(c, kv);
        const uint64_t block = uint64_t(kv_block_bytes(shape));
        // Exact multiples of a block, a byte short of one, odd sizes: the pool keeps whole blocks.
        for (uint64_t kv_mem : {8 * block, 8 * block - 1, 13 * block + 7, uint64_t(1) << 20}) {
            PlanOptions o;
            o.ctx = 100;  // 7 blocks: every kv_mem above holds at least that
            o.kv_type = kv;
            o.kv_mem = kv_mem;
            const MemoryPlan p = memory_plan(c, w, o);
            const KvBlockPool pool(shape, kv_pool_blocks(shape, o.ctx, 1, kv_mem));
            INFO("kv type " << dtype_name(kv) << ", --kv-mem " << kv_mem);
            CHECK(p.kv_cache == uint64_t(pool.bytes()));
            CHECK(p.kv_cache == kv_mem / block * block);
            CHECK(p.total == p.weights + p.kv_cache + p.scratch + p.overhead);
            // Without --kv-mem the same ctx plans the ctx-sized pool the run builds.
            o.kv_mem = 0;
            const KvBlockPool by_ctx(shape, kv_pool_blocks(shape, o.ctx, 1));
            CHECK(memory_plan(c, w, o).kv_cache == uint64_t(by_ctx.bytes()));
        }
    }
    // A budget that holds fewer positions than --ctx: the pool's own error, before loading.
    PlanOptions o;
    o.ctx = 100;
    o.kv_type = DType::F16;
    o.kv_mem = uint64_t(kv_block_bytes(shape_of(c, DType::F16))) * 6;  // 96 positions
    CHECK_THROWS_WITH_AS(memory_plan(c, w, o), doctest::Contains("fewer than the context of 100"),
                         std::invalid_argument);
}

TEST_CASE("--kv-mem: the largest fitting context is capped at the positions the pool holds") {
    const ModelConfig c = tiny_config();
    const WeightBytes w = weight_bytes_for_type(c, DType::F32);
    PlanOptions o;
    o.ctx = 16;
    o.kv_type = DType::F16;
    o.kv_mem = uint64_t(kv_block_bytes(shape_of(c, DType::F16))) * 3;  // 48 positions
    const uint64_t plenty = memory_plan(c, w, o).total * 4;
    CHECK(largest_fitting_context(c, w, o, plenty) == 48);
    o.kv_mem = 1;  // not one block
    CHECK(largest_fitting_context(c, w, o, plenty) == 0);
}

TEST_CASE("bench --parallel: the extra pool equals the one the bench builds, and grows the plan") {
    const ModelConfig c = tiny_config();
    const WeightBytes w = weight_bytes_for_type(c, DType::Q4);
    PlanOptions o;
    o.ctx = 128;
    o.kv_type = DType::Q8;
    o.n_threads = 2;
    const MemoryPlan single = memory_plan(c, w, o);
    CHECK(single.parallel == 0);
    o.parallel = 64;
    o.parallel_gen = 40;  // 16 + 40 = 56 positions per sequence: 4 blocks
    const MemoryPlan par = memory_plan(c, w, o);
    // run_parallel_tests (runtime/bench.cpp): KvBlockPool(shape, kv_pool_blocks(shape, 16 + n, P)).
    const KvCacheShape shape = shape_of(c, DType::Q8);
    const KvBlockPool pool(shape, kv_pool_blocks(shape, kParallelPrompt + 40, 64));
    CHECK(par.parallel_kv == uint64_t(pool.bytes()));
    CHECK(par.parallel_kv == 64 * 4 * uint64_t(kv_block_bytes(shape)));
    // Its graph: LlamaGraph(model, 56, max(256, P)) scratch, at least.
    CHECK(par.parallel_scratch > graph_scratch_bytes(c, kParallelMinBatch, 56, 2));
    CHECK(par.parallel == par.parallel_kv + par.parallel_scratch);
    CHECK(par.total == single.total + par.parallel);
    // Everything else is the single-sequence plan.
    CHECK(par.kv_cache == single.kv_cache);
    CHECK(par.scratch == single.scratch);
    o.parallel = 128;
    CHECK(memory_plan(c, w, o).parallel > par.parallel);
}

TEST_CASE("bench --parallel: refused between the single-sequence and the parallel need") {
    const ModelConfig c = tiny_config();
    PlanOptions o;
    o.ctx = 128;
    o.kv_type = DType::F16;
    o.parallel = 256;
    o.parallel_gen = 100;
    const MemoryPlan par = memory_plan(c, weight_bytes_for_type(c, DType::F32), o, "tiny.ember (f32)");
    PlanOptions one = o;
    one.parallel = 0;
    const uint64_t single = memory_plan(c, weight_bytes_for_type(c, DType::F32), one).total;
    REQUIRE(single < par.total);
    const uint64_t budget = single + (par.total - single) / 2;
    try {
        check_fits(par, {budget, "--mem test"});
        FAIL("expected InsufficientMemory");
    } catch (const InsufficientMemory& e) {
        const std::string msg = e.what();
        INFO(msg);
        CHECK(msg.find("--parallel 256 KV cache " + format_bytes(par.parallel_kv)) != std::string::npos);
        CHECK(msg.find("the largest --parallel that fits is ") != std::string::npos);
        // The P it names fits, P + 1 does not.
        const int64_t p = std::stoll(msg.substr(msg.find("fits is ") + 8));
        PlanOptions at = o;
        at.parallel = p;
        CHECK(memory_plan(c, par.weight_bytes, at).total <= budget);
        at.parallel = p + 1;
        CHECK(memory_plan(c, par.weight_bytes, at).total > budget);
    }
}
