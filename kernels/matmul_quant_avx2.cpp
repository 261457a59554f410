// Q4 / Q8 weights x int8-quantized activations (kernels_avx2.h: QuantizedActs), AVX2.
// Compiled with -mavx2 -mfma -mf16c.
//
// Per 32-block the integer dot product is exact (int16 pair sums, then int32); it is
// scaled by d_w * d_x and accumulated in f32. Two shapes:
//   n_tokens == 1 (decode): rows in the file layout, 4 rows per step sharing the x loads.
//     Memory bound: each weight byte is read once.
//   n_tokens > 1 (prefill): tiles of 8 rows are re-laid out (in a per-thread buffer) so a
//     32-byte load holds 4 consecutive weights of each of the 8 rows; one broadcast 4-byte
//     activation chunk then feeds all 8 rows, and the 8 dot products land in the 8 lanes of
//     one register, so no horizontal sums. Each weight load serves 4 tokens.
#include "kernels/kernels_avx2.h"
#include "kernels/quant.h"
#include "kernels/scratch.h"
#include "kernels/simd_avx2.h"

namespace ember::avx2 {

namespace {

constexpr int64_t kParallelMinMacs = 32768;  // below this a matmul stays on one thread

inline __m256 scale_of(uint16_t scale_f16) { return _mm256_set1_ps(f16_scalar(scale_f16)); }

// int32 lanes -> add the sum of 8 int32 lanes times `scale` into acc.
inline __m256 fma_lanes(__m256i lanes, __m256 scale, __m256 acc) {
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(lanes), scale, acc);
}

// ---------------------------------------------------------------- decode: one token

// Decode streams each weight byte from DRAM once. Rows are short (a few hundred bytes), too
// short for the hardware prefetcher to ramp up on each, so the kernel asks for the same
// spot of the next row group (`ahead` bytes on) while it works on this one.
inline void prefetch_ahead(const void* p, int64_t ahead) {
    _mm_prefetch(static_cast<const char*>(p) + ahead, _MM_HINT_T0);
}

// Q4 block -> 32 unsigned nibbles in element order: low nibbles are elements 0..15, high 16..31.
inline __m256i q4_nibbles(const BlockQ4& b) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.q));
    const __m256i both = _mm256_inserti128_si256(_mm256_castsi128_si256(v), _mm_srli_epi16(v, 4), 1);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
}

// Rows [r0, r0 + R) of a Q4 matrix times one token. dot(n - 8, q) = dot(n, q) - 8 sum(q):
// maddubs takes the unsigned nibbles directly (pair sums <= 2*15*127, no saturation).
template <int R>
void matvec_q4_rows(const MatrixView& w, const QuantizedActs& x, int64_t r0, float* y) {
    const auto* base = static_cast<const uint8_t*>(w.data);
    const BlockQ4* row[R];
    for (int i = 0; i < R; ++i) row[i] = reinterpret_cast<const BlockQ4*>(base + (r0 + i) * w.row_bytes);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[R];
    for (int i = 0; i < R; ++i) acc[i] = _mm256_setzero_ps();
    for (int64_t b = 0; b < x.n_blocks; ++b) {
        const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.q + b * 32));
        // -8 * sum(q) in lane 0 only: added once to the 8 partial lanes.
        const __m256i corr = _mm256_zextsi128_si256(_mm_cvtsi32_si128(-8 * x.sum[b]));
        const float dx = x.d[b];
        for (int i = 0; i < R; ++i) {
            prefetch_ahead(&row[i][b], R * w.row_bytes);
            const __m256i prod = _mm256_madd_epi16(_mm256_maddubs_epi16(q4_nibbles(row[i][b]), xq), ones);
            acc[i] = fma_lanes(_mm256_add_epi32(prod, corr), _mm256_set1_ps(f16_scalar(row[i][b].scale_f16) * dx),
                               acc[i]);
        }
    }
    for (int i = 0; i < R; ++i) y[r0 + i] = hsum(acc[i]);
}

