// Single-precision GEMM C = A·Bᵀ on raw row-major buffers (Eigen, multithreaded with OpenMP):
// the product that turns two layers' weights or activations into an assignment cost matrix.
#pragma once
#include <cstddef>

namespace llfc {

// c (n × m) = a (n × k) · bᵀ, where b is m × k; all row-major float32, c must not alias a or
// b. threads ≤ 0 uses every OpenMP thread; small products run on one thread regardless.
void gemm_abt(const float* a, const float* b, float* c, size_t n, size_t m, size_t k,
              int threads = 0);

}  // namespace llfc
