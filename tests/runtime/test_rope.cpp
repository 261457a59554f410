// RoPE frequencies against HF's formulas, computed independently here.
#include <doctest/doctest.h>

#include <cmath>
#include <numbers>

#include "runtime/rope.h"

using namespace ember;

namespace {
ModelConfig base_config() {
    ModelConfig c;
    c.arch = "llama";
    c.head_dim = 64;
    c.rope_theta = 500000.0;
    return c;
}
}  // namespace

TEST_CASE("default frequencies are theta^(-2i/d)") {
    ModelConfig c = base_config();
    RopeTable t = make_rope_table(c);
    REQUIRE(t.inv_freq.size() == 32);
    for (int i = 0; i < 32; ++i) CHECK(t.inv_freq[size_t(i)] == doctest::Approx(std::pow(500000.0, -2.0 * i / 64)));
    float cs[32], sn[32];
    t.at(7, cs, sn);
    CHECK(cs[3] == doctest::Approx(std::cos(7 * t.inv_freq[3])));
    CHECK(sn[3] == doctest::Approx(std::sin(7 * t.inv_freq[3])));
}

TEST_CASE("llama3 scaling: high frequencies kept, low divided by factor, band interpolated") {
    ModelConfig c = base_config();
    c.rope_scaling = {"llama3", 32.0, 1.0, 4.0, 8192};
    RopeTable t = make_rope_table(c);
    const double lo_wavelen = 8192 / 1.0, hi_wavelen = 8192 / 4.0;
    int kept = 0, divided = 0, blended = 0;
    for (int i = 0; i < 32; ++i) {
        const double f = std::pow(500000.0, -2.0 * i / 64), wl = 2 * std::numbers::pi / f;
        double expect;
        if (wl < hi_wavelen) {
            expect = f;
            ++kept;
        } else if (wl > lo_wavelen) {
            expect = f / 32;
            ++divided;
        } else {
            const double smooth = (8192 / wl - 1.0) / (4.0 - 1.0);
            expect = (1 - smooth) * f / 32 + smooth * f;
            ++blended;
        }
        CHECK(t.inv_freq[size_t(i)] == doctest::Approx(expect).epsilon(1e-12));
    }
    CHECK(kept > 0);
    CHECK(divided > 0);
    CHECK(blended > 0);  // the config exercises all three branches
}

TEST_CASE("yarn: attention factor 0.1 ln(s) + 1 and frequencies between interpolation and extrapolation") {
    ModelConfig c = base_config();
    c.rope_theta = 1000000.0;
    c.rope_scaling.type = "yarn";
    c.rope_scaling.factor = 4.0;
    c.rope_scaling.original_max_position = 32768;
    RopeTable t = make_rope_table(c);
    CHECK(t.attention_factor == doctest::Approx(0.1 * std::log(4.0) + 1.0));
    for (int i = 0; i < 32; ++i) {
        const double f = std::pow(1e6, -2.0 * i / 64);
        CHECK(t.inv_freq[size_t(i)] <= f * (1 + 1e-12));
        CHECK(t.inv_freq[size_t(i)] >= f / 4 * (1 - 1e-12));
    }
    CHECK(t.inv_freq[0] == doctest::Approx(1.0));         // fastest: extrapolated (unchanged)
    CHECK(t.inv_freq[31] == doctest::Approx(std::pow(1e6, -62.0 / 64) / 4));  // slowest: interpolated
}
