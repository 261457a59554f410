// IEEE binary16 <-> binary32 by bit manipulation. Portable on purpose: this is the
// definition the converter, the reference kernels and the tests share; ISA files may use
// F16C / NEON conversions, which round the same way (nearest even, NaN quieted).
#include "kernels/half.h"

namespace ember {

namespace {
constexpr uint32_t kF32ExpMask = 0x7f800000u;
constexpr uint32_t kF32Smallest16Normal = 0x38800000u;         // 2^-14 as f32 bits
constexpr uint32_t kF32HalfSmallest16Subnormal = 0x33000000u;  // 2^-25: ties to 0 (even)
constexpr uint32_t kF32First16Overflow = 0x477ff000u;          // 65520: halfway past 65504, ties to inf
constexpr uint32_t kExpRebias = (127u - 15u) << 23;            // f32 exponent bias minus f16 bias, in place

uint32_t float_bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}

float bits_float(uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

// Shift `value` right by `shift` (1..31), rounding to nearest, ties to even.
uint32_t shift_right_round_even(uint32_t value, uint32_t shift) {
    const uint32_t kept = value >> shift;
    const uint32_t rest = value & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    return kept + ((rest > half || (rest == half && (kept & 1u))) ? 1u : 0u);
}
}  // namespace

uint16_t f32_to_f16(float f) {
    const uint32_t bits = float_bits(f);
    const uint16_t sign = uint16_t((bits >> 16) & 0x8000u);
    const uint32_t mag = bits & 0x7fffffffu;

    if (mag > kF32ExpMask) {
        // NaN: keep the top payload bits and set the quiet bit, as F16C hardware does, so
        // a payload living only in the low bits still yields a NaN rather than inf.
        return uint16_t(sign | 0x7e00u | ((mag >> 13) & 0x3ffu));
    }
    if (mag >= kF32First16Overflow) return uint16_t(sign | 0x7c00u);  // inf or rounds to inf
    if (mag >= kF32Smallest16Normal) {
        // Normal: rebias the exponent, round the 13 dropped mantissa bits. A carry out of
        // the mantissa correctly bumps the exponent (the overflow case was handled above).
        return uint16_t(sign | shift_right_round_even(mag - kExpRebias, 13));
    }
    if (mag <= kF32HalfSmallest16Subnormal) return sign;  // rounds to (signed) zero
    // Subnormal result: value = mant * 2^(exp-150); in units of 2^-24 that is
    // mant >> (126 - exp). Rounding up to 0x400 gives the smallest normal, which is right.
    const uint32_t exp = mag >> 23;
    const uint32_t mant = (mag & 0x7fffffu) | 0x800000u;
    return uint16_t(sign | shift_right_round_even(mant, 126u - exp));
}

float f16_to_f32(uint16_t h) {
    const uint32_t sign = uint32_t(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1fu;
    const uint32_t mant = h & 0x3ffu;
    if (exp == 0x1f) return bits_float(sign | kF32ExpMask | (mant << 13));  // inf / NaN
    if (exp != 0) return bits_float(sign | ((exp << 23) + kExpRebias) | (mant << 13));
    // Zero or subnormal: mant * 2^-24 is exact in f32.
    const float magnitude = float(mant) * bits_float(0x33800000u);  // 2^-24
    return sign ? -magnitude : magnitude;
}

}  // namespace ember
