// f16 / bf16 conversion: exhaustive round trips, known values, ties to even, and (where
// the compiler has _Float16) agreement with the compiler's own conversion.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <ios>
#include <limits>

#include "kernels/half.h"

using namespace ember;

namespace {
float bits_to_float(uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
uint32_t float_to_bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}
bool f16_is_nan(uint16_t h) {
    return (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0;
}
bool bf16_is_nan(uint16_t h) {
    return (h & 0x7f80u) == 0x7f80u && (h & 0x7fu) != 0;
}
}  // namespace

TEST_CASE("f16 -> f32 -> f16 round trip is exact for all 65536 patterns (NaN stays NaN)") {
    int failures = 0;
    for (uint32_t h = 0; h < 65536; ++h) {
        const float f = f16_to_f32(uint16_t(h));
        const uint16_t back = f32_to_f16(f);
        const bool ok = f16_is_nan(uint16_t(h))
                            ? (std::isnan(f) && f16_is_nan(back) && (back & 0x8000u) == (h & 0x8000u))
                            : back == h;
        if (!ok && failures++ < 5) FAIL_CHECK("f16 0x" << std::hex << h << " -> " << f << " -> 0x" << back);
    }
    CHECK(failures == 0);
}

TEST_CASE("f16 -> f32 is monotone over the finite positive patterns") {
    // Every representable value decodes to a distinct, increasing float: catches exponent
    // or subnormal scaling mistakes the round trip alone would hide.
    for (uint32_t h = 1; h < 0x7c00u; ++h) {
        if (!(f16_to_f32(uint16_t(h)) > f16_to_f32(uint16_t(h - 1)))) {
            FAIL("not increasing at 0x" << std::hex << h);
        }
    }
}

TEST_CASE("f16 known values") {
    CHECK(f32_to_f16(0.0f) == 0x0000);
    CHECK(f32_to_f16(-0.0f) == 0x8000);
    CHECK(f32_to_f16(1.0f) == 0x3c00);
    CHECK(f32_to_f16(-2.0f) == 0xc000);
    CHECK(f32_to_f16(0.1f) == 0x2e66);
    CHECK(f32_to_f16(65504.0f) == 0x7bff);   // largest finite
    CHECK(f32_to_f16(65519.99f) == 0x7bff);  // just below the rounding boundary
    CHECK(f32_to_f16(65520.0f) == 0x7c00);   // halfway to "65536": ties to inf
    CHECK(f32_to_f16(1e10f) == 0x7c00);      // overflow -> inf
    CHECK(f32_to_f16(-1e10f) == 0xfc00);
    CHECK(f32_to_f16(std::numeric_limits<float>::infinity()) == 0x7c00);
    CHECK(f32_to_f16(std::ldexp(1.0f, -14)) == 0x0400);   // smallest normal
    CHECK(f32_to_f16(std::ldexp(1.0f, -24)) == 0x0001);   // smallest subnormal
    CHECK(f32_to_f16(std::ldexp(1.0f, -30)) == 0x0000);   // underflow -> 0
    CHECK(f32_to_f16(-std::ldexp(1.0f, -30)) == 0x8000);  // keeps the sign
    CHECK(f32_to_f16(std::numeric_limits<float>::denorm_min()) == 0x0000);
    CHECK(f16_is_nan(f32_to_f16(std::numeric_limits<float>::quiet_NaN())));
    // A NaN whose payload lives only in bits f16 drops must not become inf.
    CHECK(f16_is_nan(f32_to_f16(bits_to_float(0x7f800001u))));

    CHECK(f16_to_f32(0x3c00) == 1.0f);
    CHECK(f16_to_f32(0x7bff) == 65504.0f);
    CHECK(f16_to_f32(0x0001) == std::ldexp(1.0f, -24));
    CHECK(f16_to_f32(0x03ff) == std::ldexp(1023.0f, -24));
    CHECK(f16_to_f32(0x7c00) == std::numeric_limits<float>::infinity());
    CHECK(f16_to_f32(0xfc00) == -std::numeric_limits<float>::infinity());
    CHECK(std::signbit(f16_to_f32(0x8000)));
}

TEST_CASE("f16 rounding ties go to even") {
    const float ulp1 = std::ldexp(1.0f, -10);                              // f16 spacing in [1, 2)
    CHECK(f32_to_f16(1.0f + ulp1 / 2) == 0x3c00);                          // tie, 0x3c00 even
    CHECK(f32_to_f16(1.0f + 3 * ulp1 / 2) == 0x3c02);                      // tie, 0x3c02 even
    CHECK(f32_to_f16(1.0f + ulp1 / 2 + std::ldexp(1.0f, -20)) == 0x3c01);  // just above tie
    CHECK(f32_to_f16(1.0f + ulp1 / 2 - std::ldexp(1.0f, -20)) == 0x3c00);  // just below tie
    // Subnormal ties: 2^-25 is halfway between 0 and 2^-24; 3 * 2^-25 between 1 and 2 units.
    CHECK(f32_to_f16(std::ldexp(1.0f, -25)) == 0x0000);
    CHECK(f32_to_f16(std::ldexp(1.0f, -25) * 1.0001f) == 0x0001);
    CHECK(f32_to_f16(std::ldexp(3.0f, -25)) == 0x0002);
    CHECK(f32_to_f16(std::ldexp(5.0f, -25)) == 0x0002);
    // Largest subnormal + half a unit: tie between 0x03ff (odd) and 0x0400 (even, normal).
    CHECK(f32_to_f16(std::ldexp(2047.0f, -25)) == 0x0400);
}

#if defined(__aarch64__)
using CompilerF16 = __fp16;  // g++ 12 has no C++ _Float16 on aarch64; __fp16 converts with FCVT (IEEE, RNE)
#elif defined(__FLT16_MAX__)
using CompilerF16 = _Float16;
#endif
#if defined(__aarch64__) || defined(__FLT16_MAX__)
TEST_CASE("f32_to_f16 agrees with the compiler's _Float16 conversion on a sweep of all floats") {
    // Every 1021st f32 pattern (4.2M values, all exponents, varied low bits) plus every pattern
    // whose low 13 bits sit at or next to the rounding boundary.
    int failures = 0;
    auto check = [&](uint32_t bits) {
        const float f = bits_to_float(bits);
        const CompilerF16 h = static_cast<CompilerF16>(f);
        uint16_t want;
        std::memcpy(&want, &h, 2);
        const uint16_t got = f32_to_f16(f);
        const bool ok = std::isnan(f) ? f16_is_nan(got) : got == want;
        if (!ok && failures++ < 5)
            FAIL_CHECK("f32 0x" << std::hex << bits << ": got 0x" << got << ", compiler 0x" << want);
    };
    for (uint64_t bits = 0; bits <= 0xffffffffu; bits += 1021) check(uint32_t(bits));
    for (uint32_t high = 0; high < (1u << 19); ++high)
        for (uint32_t low : {0x0fffu, 0x1000u, 0x1001u}) check((high << 13) | low);
    CHECK(failures == 0);
}
#endif

TEST_CASE("bf16 round trip and rounding") {
    int failures = 0;
    for (uint32_t h = 0; h < 65536; ++h) {
        const float f = bf16_to_f32(uint16_t(h));
        const uint16_t back = f32_to_bf16(f);
        const bool ok = bf16_is_nan(uint16_t(h)) ? (std::isnan(f) && bf16_is_nan(back)) : back == h;
        if (!ok && failures++ < 5) FAIL_CHECK("bf16 0x" << std::hex << h << " -> 0x" << back);
    }
    CHECK(failures == 0);

    CHECK(f32_to_bf16(1.0f) == 0x3f80);
    CHECK(f32_to_bf16(1.0f + std::ldexp(1.0f, -8)) == 0x3f80);  // tie -> even
    CHECK(f32_to_bf16(1.0f + std::ldexp(3.0f, -8)) == 0x3f82);  // tie -> even
    CHECK(f32_to_bf16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)) == 0x3f81);
    CHECK(f32_to_bf16(std::numeric_limits<float>::max()) == 0x7f80);  // rounds past the max -> inf
    CHECK(bf16_is_nan(f32_to_bf16(bits_to_float(0x7f800001u))));      // low-payload NaN stays NaN
    CHECK(float_to_bits(bf16_to_f32(0xbf80)) == float_to_bits(-1.0f));
}
