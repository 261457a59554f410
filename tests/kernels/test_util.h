// Helpers shared by the kernel tests: seeded random data and "worst element" tracking so
// a failing comparison prints the index and values that broke the tolerance.
#pragma once
#include <cmath>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace ember::test {

// n samples of N(0, sigma^2), reproducible from the seed.
inline std::vector<float> gaussian(size_t n, uint32_t seed, float sigma = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, sigma);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    return v;
}

// Remembers the element whose |got - want| is the largest multiple of its tolerance.
// NaN (in got or want) counts as infinitely bad.
class WorstElement {
  public:
    void add(int64_t index, double got, double want, double tol) {
        const double err = std::fabs(got - want);
        const double ratio = std::isnan(err) ? INFINITY : (tol > 0 ? err / tol : (err > 0 ? INFINITY : 0.0));
        if (index_ < 0 || ratio > ratio_) {
            index_ = index;
            got_ = got;
            want_ = want;
            tol_ = tol;
            ratio_ = ratio;
        }
    }
    bool within_tolerance() const { return ratio_ <= 1.0; }
    double ratio() const { return ratio_; }  // worst |err| / tol seen
    std::string describe() const {
        std::ostringstream s;
        s.precision(9);
        s << "worst index " << index_ << ": got " << got_ << ", want " << want_ << ", |err| "
          << std::fabs(got_ - want_) << ", tol " << tol_ << " (err/tol " << ratio_ << ")";
        return s.str();
    }

  private:
    int64_t index_ = -1;
    double got_ = 0, want_ = 0, tol_ = 0, ratio_ = 0;
};

}  // namespace ember::test
