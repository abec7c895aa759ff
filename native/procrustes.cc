#include "procrustes.h"

// Eigen 3.4's headers trip GCC 12's -Wmaybe-uninitialized and -Wunused-variable (see gemm.cc).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wunused-variable"
#include <Eigen/Core>
#include <Eigen/SVD>
#include <cmath>

namespace llfc {

namespace {
using Matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

Matrix polar(const Matrix& c) {
  Eigen::BDCSVD<Matrix> svd(c, Eigen::ComputeFullU | Eigen::ComputeFullV);
  return svd.matrixU() * svd.matrixV().transpose();
}

// An orthonormal basis of the complement of the all-ones direction (d × (d−1)): the last d−1
// columns of the Householder reflection that maps e₁ to 1/√d.
Matrix complement_of_ones(Eigen::Index d) {
  Eigen::VectorXd v = Eigen::VectorXd::Constant(d, 1.0 / std::sqrt(static_cast<double>(d)));
  v(0) -= 1.0;
  const double norm2 = v.squaredNorm();
  Matrix h = Matrix::Identity(d, d);
  if (norm2 > 0) h -= (2.0 / norm2) * v * v.transpose();
  return h.rightCols(d - 1);
}
}  // namespace

double procrustes(const double* c, size_t d, bool fix_ones, double* o) {
  const auto n = static_cast<Eigen::Index>(d);
  Eigen::Map<const Matrix> C(c, n, n);
  Eigen::Map<Matrix> O(o, n, n);
  if (d == 0) return 0;
  if (fix_ones && d > 1) {
    const Matrix q = complement_of_ones(n);
    O = q * polar(q.transpose() * C * q) * q.transpose();
    O.array() += 1.0 / static_cast<double>(d);
  } else if (fix_ones) {
    O(0, 0) = 1;
  } else {
    O = polar(C);
  }
  return (O.array() * C.array()).sum();
}

}  // namespace llfc

#pragma GCC diagnostic pop
