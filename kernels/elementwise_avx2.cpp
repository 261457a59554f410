// rmsnorm, rope, softmax, silu_mul with AVX2 + FMA. Compiled with -mavx2 -mfma -mf16c.
// Same formulas as kernels_ref.cpp; sums that feed a division (rmsnorm's mean square,
// softmax's normaliser) are accumulated in double like the reference.
#include "kernels/kernels_avx2.h"
#include "kernels/simd_avx2.h"

namespace ember::avx2 {

void rmsnorm(const float* x, const float* weight, float* out, int64_t n, float eps) {
    __m256d acc0 = _mm256_setzero_pd(), acc1 = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        // Squares of floats are exact in double, so only the additions round.
        const __m256 v = _mm256_loadu_ps(x + i);
        const __m256d l = _mm256_cvtps_pd(_mm256_castps256_ps128(v)), h = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
        acc0 = _mm256_fmadd_pd(l, l, acc0);
        acc1 = _mm256_fmadd_pd(h, h, acc1);
    }
    double sum_sq = hsum_pd(_mm256_add_pd(acc0, acc1));
    for (; i < n; ++i) sum_sq += double(x[i]) * double(x[i]);
    const float inv_rms = float(1.0 / __builtin_sqrt(sum_sq / double(n) + double(eps)));
    // (x * inv_rms) * weight, in that order, as HF does.
    const __m256 s = _mm256_set1_ps(inv_rms);
    i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), s), _mm256_loadu_ps(weight + i)));
    for (; i < n; ++i) out[i] = (x[i] * inv_rms) * weight[i];
}

void rope(float* vec /* [n_heads, head_dim] */, int n_heads, int head_dim, const float* cos, const float* sin) {
    const int half = head_dim / 2;
    for (int h = 0; h < n_heads; ++h) {
        float* lo = vec + int64_t(h) * head_dim;
        float* hi = lo + half;
        int i = 0;
        for (; i + 8 <= half; i += 8) {
            const __m256 a = _mm256_loadu_ps(lo + i), b = _mm256_loadu_ps(hi + i);
            const __m256 c = _mm256_loadu_ps(cos + i), s = _mm256_loadu_ps(sin + i);
            _mm256_storeu_ps(lo + i, _mm256_fmsub_ps(a, c, _mm256_mul_ps(b, s)));
            _mm256_storeu_ps(hi + i, _mm256_fmadd_ps(b, c, _mm256_mul_ps(a, s)));
        }
        for (; i < half; ++i) {
            const float a = lo[i], b = hi[i];
            lo[i] = a * cos[i] - b * sin[i];
            hi[i] = b * cos[i] + a * sin[i];
        }
    }
}

void softmax(float* x, int64_t n) {
    if (n <= 0) return;
    __m256 vmax = _mm256_set1_ps(-__builtin_inff());
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(x + i));
    float max_x = hmax(vmax);
    for (; i < n; ++i) max_x = x[i] > max_x ? x[i] : max_x;
    if (max_x == -__builtin_inff()) {
        // Everything masked: the limit of n equal scores, rather than 0/0.
        for (i = 0; i < n; ++i) x[i] = 1.0f / float(n);
        return;
    }
    const __m256 m = _mm256_set1_ps(max_x);
    __m256d sum = _mm256_setzero_pd();
    for (i = 0; i + 8 <= n; i += 8) {
        const __m256 e = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), m));  // <= 1: no overflow
        _mm256_storeu_ps(x + i, e);
        sum = widen_add(sum, e);
    }
    if (i < n) {
        const __m256 e = exp_ps(_mm256_sub_ps(load_partial(x + i, n - i), m));
        const __m256 e_tail = _mm256_and_ps(e, _mm256_castsi256_ps(first_lanes(n - i)));  // padding lanes -> 0
        store_partial(x + i, e_tail, n - i);
        sum = widen_add(sum, e_tail);
    }
    const __m256 inv = _mm256_set1_ps(float(1.0 / hsum_pd(sum)));  // sum >= 1 (the max gives exp(0))
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
    if (i < n) store_partial(x + i, _mm256_mul_ps(load_partial(x + i, n - i), inv), n - i);
}

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
    // g / (1 + exp(-g)) * up; exp(-g) = inf for very negative g gives -0, not NaN.
    const __m256 one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 g = _mm256_loadu_ps(gate + i);
        const __m256 e = exp_ps(_mm256_xor_ps(g, sign));
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(one, e)), _mm256_loadu_ps(up + i)));
    }
    if (i < n) {
        const __m256 g = load_partial(gate + i, n - i);
        const __m256 e = exp_ps(_mm256_xor_ps(g, sign));
        store_partial(out + i, _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(one, e)), load_partial(up + i, n - i)),
                      n - i);
    }
}

}  // namespace ember::avx2
