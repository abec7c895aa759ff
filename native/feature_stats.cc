#include "feature_stats.h"

#include <omp.h>

#include <cmath>
#include <vector>

namespace llfc {
namespace {

struct Dots {
  double am = 0, aa = 0, mm = 0;
};

Dots sample_dots(const float* __restrict a, const float* __restrict fa,
                 const float* __restrict fb, size_t d, double wa, double wb) {
  double am = 0, aa = 0, mm = 0;
  #pragma omp simd reduction(+ : am, aa, mm)
  for (size_t j = 0; j < d; ++j) {
    const double m = wa * fa[j] + wb * fb[j];
    const double x = a[j];
    am += x * m;
    aa += x * x;
    mm += m * m;
  }
  return {am, aa, mm};
}

}  // namespace

void cosine_accumulate(const float* const* as, const double* alphas, size_t num_alphas,
                       const float* fa, const float* fb, size_t n, size_t d, double* acc) {
  const size_t slots = num_alphas * kCosineSlots;
  const int threads = n * d * num_alphas < (1u << 15) ? 1 : omp_get_max_threads();
  // Per-thread partial sums merged in thread order: deterministic for a given thread count.
  std::vector<double> partial(static_cast<size_t>(threads) * slots, 0.0);
  #pragma omp parallel num_threads(threads)
  {
    double* mine = partial.data() + static_cast<size_t>(omp_get_thread_num()) * slots;
    #pragma omp for schedule(static)
    for (size_t i = 0; i < n; ++i) {
      for (size_t k = 0; k < num_alphas; ++k) {
        const Dots s = sample_dots(as[k] + i * d, fa + i * d, fb + i * d, d, 1.0 - alphas[k], alphas[k]);
        double* slot = mine + k * kCosineSlots;
        if (s.aa == 0.0 || s.mm == 0.0) {
          slot[kSkipped] += 1;
          continue;
        }
        const double distance = 1.0 - std::fabs(s.am) / (std::sqrt(s.aa) * std::sqrt(s.mm));
        slot[kSumDistance] += distance;
        slot[kSumDistanceSq] += distance * distance;
        slot[kSumCoefficient] += s.am / s.mm;
        slot[kCount] += 1;
      }
    }
  }
  for (int t = 0; t < threads; ++t) {
    for (size_t s = 0; s < slots; ++s) acc[s] += partial[static_cast<size_t>(t) * slots + s];
  }
}

void sum_squares(const float* x, const float* y, size_t len, double* out) {
  double diff = 0, xx = 0, yy = 0;
  const int threads = len < (1u << 16) ? 1 : omp_get_max_threads();
  #pragma omp parallel for simd num_threads(threads) reduction(+ : diff, xx, yy) schedule(static)
  for (size_t i = 0; i < len; ++i) {
    const double a = x[i], b = y[i];
    diff += (a - b) * (a - b);
    xx += a * a;
    yy += b * b;
  }
  out[0] += diff;
  out[1] += xx;
  out[2] += yy;
}

}  // namespace llfc
