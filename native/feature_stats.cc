#include "feature_stats.h"

#include <omp.h>

// GCC 12 reports Eigen's AVX-512 packet math as maybe-uninitialized (a known false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <Eigen/Core>
#include <unsupported/Eigen/SpecialFunctions>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace llfc {
namespace {

struct Dots {
  double am = 0, aa = 0, mm = 0;
};

// Float64 sums in a fixed number of lanes, added in a fixed order: the same additions whatever
// vector width the compiler picks for this CPU (-march=native), so statistics are bit-identical
// across machines (an `omp simd reduction` lets the width decide the order).
constexpr size_t kLanes = 8;

double lane_total(const double* lanes) {
  double total = 0;
  for (size_t l = 0; l < kLanes; ++l) total += lanes[l];
  return total;
}

// Three float64 sums over j < d of the terms terms(j, t0, t1, t2) sets.
template <typename TermsFn>
Dots lane_sums(size_t d, TermsFn terms) {
  double s0[kLanes] = {}, s1[kLanes] = {}, s2[kLanes] = {};
  size_t j = 0;
  for (; j + kLanes <= d; j += kLanes) {
    #pragma omp simd
    for (size_t l = 0; l < kLanes; ++l) {
      double t0, t1, t2;
      terms(j + l, t0, t1, t2);
      s0[l] += t0;
      s1[l] += t1;
      s2[l] += t2;
    }
  }
  for (size_t l = 0; j < d; ++j, ++l) {
    double t0, t1, t2;
    terms(j, t0, t1, t2);
    s0[l] += t0;
    s1[l] += t1;
    s2[l] += t2;
  }
  return {lane_total(s0), lane_total(s1), lane_total(s2)};
}

// ⟨x, m⟩, ‖x‖², ‖m‖² over j < d, where pair(j, x, m) sets the j-th elements.
template <typename PairFn>
Dots lane_dots(size_t d, PairFn pair) {
  return lane_sums(d, [&](size_t j, double& xm, double& xx, double& mm) {
    double x, m;
    pair(j, x, m);
    xm = x * m;
    xx = x * x;
    mm = m * m;
  });
}

// max(x, 0) as `x > 0 ? x : 0.0` gives it (NaN and −0 included), with no branch: GCC keeps a
// branch for a float comparison under trapping math, and on activations, whose signs are as
// good as random, a mispredicted branch per element made weak additivity's ReLU 12× slower.
inline double relu(double x) {
  uint64_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  bits &= -static_cast<uint64_t>(x > 0);
  std::memcpy(&x, &bits, sizeof bits);
  return x;
}

Dots sample_dots(const float* __restrict a, const float* __restrict fa,
                 const float* __restrict fb, size_t d, double wa, double wb) {
  return lane_dots(d, [&](size_t j, double& x, double& m) {
    m = wa * fa[j] + wb * fb[j];
    x = a[j];
  });
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
    case Activation::kRelu: return relu(x);
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

namespace {

// The activations with a vectorized float32 form (Eigen's erf, tanh, logistic: a few ulp),
// applied to a whole row in place: an order of magnitude faster than std::erf per element on
// a GELU MLP's hidden layer, and as precise as the float32 features they are compared with.
// With row == nullptr, only says whether `kind` has such a form.
bool activate_row_float32(Activation kind, Eigen::ArrayXf* row) {
  switch (kind) {
    case Activation::kGelu:
      if (row) *row = 0.5f * *row * (1.0f + (*row * 0.70710678118654752f).erf());
      return true;
    case Activation::kGeluTanh:
      if (row) *row = 0.5f * *row * (1.0f + (0.79788456080286536f * (*row + 0.044715f * row->cube())).tanh());
      return true;
    case Activation::kTanh:
      if (row) *row = row->tanh();
      return true;
    case Activation::kSigmoid:
      if (row) *row = row->logistic();
      return true;
    default:
      return false;
  }
}

}  // namespace

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
    if (spec.kind == Activation::kRelu) {
      return lane_dots(d, [&](size_t j, double& a, double& m) {
        a = relu(wa * xa[j] + wb * xb[j]);
        m = wa * ya[j] + wb * yb[j];
      });
    }
    if (activate_row_float32(spec.kind, nullptr)) {
      thread_local Eigen::ArrayXf row;
      row.resize(static_cast<Eigen::Index>(d));
      for (size_t j = 0; j < d; ++j) row[static_cast<Eigen::Index>(j)] = static_cast<float>(wa * xa[j] + wb * xb[j]);
      activate_row_float32(spec.kind, &row);
      return lane_dots(d, [&](size_t j, double& a, double& m) {
        a = row[static_cast<Eigen::Index>(j)];
        m = wa * ya[j] + wb * yb[j];
      });
    }
    return lane_dots(d, [&](size_t j, double& a, double& m) {
      a = activate(spec, wa * xa[j] + wb * xb[j]);
      m = wa * ya[j] + wb * yb[j];
    });
  });
}