// Q8: maddubs needs one unsigned operand, so |w| times q with w's sign moved onto q
// (pair sums <= 2*127*127 fit int16).
template <int R>
void matvec_q8_rows(const MatrixView& w, const QuantizedActs& x, int64_t r0, float* y) {
    const auto* base = static_cast<const uint8_t*>(w.data);
    const BlockQ8* row[R];
    for (int i = 0; i < R; ++i) row[i] = reinterpret_cast<const BlockQ8*>(base + (r0 + i) * w.row_bytes);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[R];
    for (int i = 0; i < R; ++i) acc[i] = _mm256_setzero_ps();
    for (int64_t b = 0; b < x.n_blocks; ++b) {
        const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.q + b * 32));
        const float dx = x.d[b];
        for (int i = 0; i < R; ++i) {
            prefetch_ahead(&row[i][b], R * w.row_bytes);
            const __m256i wq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row[i][b].q));
            const __m256i prod =
                _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(wq, wq), _mm256_sign_epi8(xq, wq)), ones);
            acc[i] = fma_lanes(prod, _mm256_set1_ps(f16_scalar(row[i][b].scale_f16) * dx), acc[i]);
        }
    }
    for (int i = 0; i < R; ++i) y[r0 + i] = hsum(acc[i]);
}

template <template <int> class Rows>
void matvec(const MatrixView& w, const QuantizedActs& x, float* y) {
    const int64_t groups = w.rows / 4;
#pragma omp parallel for schedule(static) if (w.rows * w.cols > kParallelMinMacs)
    for (int64_t g = 0; g < groups; ++g) Rows<4>::run(w, x, 4 * g, y);
    for (int64_t r = 4 * groups; r < w.rows; ++r) Rows<1>::run(w, x, r, y);
}

template <int R>
struct Q4Rows {
    static void run(const MatrixView& w, const QuantizedActs& x, int64_t r0, float* y) {
        matvec_q4_rows<R>(w, x, r0, y);
    }
};
template <int R>
struct Q8Rows {
    static void run(const MatrixView& w, const QuantizedActs& x, int64_t r0, float* y) {
        matvec_q8_rows<R>(w, x, r0, y);
    }
};

// ---------------------------------------------------------------- prefill: token groups

constexpr int kTileRows = 8;        // rows per register tile (one per lane)
constexpr int kTokensPerPass = 4;   // tokens sharing each weight load
constexpr int kTilesPerChunk = 4;   // 32 rows share each pass over a token group's activations

// One 8-row tile re-laid out for broadcast-activation products. Block b of the tile:
//   q4: 4 x 32 bytes; vector g holds bytes [4g, 4g+4) of each row's block (row r at
//       4r): low nibbles are elements 4g..4g+3, high nibbles 16+4g..16+4g+3.
//   q8: 8 x 32 bytes; vector g holds elements [4g, 4g+4) of each row.
//   scale: 8 f32, one per row (0 for rows past the matrix end, whose weights are zero).
struct TileLayout {
    int64_t vec_per_block;  // 4 (q4) or 8 (q8)
    uint8_t* q;             // [n_blocks][vec_per_block][32]
    float* scale;           // [n_blocks][8]
};

void pack_tile_q4(const MatrixView& w, int64_t r0, int64_t n_blocks, TileLayout& t) {
    const auto* base = static_cast<const uint8_t*>(w.data);
    for (int r = 0; r < kTileRows; ++r) {
        const bool real = r0 + r < w.rows;
        const auto* row = reinterpret_cast<const BlockQ4*>(base + (real ? r0 + r : 0) * w.row_bytes);
        for (int64_t b = 0; b < n_blocks; ++b) {
            uint8_t* dst = t.q + b * 128 + 4 * r;
            if (real) {
                for (int g = 0; g < 4; ++g) std::memcpy(dst + 32 * g, row[b].q + 4 * g, 4);
            } else {
                for (int g = 0; g < 4; ++g) std::memset(dst + 32 * g, 0x88, 4);  // nibble 8 = weight 0
            }
            t.scale[b * 8 + r] = real ? f16_scalar(row[b].scale_f16) : 0.0f;
        }
    }
}

