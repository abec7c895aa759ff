#include "interpolate.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace llfc {
namespace {

// Elements per block: a and b of one block stay in L1 while every α is written.
constexpr size_t kBlock = 2048;

#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
void blend(const float* __restrict a, const float* __restrict b, size_t n, double wa, double wb,
           float* __restrict out) {
  #pragma omp simd
  for (size_t i = 0; i < n; ++i) {
    out[i] = static_cast<float>(wa * static_cast<double>(a[i]) + wb * static_cast<double>(b[i]));
  }
}
#pragma GCC pop_options

void interpolate_range(const float* a, const float* b, size_t begin, size_t end,
                       const double* alphas, size_t num_alphas, float* const* outs) {
  for (size_t start = begin; start < end; start += kBlock) {
    const size_t len = std::min(kBlock, end - start);
    for (size_t k = 0; k < num_alphas; ++k) {
      blend(a + start, b + start, len, 1.0 - alphas[k], alphas[k], outs[k] + start);
    }
  }
}

void copy_range(const float* base, size_t begin, size_t end, size_t num_alphas,
                float* const* outs) {
  for (size_t k = 0; k < num_alphas; ++k) {
    std::memcpy(outs[k] + begin, base + begin, (end - begin) * sizeof(float));
  }
}

}  // namespace

void interpolate(const float* a, const float* b, size_t n, const double* alphas,
                 size_t num_alphas, float* const* outs, const Segment* segments,
                 size_t num_segments, const float* base) {
  if (n == 0 || num_alphas == 0) return;
  const Segment whole{0, n, true};
  if (segments == nullptr) {
    segments = &whole;
    num_segments = 1;
  }
  // Small arenas are not worth waking the thread pool.
  const int threads = n < (1u << 16) ? 1 : omp_get_max_threads();
  #pragma omp parallel num_threads(threads)
  {
    const size_t t = static_cast<size_t>(omp_get_thread_num());
    const size_t nt = static_cast<size_t>(omp_get_num_threads());
    // Contiguous share per thread, rounded to whole cache lines of floats.
    const size_t share = ((n + nt - 1) / nt + 15) / 16 * 16;
    const size_t begin = std::min(n, t * share);
    const size_t end = std::min(n, begin + share);
    if (begin < end) {
      // First segment that ends after `begin`.
      const Segment* seg = std::upper_bound(
          segments, segments + num_segments, begin,
          [](size_t pos, const Segment& s) { return pos < s.offset + s.length; });
      for (; seg != segments + num_segments && seg->offset < end; ++seg) {
        const size_t lo = std::max(begin, seg->offset);
        const size_t hi = std::min(end, seg->offset + seg->length);
        if (seg->interpolate) {
          interpolate_range(a, b, lo, hi, alphas, num_alphas, outs);
        } else {
          copy_range(base, lo, hi, num_alphas, outs);
        }
      }
    }
  }
}

}  // namespace llfc
