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
  // C is computed in fixed tiles, each a single-threaded Eigen product, shared out over the
  // threads. Eigen's own threading picks its depth blocking (and so each sum's order) from the
  // thread count on some CPUs (L1 under ~40 KB), and a product's path (GEMV for one row) from
  // its shape: fixed tiles make every value the same whatever the thread count.
  constexpr Eigen::Index kRows = 256, kCols = 512;
  const Eigen::Index row_tiles = (N + kRows - 1) / kRows, col_tiles = (M + kCols - 1) / kCols;
  const int previous = Eigen::nbThreads();
  Eigen::setNbThreads(1);
  #pragma omp parallel for num_threads(t) schedule(static)
  for (Eigen::Index tile = 0; tile < row_tiles * col_tiles; ++tile) {
    const Eigen::Index r0 = (tile / col_tiles) * kRows, c0 = (tile % col_tiles) * kCols;
    const Eigen::Index rows = std::min(kRows, N - r0), cols = std::min(kCols, M - c0);
    C.block(r0, c0, rows, cols).noalias() = A.middleRows(r0, rows) * B.middleRows(c0, cols).transpose();
  }
  Eigen::setNbThreads(previous);
}

}  // namespace llfc

#pragma GCC diagnostic pop