void channel_moments(const float* x, size_t outer, size_t channels, size_t inner, double* sums) {
  double* sq = sums + channels;
  for (size_t o = 0; o < outer; ++o) {
    for (size_t c = 0; c < channels; ++c) {
      const float* row = x + (o * channels + c) * inner;
      // Per row first, so each channel's running sum takes one addition per row, not per element.
      double s = 0.0, ss = 0.0;
      for (size_t i = 0; i < inner; ++i) {
        const double v = row[i];
        s += v;
        ss += v * v;
      }
      sums[c] += s;
      sq[c] += ss;
    }
  }
}

namespace {

// ‖X − d‖², ‖X‖², ‖d‖² over j < n with X = a + b − bias_at(j), in float64.
template <typename BiasFn>
Dots output_row_sums(const float* __restrict a, const float* __restrict b, const float* __restrict d, size_t n,
                     BiasFn bias_at) {
  return lane_sums(n, [&](size_t j, double& yy, double& xx, double& dd) {
    const double x = static_cast<double>(a[j]) + b[j] - bias_at(j);
    const double dj = d[j];
    yy = (x - dj) * (x - dj);
    xx = x * x;
    dd = dj * dj;
  });
}

// Three float64 sums over `parts` items split into at most `chunks` contiguous ranges (one per
// thread), each range's sums (range_sums(begin, end)) added to out in range order: deterministic
// for a given thread count, unlike an OpenMP reduction clause, whose combining order is unspecified.
template <typename RangeFn>
void add_in_range_order(size_t parts, int chunks, double* out, RangeFn range_sums) {
  const size_t chunk = (parts + chunks - 1) / chunks;
  std::vector<Dots> partial(static_cast<size_t>(chunks));
  #pragma omp parallel for num_threads(chunks) schedule(static)
  for (int c = 0; c < chunks; ++c) {
    const size_t begin = std::min(parts, static_cast<size_t>(c) * chunk);
    partial[static_cast<size_t>(c)] = range_sums(begin, std::min(parts, begin + chunk));
  }
  for (const Dots& p : partial) {
    out[0] += p.am;
    out[1] += p.aa;
    out[2] += p.mm;
  }
}

}  // namespace

void output_commutativity_sums(const float* za, const float* zb, const float* bias, const float* d, size_t outer,
                               size_t channels, size_t inner, double* out) {
  // A row is `inner` elements of one channel (one bias value), or, where inner is 1, all the
  // channels of one outer index (the bias read per element), so rows stay long enough to vectorize.
  const bool per_element = inner == 1 && bias;
  const size_t rows = per_element ? outer : outer * channels;
  const size_t row_length = per_element ? channels : inner;
  const auto row_sums = [&](size_t r) {
    const size_t begin = r * row_length;
    if (per_element) return output_row_sums(za + begin, zb + begin, d + begin, row_length, [&](size_t j) { return static_cast<double>(bias[j]); });
    const double constant = bias ? bias[r % channels] : 0.0;
    return output_row_sums(za + begin, zb + begin, d + begin, row_length, [constant](size_t) { return constant; });
  };
  const int chunks = rows * row_length < (1u << 16) ? 1 : static_cast<int>(std::min<size_t>(rows, omp_get_max_threads()));
  add_in_range_order(rows, chunks, out, [&](size_t begin, size_t end) {
    Dots total;
    for (size_t r = begin; r < end; ++r) {
      const Dots s = row_sums(r);
      total.am += s.am;
      total.aa += s.aa;
      total.mm += s.mm;
    }
    return total;
  });
}

void sum_squares(const float* x, const float* y, size_t len, double* out) {
  const int chunks = len < (1u << 16) ? 1 : omp_get_max_threads();
  add_in_range_order(len, chunks, out, [&](size_t begin, size_t end) {
    const float* xs = x + begin;
    const float* ys = y + begin;
    return lane_sums(end - begin, [&](size_t j, double& diff, double& xx, double& yy) {
      const double a = xs[j], b = ys[j];
      diff = (a - b) * (a - b);
      xx = a * a;
      yy = b * b;
    });
  });
}

}  // namespace llfc
