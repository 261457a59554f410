#include "runtime/rope.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace ember {
namespace {

// HF _compute_llama3_parameters: long wavelengths are divided by `factor`, short ones
// kept, and the band in between interpolated smoothly.
void apply_llama3(std::vector<double>& inv_freq, const RopeScaling& s) {
    const double old_ctx = double(s.original_max_position);
    const double low_wavelen = old_ctx / s.low_freq_factor;
    const double high_wavelen = old_ctx / s.high_freq_factor;
    for (double& f : inv_freq) {
        const double wavelen = 2 * std::numbers::pi / f;
        if (wavelen < high_wavelen) continue;  // high frequency: unchanged
        if (wavelen > low_wavelen) {
            f /= s.factor;  // low frequency: fully scaled
            continue;
        }
        const double smooth = (old_ctx / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
        f = (1 - smooth) * f / s.factor + smooth * f;
    }
}

// HF _compute_yarn_parameters: blend interpolated and extrapolated frequencies with a
// linear ramp between the correction dims, and scale attention by 0.1 ln(factor) + 1.
double apply_yarn(std::vector<double>& inv_freq, const RopeScaling& s, double base, int64_t dim) {
    auto correction_dim = [&](double n_rot) {
        return dim * std::log(double(s.original_max_position) / (n_rot * 2 * std::numbers::pi)) / (2 * std::log(base));
    };
    double low = std::max(std::floor(correction_dim(s.beta_fast)), 0.0);
    double high = std::min(std::ceil(correction_dim(s.beta_slow)), double(dim - 1));
    if (low == high) high += 0.001;  // avoid a division by zero in the ramp, as HF does
    for (size_t i = 0; i < inv_freq.size(); ++i) {
        const double extrapolated = inv_freq[i];
        const double interpolated = extrapolated / s.factor;
        const double ramp = std::clamp((double(i) - low) / (high - low), 0.0, 1.0);
        const double extrapolation_weight = 1 - ramp;
        inv_freq[i] = interpolated * (1 - extrapolation_weight) + extrapolated * extrapolation_weight;
    }
    if (s.attention_factor > 0) return s.attention_factor;
    return s.factor > 1 ? 0.1 * std::log(s.factor) + 1.0 : 1.0;
}

}  // namespace

RopeTable make_rope_table(const ModelConfig& c) {
    RopeTable t;
    const int64_t half = c.head_dim / 2;
    t.inv_freq.resize(size_t(half));
    for (int64_t i = 0; i < half; ++i) t.inv_freq[size_t(i)] = 1.0 / std::pow(c.rope_theta, double(2 * i) / double(c.head_dim));
    const RopeScaling& s = c.rope_scaling;
    if (s.type == "linear") {
        for (double& f : t.inv_freq) f /= s.factor;
    } else if (s.type == "llama3") {
        apply_llama3(t.inv_freq, s);
    } else if (s.type == "yarn") {
        t.attention_factor = apply_yarn(t.inv_freq, s, c.rope_theta, c.head_dim);
    }
    return t;
}

void RopeTable::at(int64_t pos, float* out_cos, float* out_sin) const {
    for (size_t i = 0; i < inv_freq.size(); ++i) {
        const double angle = double(pos) * inv_freq[i];
        out_cos[i] = float(std::cos(angle) * attention_factor);
        out_sin[i] = float(std::sin(angle) * attention_factor);
    }
}

}  // namespace ember