void pack_tile_q8(const MatrixView& w, int64_t r0, int64_t n_blocks, TileLayout& t) {
    const auto* base = static_cast<const uint8_t*>(w.data);
    for (int r = 0; r < kTileRows; ++r) {
        const bool real = r0 + r < w.rows;
        const auto* row = reinterpret_cast<const BlockQ8*>(base + (real ? r0 + r : 0) * w.row_bytes);
        for (int64_t b = 0; b < n_blocks; ++b) {
            uint8_t* dst = t.q + b * 256 + 4 * r;
            if (real) {
                for (int g = 0; g < 8; ++g) std::memcpy(dst + 32 * g, row[b].q + 4 * g, 4);
            } else {
                for (int g = 0; g < 8; ++g) std::memset(dst + 32 * g, 0, 4);
            }
            t.scale[b * 8 + r] = real ? f16_scalar(row[b].scale_f16) : 0.0f;
        }
    }
}

inline __m256i bcast4(const int8_t* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

// acc[j] (8 rows) += tile . x[t0 + j] for j < T, over all blocks.
// Per block and token the 8 nibble products per lane sum to <= 8*2*15*127 = 30480, so the
// int16 accumulator does not saturate.
template <int T>
void tile_q4(const TileLayout& tile, const QuantizedActs& x, int64_t t0, __m256 acc[T]) {
    const __m256i low = _mm256_set1_epi8(0x0f), ones = _mm256_set1_epi16(1);
    const int64_t nb = x.n_blocks, row_q = nb * 32;
    for (int64_t b = 0; b < nb; ++b) {
        // The block's weights unpacked once (8 registers), then each token in turn: one
        // int16 accumulator live at a time keeps everything in the 16 YMM registers.
        __m256i lo[4], hi[4];
        const uint8_t* wq = tile.q + b * 128;
        for (int g = 0; g < 4; ++g) {
            const __m256i v = _mm256_load_si256(reinterpret_cast<const __m256i*>(wq + 32 * g));
            lo[g] = _mm256_and_si256(v, low);
            hi[g] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
        }
        const __m256 dw = _mm256_load_ps(tile.scale + b * 8);
        for (int j = 0; j < T; ++j) {
            const int8_t* xq = x.q + (t0 + j) * row_q + b * 32;
            __m256i s16 = _mm256_maddubs_epi16(lo[0], bcast4(xq));
            s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(hi[0], bcast4(xq + 16)));
            for (int g = 1; g < 4; ++g) {
                s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(lo[g], bcast4(xq + 4 * g)));
                s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(hi[g], bcast4(xq + 16 + 4 * g)));
            }
            const int64_t tb = (t0 + j) * nb + b;
            const __m256i dot = _mm256_sub_epi32(_mm256_madd_epi16(s16, ones), _mm256_set1_epi32(8 * x.sum[tb]));
            acc[j] = fma_lanes(dot, _mm256_mul_ps(dw, _mm256_set1_ps(x.d[tb])), acc[j]);
        }
    }
}

template <int T>
void tile_q8(const TileLayout& tile, const QuantizedActs& x, int64_t t0, __m256 acc[T]) {
    const __m256i ones = _mm256_set1_epi16(1);
    const int64_t nb = x.n_blocks, row_q = nb * 32;
    for (int64_t b = 0; b < nb; ++b) {
        // |w| once per block (8 registers); w's signs are moved onto each token's x.
        // maddubs pair sums reach 2*127*127, so each goes to int32 before adding.
        const __m256i* wq = reinterpret_cast<const __m256i*>(tile.q + b * 256);
        __m256i aw[8];
        for (int g = 0; g < 8; ++g) aw[g] = _mm256_abs_epi8(_mm256_load_si256(wq + g));
        const __m256 dw = _mm256_load_ps(tile.scale + b * 8);
        for (int j = 0; j < T; ++j) {
            const int8_t* xq = x.q + (t0 + j) * row_q + b * 32;
            __m256i s32 = _mm256_setzero_si256();
            for (int g = 0; g < 8; ++g) {
                const __m256i xs = _mm256_sign_epi8(bcast4(xq + 4 * g), _mm256_load_si256(wq + g));
                s32 = _mm256_add_epi32(s32, _mm256_madd_epi16(_mm256_maddubs_epi16(aw[g], xs), ones));
            }
            const int64_t tb = (t0 + j) * nb + b;
            acc[j] = fma_lanes(s32, _mm256_mul_ps(dw, _mm256_set1_ps(x.d[tb])), acc[j]);
        }
    }
}

