// `ember bench --profile`: where one decode step's time goes, op by op.
//
// Builds its own graph with kernel timing on (kernels/op_profile.h), fills the context with
// `context` random tokens, then times `steps` single-token decode steps (after one untimed
// step). Each matmul row is labelled with the weights of that shape ("q_proj, o_proj"), and
// the time no kernel accounts for (embedding lookup, biases, residual adds, K/V copies,
// the graph's loops) is reported as "graph glue".
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/model.h"

namespace ember {

struct ProfileRow {
    std::string op;       // "matmul", "attention", "rmsnorm", ..., "graph glue"
    std::string what;     // matmul: "q_proj, o_proj [896 x 896] q4"; else empty
    double calls_per_step = 0;
    double us_per_step = 0;
    double share = 0;           // of the whole step, 0..1
    double weight_gb_per_s = 0; // matmul: weight bytes read / time (0 otherwise)
};

struct DecodeProfile {
    int64_t context = 0, steps = 0;
    double step_us = 0;            // mean wall time of one decode step
    double weight_bytes_per_step = 0;
    std::vector<ProfileRow> rows;  // largest first, "graph glue" last
};

// Throws std::invalid_argument when context + steps + 1 exceeds max_context. kv_type: the
// KV cache storage the graph runs with (the bench's --kv-type).
DecodeProfile profile_decode(const Model& model, int64_t context, int64_t steps, int64_t max_context,
                             DType kv_type, uint64_t seed = 1234);

std::string format_decode_profile(const DecodeProfile& p);

}  // namespace ember
