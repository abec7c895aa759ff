#include "gemm.h"

#include <omp.h>

// Eigen 3.4's AVX-512 code trips GCC 12's -Wmaybe-uninitialized (on _mm512_undefined_*) and
// -Wunused-variable; both are in Eigen's headers, not here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wunused-variable"
#include <Eigen/Core>
#include <algorithm>

namespace llfc {

void gemm_abt(const float* a, const float* b, float* c, size_t n, size_t m, size_t k,
              int threads) {
  using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const Eigen::Index N = static_cast<Eigen::Index>(n), M = static_cast<Eigen::Index>(m),
                     K = static_cast<Eigen::Index>(k);
  Eigen::Map<RowMajor> C(c, N, M);
  if (n == 0 || m == 0) return;
  if (k == 0) {
    C.setZero();
    return;
  }
  Eigen::Map<const RowMajor> A(a, N, K), B(b, M, K);
  int t = threads > 0 ? threads : omp_get_max_threads();
  // Below ~2 MFLOP a second thread costs more than it saves.
  if (static_cast<double>(n) * static_cast<double>(m) * static_cast<double>(k) < 1e6) t = 1;
  const int previous = Eigen::nbThreads();
  Eigen::setNbThreads(t);
  C.noalias() = A * B.transpose();
  Eigen::setNbThreads(previous);
}

}  // namespace llfc

#pragma GCC diagnostic pop
