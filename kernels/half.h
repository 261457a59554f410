// IEEE half and bfloat16 <-> float conversion, scalar and portable.
#pragma once
#include <cstdint>
#include <cstring>

namespace ember {

// Round-to-nearest-even float -> IEEE 754 binary16, handling subnormals, inf and NaN.
uint16_t f32_to_f16(float f);
float f16_to_f32(uint16_t h);

inline float bf16_to_f32(uint16_t h) {
    uint32_t bits = uint32_t(h) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

// Round-to-nearest-even float -> bfloat16 (NaN stays NaN).
inline uint16_t f32_to_bf16(float f) {
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return uint16_t((bits >> 16) | 0x40);  // quiet NaN
    bits += 0x7fffu + ((bits >> 16) & 1u);
    return uint16_t(bits >> 16);
}

}  // namespace ember
