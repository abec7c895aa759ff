#include "loss.h"

#include <omp.h>

// GCC 12 reports Eigen's AVX-512 exp packets as maybe-uninitialized (a known false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <Eigen/Core>
#include <cmath>
#include <vector>

namespace llfc {

void cross_entropy_sums(const float* logits, const int32_t* labels, size_t n, size_t classes,
                        bool has_ignore, int32_t ignore_index, double* out) {
  // Rows split over the threads (onnxruntime is idle meanwhile); per-thread sums added in thread
  // order, so the result is deterministic for a given thread count.
  const int threads = n * classes < (1u << 16) ? 1 : omp_get_max_threads();
  std::vector<double> partial(static_cast<size_t>(threads) * 3, 0.0);
  #pragma omp parallel num_threads(threads)
  {
    double* mine = partial.data() + static_cast<size_t>(omp_get_thread_num()) * 3;
    Eigen::ArrayXf shifted(static_cast<Eigen::Index>(classes));
    #pragma omp for schedule(static)
    for (size_t s = 0; s < n; ++s) {
      const int32_t label = labels[s];
      if (has_ignore && label == ignore_index) continue;
      const Eigen::Map<const Eigen::ArrayXf> row(logits + s * classes, static_cast<Eigen::Index>(classes));
      // The first largest logit, NaN never largest (as lib/'s argmax reads them).
      float max = -INFINITY;
      size_t arg = 0;
      for (size_t c = 0; c < classes; ++c) {
        if (row[static_cast<Eigen::Index>(c)] > max) {
          max = row[static_cast<Eigen::Index>(c)];
          arg = c;
        }
      }
      // exp in float32 (Eigen's vectorized exp, ~1 ulp), summed in float64: the terms are ≤ 1.
      shifted = (row - max).exp();
      const double sum = shifted.cast<double>().sum();
      mine[0] += static_cast<double>(max) + std::log(sum) - static_cast<double>(row[label]);
      if (arg == static_cast<size_t>(label)) mine[1] += 1;
      mine[2] += 1;
    }
  }
  for (int t = 0; t < threads; ++t) {
    for (size_t k = 0; k < 3; ++k) out[k] += partial[static_cast<size_t>(t) * 3 + k];
  }
}

}  // namespace llfc
