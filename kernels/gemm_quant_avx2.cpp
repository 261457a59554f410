// Q4 / Q8 weights x int8-quantized activations of several tokens (prefill), AVX2.
// Compiled with -mavx2 -mfma -mf16c.
//
// Tiles of 8 rows are re-laid out (in a per-thread buffer) so a 32-byte load holds 4
// consecutive weights of each of the 8 rows; one broadcast 4-byte activation chunk then
// feeds all 8 rows, and the 8 dot products land in the 8 lanes of one register, so there
// are no horizontal sums. Each unpacked weight block serves 4 tokens; 4 tiles (32 rows)
// share each pass over a token group's activations. Per 32-block the integer dot product
// is exact; it is scaled by d_w * d_x and accumulated in f32, like the decode kernels.
// On this design the AVX2 bound is the multiply unit: maddubs + madd per 32 MACs.
#include "kernels/gemm_quant_avx2.h"

#include <cstdlib>
#include "kernels/interleaved8.h"
#include "kernels/quant.h"
#include "kernels/scratch.h"
#include "kernels/simd_avx2.h"

namespace ember::avx2 {

namespace {

constexpr int64_t kParallelMinMacs = 32768;  // below this a matmul stays on one thread

// Batches up to this many tokens (batched decode of a few sequences) run the single-token
// group kernels on interleaved weights instead of packing GEMM tiles.
constexpr int64_t kSmallBatchTokens = 8;

constexpr int kTokensPerPass = 4;   // tokens sharing each weight load
constexpr int kTilesPerChunk = 4;   // 32 rows share each pass over a token group's activations

// Where rows [r0, r0 + 8) of a q4/q8 matrix keep their blocks: row r's block b has its
// quant bytes at quant[r] + b * stride[r] and its f16 scale at scale[r] + b * stride[r],
// whether the rows are a group of the interleaved layout (kernels/interleaved8.h) or
// file-layout rows. Rows past the matrix end point at row 0 (callers zero them).
struct TileRows {
    const uint8_t* quant[kTileRows];
    const uint8_t* scale[kTileRows];
    int64_t stride[kTileRows];
};

TileRows tile_rows(const MatrixView& w, int64_t r0) {
    const auto* base = static_cast<const uint8_t*>(w.data);
    const bool grouped =
        w.layout == WeightLayout::kInterleaved8 && r0 + kTileRows <= w.rows / il8::kGroupRows * il8::kGroupRows;
    const int64_t block_bytes = w.dtype == DType::Q4 ? int64_t(sizeof(BlockQ4)) : int64_t(sizeof(BlockQ8));
    TileRows t;
    for (int r = 0; r < kTileRows; ++r) {
        if (grouped) {
            const uint8_t* group = base + r0 * w.row_bytes;
            t.quant[r] = group + il8::quant_offset(w.dtype, r);
            t.scale[r] = group + il8::scale_offset(r);
            t.stride[r] = il8::group_block_bytes(w.dtype);
        } else {
            const uint8_t* row = base + (r0 + r < w.rows ? r0 + r : 0) * w.row_bytes;
            t.scale[r] = row;  // BlockQ4 / BlockQ8: f16 scale, then the quants
            t.quant[r] = row + 2;
            t.stride[r] = block_bytes;
        }
    }
    return t;
}

float scale_at(const TileRows& rows, int r, int64_t b) {
    uint16_t h;
    std::memcpy(&h, rows.scale[r] + b * rows.stride[r], 2);
    return f16_scalar(h);
}

// The 8 rows' f16 scales of block b, as f32 lanes 0..7.
inline __m256 tile_scales(const TileRows& rows, int64_t b) {
    uint16_t v[8];
    for (int r = 0; r < 8; ++r) std::memcpy(&v[r], rows.scale[r] + b * rows.stride[r], 2);
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(v)));
}

inline __m128i load16(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }

