// `ember bench --parallel`: the tg<n> x<P> tests (aggregate decode rate of P sequences in
// one forward_batch per step), their JSON fields, and flag errors.
#include <doctest/doctest.h>

#include "engine_test_util.h"
#include "runtime/bench.h"

using namespace ember;
using namespace ember::test;

TEST_CASE("run_bench --parallel adds one tg<n> x<P> test per P, counting every sequence's tokens") {
    auto m = tiny_engine_model();
    BenchOptions o;
    o.n_prompt = {0};
    o.n_gen = {6};
    o.parallel = {1, 3};
    o.repetitions = 2;
    o.ttft_prompt = 0;
    o.ctx = 64;
    BenchReport r = run_bench(*m, o);
    r.model = summarize_model(*m, "synthetic:tiny", true);
    REQUIRE(r.tests.size() == 3);
    CHECK(r.tests[0].name == "tg6");
    CHECK(r.tests[0].n_parallel == 1);
    CHECK(r.tests[1].name == "tg6 x1");
    CHECK(r.tests[2].name == "tg6 x3");
    CHECK(r.tests[2].n_parallel == 3);
    CHECK(r.tests[2].n_gen == 6);
    for (const auto& t : r.tests) {
        CHECK(t.samples_ts.size() == 2);
        CHECK(t.avg_ts > 0);
    }
    CHECK(r.logits_finite);
    const nlohmann::json j = bench_json(r);
    CHECK(j[2]["test"] == "tg6 x3");
    CHECK(j[2]["n_parallel"] == 3);
    CHECK(j[0]["n_parallel"] == 1);
    const std::string md = format_bench_markdown(r);
    CHECK(md.find("| tg6 x3 |") != std::string::npos);
    CHECK(md.find("decoding together") != std::string::npos);

    o.parallel = {0};
    CHECK_THROWS_WITH_AS(run_bench(*m, o), doctest::Contains("--parallel must be at least 1"), std::invalid_argument);
    o.parallel = {2};
    o.n_gen = {60};  // 16-token prompts + 60 > ctx 64
    CHECK_THROWS_WITH_AS(run_bench(*m, o), doctest::Contains("exceeds --ctx"), std::invalid_argument);
}
