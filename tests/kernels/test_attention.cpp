// KernelTable::attention for every kv type (f32, f16, q8) read through a shuffled paged
// block table, on every usable table, against (a) double precision on the decoded K/V and
// (b) the scalar reference table on the same stored bytes.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/dispatch.h"
#include "kernels/half.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "test_util.h"

using namespace ember;
using ember::test::gaussian;
using ember::test::WorstElement;

namespace {

const float kNaN = std::numeric_limits<float>::quiet_NaN();

// Keys/values of a sequence in a paged pool, stored as `dtype`: the tokens live in
// shuffled, non-adjacent pool blocks, in one (layer, head) slot among several, and every
// other byte is 0xff (NaN as f32/f16, a NaN scale as q8), so a stray read shows.
struct PagedSequence {
    static constexpr int kBlockTokens = 16;
    static constexpr int kSlotsPerBlock = 3;  // other (layer, head) pairs sharing each pool block
    static constexpr int kSlot = 1;           // the pair under test
    std::vector<uint8_t> k_pool, v_pool;      // [pool_blocks, kSlotsPerBlock, kBlockTokens, row_bytes]
    std::vector<int32_t> block_table;         // [ceil(n_ctx / kBlockTokens)]
    std::vector<float> k_decoded, v_decoded;  // [n_ctx, head_dim] what the stored rows mean
    PagedKvHead head;

    PagedSequence(DType dtype, const std::vector<float>& k, const std::vector<float>& v /* [n_ctx, head_dim] */,
                  int64_t n_ctx, int head_dim, uint32_t seed) {
        const int64_t used_blocks = (n_ctx + kBlockTokens - 1) / kBlockTokens;
        const int64_t pool_blocks = 2 * used_blocks + 1;
        std::vector<int32_t> ids(static_cast<size_t>(pool_blocks));
        std::iota(ids.begin(), ids.end(), 0);
        std::shuffle(ids.begin(), ids.end(), std::mt19937(seed));
        block_table.assign(ids.begin(), ids.begin() + used_blocks);

        const int64_t row_bytes = dtype_row_bytes(dtype, head_dim);
        const int64_t block_stride = int64_t(kSlotsPerBlock) * kBlockTokens * row_bytes;
        k_pool.assign(size_t(pool_blocks * block_stride), 0xff);
        v_pool.assign(size_t(pool_blocks * block_stride), 0xff);
        k_decoded.resize(k.size());
        v_decoded.resize(v.size());
        const int64_t slot_offset = int64_t(kSlot) * kBlockTokens * row_bytes;
        for (int64_t t = 0; t < n_ctx; ++t) {
            const int64_t at = block_table[size_t(t / kBlockTokens)] * block_stride + slot_offset +
                               (t % kBlockTokens) * row_bytes;
            encode_row(dtype, &k[size_t(t * head_dim)], head_dim, &k_pool[size_t(at)], &k_decoded[size_t(t * head_dim)]);
            encode_row(dtype, &v[size_t(t * head_dim)], head_dim, &v_pool[size_t(at)], &v_decoded[size_t(t * head_dim)]);
        }
        head.dtype = dtype;
        head.k = k_pool.data() + slot_offset;
        head.v = v_pool.data() + slot_offset;
        head.block_table = block_table.data();
        head.block_stride = block_stride;
        head.row_bytes = row_bytes;
        head.block_tokens = kBlockTokens;
    }

    static void encode_row(DType dtype, const float* x, int n, uint8_t* dst, float* decoded) {
        switch (dtype) {
            case DType::F16:
                for (int d = 0; d < n; ++d) {
                    const uint16_t h = f32_to_f16(x[d]);
                    std::memcpy(dst + 2 * d, &h, 2);
                    decoded[d] = f16_to_f32(h);
                }
                break;
            case DType::Q8:
                quantize_row_q8_ref(x, reinterpret_cast<BlockQ8*>(dst), n);
                dequantize_row_q8_ref(reinterpret_cast<const BlockQ8*>(dst), decoded, n);
                break;
            default:
                std::memcpy(dst, x, size_t(n) * 4);
                std::copy(x, x + n, decoded);
                break;
        }
    }
};

// softmax(q . K * scale) @ V in double on the decoded rows: [head_dim].
std::vector<double> attention_double(const std::vector<float>& q, const PagedSequence& s, int64_t n_ctx,
                                     int head_dim, float scale) {
    std::vector<double> p(static_cast<size_t>(n_ctx));
    double max_score = -INFINITY, sum = 0;
    for (int64_t t = 0; t < n_ctx; ++t) {
        double dot = 0;
        for (int d = 0; d < head_dim; ++d) dot += double(q[size_t(d)]) * s.k_decoded[size_t(t * head_dim + d)];
        p[size_t(t)] = dot * double(scale);
        max_score = std::max(max_score, p[size_t(t)]);
    }
    for (double& pt : p) sum += pt = std::exp(pt - max_score);
    std::vector<double> out(static_cast<size_t>(head_dim), 0.0);
    for (int64_t t = 0; t < n_ctx; ++t)
        for (int d = 0; d < head_dim; ++d) out[size_t(d)] += p[size_t(t)] / sum * s.v_decoded[size_t(t * head_dim + d)];
    return out;
}

}  // namespace