// Full tiles (8 real rows) by register transposes. With few tokens (batched decode) the
// packing is a large share of the matmul, and a byte-wise copy costs as much as the
// products. q4: each row's 16 bytes are 4 dwords (groups g); output vector g holds dword g
// of rows 0..7. Rows r and r + 4 share a register (in the interleaved layout they are
// adjacent already), then a 4x4 dword transpose per 128-bit lane.
void pack_full_tile_q4(const TileRows& rows, int64_t n_blocks, TileLayout& t) {
    for (int64_t b = 0; b < n_blocks; ++b) {
        __m256i y[4];
        for (int r = 0; r < 4; ++r)
            y[r] = _mm256_set_m128i(load16(rows.quant[r + 4] + b * rows.stride[r + 4]),
                                    load16(rows.quant[r] + b * rows.stride[r]));
        const __m256i t0 = _mm256_unpacklo_epi32(y[0], y[1]), t1 = _mm256_unpackhi_epi32(y[0], y[1]);
        const __m256i t2 = _mm256_unpacklo_epi32(y[2], y[3]), t3 = _mm256_unpackhi_epi32(y[2], y[3]);
        // Lanes are (rows 0-3 | rows 4-7): output lane order r0 r1 r2 r3 | r4 r5 r6 r7.
        auto* dst = reinterpret_cast<__m256i*>(t.q + b * 128);
        _mm256_store_si256(dst + 0, _mm256_unpacklo_epi64(t0, t2));
        _mm256_store_si256(dst + 1, _mm256_unpackhi_epi64(t0, t2));
        _mm256_store_si256(dst + 2, _mm256_unpacklo_epi64(t1, t3));
        _mm256_store_si256(dst + 3, _mm256_unpackhi_epi64(t1, t3));
        _mm256_store_ps(t.scale + b * 8, tile_scales(rows, b));
    }
}

// q8: each row's 32 bytes are 8 dwords; output vector g holds dword g of rows 0..7 (an
// 8x8 dword transpose).
void pack_full_tile_q8(const TileRows& rows, int64_t n_blocks, TileLayout& t) {
    for (int64_t b = 0; b < n_blocks; ++b) {
        __m256i y[8];
        for (int r = 0; r < 8; ++r)
            y[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows.quant[r] + b * rows.stride[r]));
        // Within each 128-bit lane: 4x4 transposes of rows (0-3) and (4-7).
        const __m256i a0 = _mm256_unpacklo_epi32(y[0], y[1]), a1 = _mm256_unpackhi_epi32(y[0], y[1]);
        const __m256i a2 = _mm256_unpacklo_epi32(y[2], y[3]), a3 = _mm256_unpackhi_epi32(y[2], y[3]);
        const __m256i a4 = _mm256_unpacklo_epi32(y[4], y[5]), a5 = _mm256_unpackhi_epi32(y[4], y[5]);
        const __m256i a6 = _mm256_unpacklo_epi32(y[6], y[7]), a7 = _mm256_unpackhi_epi32(y[6], y[7]);
        // c_k: dword k (lane 0) and dword k + 4 (lane 1) of rows 0-3; d_k: the same of rows 4-7.
        const __m256i c0 = _mm256_unpacklo_epi64(a0, a2), c1 = _mm256_unpackhi_epi64(a0, a2);
        const __m256i c2 = _mm256_unpacklo_epi64(a1, a3), c3 = _mm256_unpackhi_epi64(a1, a3);
        const __m256i d0 = _mm256_unpacklo_epi64(a4, a6), d1 = _mm256_unpackhi_epi64(a4, a6);
        const __m256i d2 = _mm256_unpacklo_epi64(a5, a7), d3 = _mm256_unpackhi_epi64(a5, a7);
        auto* dst = reinterpret_cast<__m256i*>(t.q + b * 256);
        const __m256i c[4] = {c0, c1, c2, c3}, d[4] = {d0, d1, d2, d3};
        for (int k = 0; k < 4; ++k) {
            _mm256_store_si256(dst + k, _mm256_permute2x128_si256(c[k], d[k], 0x20));      // dword k
            _mm256_store_si256(dst + k + 4, _mm256_permute2x128_si256(c[k], d[k], 0x31));  // dword k + 4
        }
        _mm256_store_ps(t.scale + b * 8, tile_scales(rows, b));
        if (t.wsum128 != nullptr) {  // per row: sum of its 32 weights (4 per lane of each vector), x 128
            const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
            __m256i sum = _mm256_setzero_si256();
            for (int g = 0; g < 8; ++g)
                sum = _mm256_add_epi32(sum, _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, _mm256_load_si256(dst + g)), ones16));
            _mm256_store_si256(reinterpret_cast<__m256i*>(t.wsum128 + b * 8), _mm256_slli_epi32(sum, 7));
        }
    }
}

