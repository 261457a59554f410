// The scalar reference KernelTable: plain loops, float accumulation in a fixed order.
// It is the oracle the ISA tables are tested against and the fallback on any CPU, so
// clarity beats speed here; OpenMP over matmul rows keeps it usable for whole models.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/half.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"

namespace ember {

namespace {

// Below this many multiply-adds a matmul runs on one thread: waking the pool costs more.
[[maybe_unused]] constexpr int64_t kParallelMinMacs = 32768;  // unused if built without OpenMP

// ---------------------------------------------------------------- matmul

// Each decoder yields the floats of weight row elements [b*kQBlock, b*kQBlock + count) of
// one row, either by pointing into the row (f32) or by converting into `chunk`.
// Chunks are kQBlock long so quant blocks always decode whole.
struct DecodeF32 {
    const float* operator()(const uint8_t* row, int64_t b, int /*count*/, float* /*chunk*/) const {
        return reinterpret_cast<const float*>(row) + b * kQBlock;
    }
};
struct DecodeF16 {
    const float* operator()(const uint8_t* row, int64_t b, int count, float* chunk) const {
        const uint16_t* h = reinterpret_cast<const uint16_t*>(row) + b * kQBlock;
        for (int i = 0; i < count; ++i) chunk[i] = f16_to_f32(h[i]);
        return chunk;
    }
};
struct DecodeBF16 {
    const float* operator()(const uint8_t* row, int64_t b, int count, float* chunk) const {
        const uint16_t* h = reinterpret_cast<const uint16_t*>(row) + b * kQBlock;
        for (int i = 0; i < count; ++i) chunk[i] = bf16_to_f32(h[i]);
        return chunk;
    }
};
struct DecodeQ8 {
    const float* operator()(const uint8_t* row, int64_t b, int count, float* chunk) const {
        dequantize_row_q8_ref(reinterpret_cast<const BlockQ8*>(row) + b, chunk, count);
        return chunk;
    }
};
struct DecodeQ4 {
    const float* operator()(const uint8_t* row, int64_t b, int count, float* chunk) const {
        dequantize_row_q4_ref(reinterpret_cast<const BlockQ4*>(row) + b, chunk, count);
        return chunk;
    }
};

// y[t, r] = sum over chunks of (float dot of one kQBlock chunk). Summing short chunks,
// then the chunk sums, keeps float rounding error near (32 + cols/32) ulps instead of
// cols ulps. Each y element is computed by one thread in a fixed order, so the result
// does not depend on the thread count.
template <class Decode>
void matmul_rows(const MatrixView& w, const float* x /* [n_tokens, cols] */, float* y /* [n_tokens, rows] */,
                 int64_t n_tokens, Decode decode) {
    const int64_t rows = w.rows, cols = w.cols;
    const int64_t n_chunks = (cols + kQBlock - 1) / kQBlock;
    const auto* base = static_cast<const uint8_t*>(w.data);
#pragma omp parallel for schedule(static) if (rows * cols * n_tokens > kParallelMinMacs)
    for (int64_t r = 0; r < rows; ++r) {
        const uint8_t* row = base + r * w.row_bytes;
        for (int64_t t = 0; t < n_tokens; ++t) y[t * rows + r] = 0.0f;
        float chunk[kQBlock];  // decoded weights of the current chunk
        for (int64_t b = 0; b < n_chunks; ++b) {
            const int count = int(std::min<int64_t>(kQBlock, cols - b * kQBlock));
            const float* wc = decode(row, b, count, chunk);
            for (int64_t t = 0; t < n_tokens; ++t) {
                const float* xc = x + t * cols + b * kQBlock;
                float partial = 0.0f;
                for (int i = 0; i < count; ++i) partial += wc[i] * xc[i];
                y[t * rows + r] += partial;
            }
        }
    }
}

void matmul_ref(const MatrixView& w, const float* x, float* y, int64_t n_tokens) {
    switch (w.dtype) {
        case DType::F32:
            return matmul_rows(w, x, y, n_tokens, DecodeF32{});
        case DType::F16:
            return matmul_rows(w, x, y, n_tokens, DecodeF16{});
        case DType::BF16:
            return matmul_rows(w, x, y, n_tokens, DecodeBF16{});
        case DType::Q8:
            return matmul_rows(w, x, y, n_tokens, DecodeQ8{});
        case DType::Q4:
            return matmul_rows(w, x, y, n_tokens, DecodeQ4{});
        case DType::U8:
            break;
    }
    // Not a weight dtype: the loader rejects this, so reaching here is a caller bug.
    // Kernels cannot throw; make the output loudly wrong instead of silently stale.
    std::fill(y, y + n_tokens * w.rows, std::numeric_limits<float>::quiet_NaN());
}

// ---------------------------------------------------------------- elementwise

void rmsnorm_ref(const float* x, const float* weight, float* out, int64_t n, float eps) {
    // Sum of squares in double: deterministic and at least as accurate as PyTorch's f32
    // pairwise sum, so it agrees with HF to f32 rounding of the final result.
    double sum_sq = 0.0;
    for (int64_t i = 0; i < n; ++i) sum_sq += double(x[i]) * double(x[i]);
    const float inv_rms = float(1.0 / std::sqrt(sum_sq / double(n) + double(eps)));
    // Same order as HF LlamaRMSNorm: (x * rsqrt(var + eps)) * weight.
    for (int64_t i = 0; i < n; ++i) out[i] = (x[i] * inv_rms) * weight[i];
}

void rope_ref(float* vec /* [n_heads, head_dim] */, int n_heads, int head_dim, const float* cos,
              const float* sin) {
    const int half = head_dim / 2;
    for (int h = 0; h < n_heads; ++h) {
        float* v = vec + int64_t(h) * head_dim;
        for (int i = 0; i < half; ++i) {
            const float a = v[i], b = v[i + half];
            v[i] = a * cos[i] - b * sin[i];
            v[i + half] = b * cos[i] + a * sin[i];
        }
    }
}

void softmax_ref(float* x, int64_t n) {
    if (n <= 0) return;
    float max_x = -std::numeric_limits<float>::infinity();
    for (int64_t i = 0; i < n; ++i) max_x = std::max(max_x, x[i]);
    if (max_x == -std::numeric_limits<float>::infinity()) {
        // Everything masked: the limit of n equal scores, rather than 0/0.
        std::fill(x, x + n, 1.0f / float(n));
        return;
    }
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        x[i] = std::exp(x[i] - max_x);  // <= 1: subtracting the max keeps exp finite
        sum += x[i];
    }
    const float inv_sum = float(1.0 / sum);  // sum >= 1 (the max contributes exp(0))
    for (int64_t i = 0; i < n; ++i) x[i] *= inv_sum;
}

void silu_mul_ref(const float* gate, const float* up, float* out, int64_t n) {
    // g / (1 + exp(-g)): for very negative g, exp overflows to inf and the result is -0,
    // not NaN.
    for (int64_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

// ---------------------------------------------------------------- attention

// Row t of the paged K or V (`base` is kv.k or kv.v): [head_dim] floats.
const float* paged_row(const float* base, const PagedKvHead& kv, int64_t t, int head_dim) {
    const int64_t block = kv.block_table[t / kv.block_tokens];
    return base + block * kv.block_stride + (t % kv.block_tokens) * head_dim;
}

void attention_ref(const float* q /* [head_dim] */, const PagedKvHead& kv, int64_t n_ctx, int head_dim,
                   float scale, float* scratch /* [n_ctx] */, float* out /* [head_dim] */) {
    std::fill(out, out + head_dim, 0.0f);
    if (n_ctx <= 0) return;
    for (int64_t t = 0; t < n_ctx; ++t) {
        const float* k = paged_row(kv.k, kv, t, head_dim);
        float dot = 0.0f;
        for (int d = 0; d < head_dim; ++d) dot += q[d] * k[d];
        scratch[t] = dot * scale;
    }
    softmax_ref(scratch, n_ctx);  // scratch: attention probabilities [n_ctx]
    for (int64_t t = 0; t < n_ctx; ++t) {
        const float* v = paged_row(kv.v, kv, t, head_dim);
        const float p = scratch[t];
        for (int d = 0; d < head_dim; ++d) out[d] += p * v[d];
    }
}

}  // namespace

const KernelTable& reference_kernels() {
    static const KernelTable table = {
        .isa_name = "generic",
        .matmul = matmul_ref,
        .rmsnorm = rmsnorm_ref,
        .rope = rope_ref,
        .softmax = softmax_ref,
        .silu_mul = silu_mul_ref,
        .attention = attention_ref,
        .repack = nullptr,
    };
    return table;
}

}  // namespace ember
