#include "feature_stats.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
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

// Runs dots(i, k) for every sample i and α k over the threads and adds the per-sample
// statistics to acc. Per-thread partial sums are merged in thread order: deterministic for a
// given thread count.
template <typename DotsFn>
void accumulate_samples(size_t n, size_t num_alphas, size_t work, double* acc, DotsFn dots) {
  const size_t slots = num_alphas * kCosineSlots;
  const int threads = work < (1u << 15) ? 1 : omp_get_max_threads();
  std::vector<double> partial(static_cast<size_t>(threads) * slots, 0.0);
  #pragma omp parallel num_threads(threads)
  {
    double* mine = partial.data() + static_cast<size_t>(omp_get_thread_num()) * slots;
    #pragma omp for schedule(static)
    for (size_t i = 0; i < n; ++i) {
      for (size_t k = 0; k < num_alphas; ++k) {
        const Dots s = dots(i, k);
        add_cosine_sample(s.am, s.aa, s.mm, mine + k * kCosineSlots);
      }
    }
  }
  for (int t = 0; t < threads; ++t) {
    for (size_t s = 0; s < slots; ++s) acc[s] += partial[static_cast<size_t>(t) * slots + s];
  }
}

}  // namespace

void add_cosine_sample(double am, double aa, double mm, double* slot) {
  if (aa == 0.0 || mm == 0.0) {
    slot[kSkipped] += 1;
    return;
  }
  const double distance = 1.0 - std::fabs(am) / (std::sqrt(aa) * std::sqrt(mm));
  slot[kSumDistance] += distance;
  slot[kSumDistanceSq] += distance * distance;
  slot[kSumCoefficient] += am / mm;
  slot[kCount] += 1;
}

void cosine_accumulate(const float* const* as, const double* alphas, size_t num_alphas,
                       const float* fa, const float* fb, size_t n, size_t d, double* acc) {
  accumulate_samples(n, num_alphas, n * d * num_alphas, acc, [&](size_t i, size_t k) {
    return sample_dots(as[k] + i * d, fa + i * d, fb + i * d, d, 1.0 - alphas[k], alphas[k]);
  });
}

double activate(const ActivationSpec& s, double x) {
  switch (s.kind) {
    case Activation::kRelu: return x > 0 ? x : 0.0;
    case Activation::kLeakyRelu: return x >= 0 ? x : s.alpha * x;
    case Activation::kSigmoid: return 1.0 / (1.0 + std::exp(-x));
    case Activation::kTanh: return std::tanh(x);
    case Activation::kElu: return x >= 0 ? x : s.alpha * std::expm1(x);
    case Activation::kSelu: return x > 0 ? s.beta * x : s.beta * s.alpha * std::expm1(x);
    case Activation::kCelu: return std::max(0.0, x) + std::min(0.0, s.alpha * std::expm1(x / s.alpha));
    case Activation::kSoftplus: return x > 30 ? x : std::log1p(std::exp(x));
    case Activation::kSoftsign: return x / (1.0 + std::fabs(x));
    case Activation::kHardSigmoid: return std::max(0.0, std::min(1.0, s.alpha * x + s.beta));
    case Activation::kHardSwish: return x * std::max(0.0, std::min(1.0, x / 6.0 + 0.5));
    case Activation::kGelu: return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    case Activation::kGeluTanh: {
      const double k = std::sqrt(2.0 / 3.14159265358979323846);
      return 0.5 * x * (1.0 + std::tanh(k * (x + 0.044715 * x * x * x)));
    }
    case Activation::kMish: return x * std::tanh(x > 30 ? x : std::log1p(std::exp(x)));
    case Activation::kThresholdedRelu: return x > s.alpha ? x : 0.0;
    case Activation::kCount: break;
  }
  throw std::invalid_argument("unknown activation");
}

void weak_additivity_accumulate(const float* ha, const float* hb, const float* fa, const float* fb,
                                size_t n, size_t d, const double* alphas, size_t num_alphas,
                                const ActivationSpec& spec, double* acc) {
  if (static_cast<int>(spec.kind) < 0 || spec.kind >= Activation::kCount) throw std::invalid_argument("unknown activation");
  accumulate_samples(n, num_alphas, n * d * num_alphas * 2, acc, [&](size_t i, size_t k) {
    const float* xa = ha + i * d;
    const float* xb = hb + i * d;
    const float* ya = fa + i * d;
    const float* yb = fb + i * d;
    const double wb = alphas[k], wa = 1.0 - wb;
    double am = 0, aa = 0, mm = 0;
    if (spec.kind == Activation::kRelu) {
      #pragma omp simd reduction(+ : am, aa, mm)
      for (size_t j = 0; j < d; ++j) {
        const double mix = wa * xa[j] + wb * xb[j];
        const double a = mix > 0 ? mix : 0.0;
        const double m = wa * ya[j] + wb * yb[j];
        am += a * m;
        aa += a * a;
        mm += m * m;
      }
    } else {
      for (size_t j = 0; j < d; ++j) {
        const double a = activate(spec, wa * xa[j] + wb * xb[j]);
        const double m = wa * ya[j] + wb * yb[j];
        am += a * m;
        aa += a * a;
        mm += m * m;
      }
    }
    return Dots{am, aa, mm};
  });
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