TEST_CASE("attention of every kv type through a shuffled paged block table matches double and the reference") {
    // Tolerance 1e-5 * max|V| against both: the kernels compute in f32 on the exactly
    // decoded values (f16 widening and q8 scale * int8 are exact in f32); scores carry
    // ~head_dim f32 roundings and the weighted sum ~n_ctx, both far below 1e-5 relative
    // here. The kv type's own storage error is not part of this test (the end-to-end
    // KV-type test bounds it).
    const KernelTable& ref = reference_kernels();
    for (const KernelTable* table : usable_kernel_tables()) {
        for (DType dtype : {DType::F32, DType::F16, DType::Q8}) {
            for (int head_dim : {3, 64, 80, 128}) {
                for (int64_t n_ctx : {1, 15, 16, 17, 100, 1000}) {
                    for (float q_sigma : {1.0f, 30.0f}) {  // 30: scores in the hundreds (softmax stability)
                        const uint32_t seed = uint32_t(head_dim * 10000 + n_ctx);
                        const std::vector<float> q = gaussian(size_t(head_dim), seed, q_sigma);
                        const std::vector<float> k = gaussian(size_t(n_ctx * head_dim), seed + 1);
                        const std::vector<float> v = gaussian(size_t(n_ctx * head_dim), seed + 2);
                        const PagedSequence paged(dtype, k, v, n_ctx, head_dim, seed + 3);
                        const float scale = 1.0f / std::sqrt(float(head_dim));

                        const float canary = 777.0f;
                        std::vector<float> scratch(size_t(n_ctx) + 4, canary), out(size_t(head_dim), kNaN);
                        table->attention(q.data(), paged.head, n_ctx, head_dim, scale, scratch.data(), out.data());
                        for (size_t i = size_t(n_ctx); i < scratch.size(); ++i)
                            CHECK_MESSAGE(scratch[i] == canary, "attention wrote past scratch[n_ctx]");

                        std::vector<float> ref_scratch(static_cast<size_t>(n_ctx)), ref_out(static_cast<size_t>(head_dim));
                        ref.attention(q.data(), paged.head, n_ctx, head_dim, scale, ref_scratch.data(), ref_out.data());

                        const std::vector<double> want = attention_double(q, paged, n_ctx, head_dim, scale);
                        double max_abs_v = 0;
                        for (float x : paged.v_decoded) max_abs_v = std::max(max_abs_v, double(std::fabs(x)));
                        WorstElement vs_double, vs_ref;
                        for (int d = 0; d < head_dim; ++d) {
                            vs_double.add(d, out[size_t(d)], want[size_t(d)], 1e-5 * max_abs_v);
                            vs_ref.add(d, out[size_t(d)], ref_out[size_t(d)], 1e-5 * max_abs_v);
                        }
                        const auto what = [&] {
                            return std::string(table->isa_name) + " kv " + std::string(dtype_name(dtype)) +
                                   " head_dim " + std::to_string(head_dim) + " n_ctx " + std::to_string(n_ctx) +
                                   " q_sigma " + std::to_string(q_sigma);
                        };
                        CHECK_MESSAGE(vs_double.within_tolerance(), what() << " vs double: " << vs_double.describe());
                        CHECK_MESSAGE(vs_ref.within_tolerance(), what() << " vs reference: " << vs_ref.describe());
                    }
                }
            }
        }
    }
}

TEST_CASE("f32 attention of every table equals attention on the same values stored as f32") {
    // The f16 / q8 paths decode exactly and then run the f32 code, so each table's result
    // for a kv type equals its result on those decoded values stored as f32, bit for bit.
    for (const KernelTable* table : usable_kernel_tables()) {
        for (DType dtype : {DType::F16, DType::Q8}) {
            for (int head_dim : {64, 128, 80}) {
                const int64_t n_ctx = 37;
                const uint32_t seed = uint32_t(head_dim + 7);
                const std::vector<float> q = gaussian(size_t(head_dim), seed, 3.0f);
                const PagedSequence stored(dtype, gaussian(size_t(n_ctx * head_dim), seed + 1),
                                           gaussian(size_t(n_ctx * head_dim), seed + 2), n_ctx, head_dim, seed + 3);
                const PagedSequence as_f32(DType::F32, stored.k_decoded, stored.v_decoded, n_ctx, head_dim, seed + 3);
                std::vector<float> s1(static_cast<size_t>(n_ctx)), s2 = s1, o1(static_cast<size_t>(head_dim)), o2 = o1;
                table->attention(q.data(), stored.head, n_ctx, head_dim, 0.125f, s1.data(), o1.data());
                table->attention(q.data(), as_f32.head, n_ctx, head_dim, 0.125f, s2.data(), o2.data());
                CHECK_MESSAGE(std::memcmp(o1.data(), o2.data(), o1.size() * 4) == 0,
                              table->isa_name << " kv " << dtype_name(dtype) << " head_dim " << head_dim);
            }
        }
    }
}

TEST_CASE("attention over an empty context writes zeros") {
    for (const KernelTable* table : usable_kernel_tables()) {
        const std::vector<float> q(8, 1.0f);
        const PagedKvHead empty{};
        std::vector<float> out(8, kNaN);
        float scratch[1] = {0};
        table->attention(q.data(), empty, 0, 8, 1.0f, scratch, out.data());
        for (float x : out) CHECK(x == 0.0f);
    }
}