// Tiles with rows past the matrix end: byte by byte, the missing rows as weight 0.
void pack_tile_q4(const MatrixView& w, int64_t r0, int64_t n_blocks, TileLayout& t) {
    const TileRows rows = tile_rows(w, r0);
    if (r0 + kTileRows <= w.rows) return pack_full_tile_q4(rows, n_blocks, t);
    for (int r = 0; r < kTileRows; ++r) {
        const bool real = r0 + r < w.rows;
        for (int64_t b = 0; b < n_blocks; ++b) {
            uint8_t* dst = t.q + b * 128 + 4 * r;
            if (real) {
                const uint8_t* q = rows.quant[r] + b * rows.stride[r];
                for (int g = 0; g < 4; ++g) std::memcpy(dst + 32 * g, q + 4 * g, 4);
            } else {
                for (int g = 0; g < 4; ++g) std::memset(dst + 32 * g, 0x88, 4);  // nibble 8 = weight 0
            }
            t.scale[b * 8 + r] = real ? scale_at(rows, r, b) : 0.0f;
        }
    }
}

void pack_tile_q8(const MatrixView& w, int64_t r0, int64_t n_blocks, TileLayout& t) {
    const TileRows rows = tile_rows(w, r0);
    if (r0 + kTileRows <= w.rows) return pack_full_tile_q8(rows, n_blocks, t);
    for (int r = 0; r < kTileRows; ++r) {
        const bool real = r0 + r < w.rows;
        for (int64_t b = 0; b < n_blocks; ++b) {
            uint8_t* dst = t.q + b * 256 + 4 * r;
            if (real) {
                const uint8_t* q = rows.quant[r] + b * rows.stride[r];
                for (int g = 0; g < 8; ++g) std::memcpy(dst + 32 * g, q + 4 * g, 4);
            } else {
                for (int g = 0; g < 8; ++g) std::memset(dst + 32 * g, 0, 4);
            }
            t.scale[b * 8 + r] = real ? scale_at(rows, r, b) : 0.0f;
            if (t.wsum128 != nullptr) {
                int32_t sum = 0;
                const auto* q = reinterpret_cast<const int8_t*>(rows.quant[r] + b * rows.stride[r]);
                for (int i = 0; real && i < 32; ++i) sum += q[i];
                t.wsum128[b * 8 + r] = 128 * sum;
            }
        }
    }
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
    store_tile(acc, T, t0, r0, rows, y);
}

void gemm(const MatrixView& w, const QuantizedActs& x, float* y, int64_t n_tokens, bool avx_vnni) {
    const bool is_q4 = w.dtype == DType::Q4;
    const int64_t nb = x.n_blocks, vec_per_block = is_q4 ? 4 : 8;
    const int64_t n_tiles = (w.rows + kTileRows - 1) / kTileRows;
    const int64_t n_chunks = (n_tiles + kTilesPerChunk - 1) / kTilesPerChunk;
    const bool q8_vnni = !is_q4 && avx_vnni;
    const size_t tile_bytes = size_t(nb * vec_per_block * 32 + nb * 8 * 4 * (q8_vnni ? 2 : 1));
#pragma omp parallel for schedule(static) if (w.rows * w.cols * n_tokens > kParallelMinMacs)
    for (int64_t c = 0; c < n_chunks; ++c) {
        const int64_t first = c * kTilesPerChunk, count = min_i64(kTilesPerChunk, n_tiles - first);
        auto* buf = static_cast<uint8_t*>(thread_scratch(ScratchSlot::kTile, tile_bytes * kTilesPerChunk));
        TileLayout tiles[kTilesPerChunk];
        for (int64_t i = 0; i < count; ++i) {
            uint8_t* tb = buf + size_t(i) * tile_bytes;
            tiles[i] = {vec_per_block, tb, reinterpret_cast<float*>(tb + nb * vec_per_block * 32),
                        q8_vnni ? reinterpret_cast<int32_t*>(tb + nb * vec_per_block * 32 + nb * 8 * 4) : nullptr};
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
                if (avx_vnni) {
                    (is_q4 ? tile_pass_q4_vnni : tile_pass_q8_vnni)(tiles[i], x, t0, int(tn), r0, w.rows, y);
                    continue;
                }
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

void matmul_quant(const MatrixView& w, const QuantizedActs& x, float* y, int64_t n_tokens, bool avx_vnni) {
    // Read once: this runs for every matmul of every forward.
    static const int64_t small = [] {
        const char* env = std::getenv("EMBER_SMALL_BATCH");
        return env ? int64_t(std::atoll(env)) : kSmallBatchTokens;
    }();
    if (n_tokens == 1)
        matvec_quant(w, x, y, avx_vnni);
    else if (w.layout == WeightLayout::kInterleaved8 && n_tokens <= small)
        matvec_quant_tokens(w, x, y, n_tokens, avx_vnni);
    else
        gemm(w, x, y, n_tokens, avx_vnni);
}

}  // namespace ember::avx2