template <int T>
void tile_pass(bool is_q4, const TileLayout& tile, const QuantizedActs& x, int64_t t0, int64_t r0, int64_t rows,
               float* y) {
    __m256 acc[T];
    for (int j = 0; j < T; ++j) acc[j] = _mm256_setzero_ps();
    if (is_q4)
        tile_q4<T>(tile, x, t0, acc);
    else
        tile_q8<T>(tile, x, t0, acc);
    const int64_t valid = min_i64(kTileRows, rows - r0);
    for (int j = 0; j < T; ++j) {
        float* dst = y + (t0 + j) * rows + r0;  // y: [n_tokens, rows]
        if (valid == kTileRows)
            _mm256_storeu_ps(dst, acc[j]);
        else
            store_partial(dst, acc[j], valid);
    }
}

void gemm(const MatrixView& w, const QuantizedActs& x, float* y, int64_t n_tokens) {
    const bool is_q4 = w.dtype == DType::Q4;
    const int64_t nb = x.n_blocks, vec_per_block = is_q4 ? 4 : 8;
    const int64_t n_tiles = (w.rows + kTileRows - 1) / kTileRows;
    const int64_t n_chunks = (n_tiles + kTilesPerChunk - 1) / kTilesPerChunk;
    const size_t tile_bytes = size_t(nb * vec_per_block * 32 + nb * 8 * 4);
#pragma omp parallel for schedule(static) if (w.rows * w.cols * n_tokens > kParallelMinMacs)
    for (int64_t c = 0; c < n_chunks; ++c) {
        const int64_t first = c * kTilesPerChunk, count = min_i64(kTilesPerChunk, n_tiles - first);
        auto* buf = static_cast<uint8_t*>(thread_scratch(ScratchSlot::kTile, tile_bytes * kTilesPerChunk));
        TileLayout tiles[kTilesPerChunk];
        for (int64_t i = 0; i < count; ++i) {
            uint8_t* tb = buf + size_t(i) * tile_bytes;
            tiles[i] = {vec_per_block, tb, reinterpret_cast<float*>(tb + nb * vec_per_block * 32)};
            if (is_q4)
                pack_tile_q4(w, (first + i) * kTileRows, nb, tiles[i]);
            else
                pack_tile_q8(w, (first + i) * kTileRows, nb, tiles[i]);
        }
        // Token groups outside, tiles inside: a group's activations stay in L1 for all tiles.
        for (int64_t t0 = 0; t0 < n_tokens; t0 += kTokensPerPass) {
            const int64_t tn = min_i64(kTokensPerPass, n_tokens - t0);
            for (int64_t i = 0; i < count; ++i) {
                const int64_t r0 = (first + i) * kTileRows;
                switch (tn) {
                    case 4: tile_pass<4>(is_q4, tiles[i], x, t0, r0, w.rows, y); break;
                    case 3: tile_pass<3>(is_q4, tiles[i], x, t0, r0, w.rows, y); break;
                    case 2: tile_pass<2>(is_q4, tiles[i], x, t0, r0, w.rows, y); break;
                    default: tile_pass<1>(is_q4, tiles[i], x, t0, r0, w.rows, y); break;
                }
            }
        }
    }
}

}  // namespace

void matmul_quant(const MatrixView& w, const QuantizedActs& x, float* y, int64_t n_tokens) {
    if (n_tokens == 1) {
        if (w.dtype == DType::Q4)
            matvec<Q4Rows>(w, x, y);
        else
            matvec<Q8Rows>(w, x, y);
        return;
    }
    gemm(w, x, y, n_tokens);
}

}  // namespace ember::avx2
