// Routing of the CUDA addon: the GPU when native/cuda/device.cc found a usable device, the CPU
// kernels otherwise (so llfc_cuda.node without a GPU computes exactly what llfc.node does).
#include "dispatch.h"

#include "device.h"

namespace llfc::dispatch {

const char* backend() { return cuda::status().available ? "cuda" : "cpu"; }

void interpolate(const float* a, const float* b, size_t n, const double* alphas,
                 size_t num_alphas, float* const* outs, const Segment* segments,
                 size_t num_segments, const float* base) {
  if (cuda::status().available) {
    cuda::interpolate(a, b, n, alphas, num_alphas, outs, segments, num_segments, base);
  } else {
    llfc::interpolate(a, b, n, alphas, num_alphas, outs, segments, num_segments, base);
  }
}

void cosine_accumulate(const float* const* as, const double* alphas, size_t num_alphas,
                       const float* fa, const float* fb, size_t n, size_t d, double* acc) {
  if (cuda::status().available) {
    cuda::cosine_accumulate(as, alphas, num_alphas, fa, fb, n, d, acc);
  } else {
    llfc::cosine_accumulate(as, alphas, num_alphas, fa, fb, n, d, acc);
  }
}

void sum_squares(const float* x, const float* y, size_t len, double* out) {
  if (cuda::status().available) {
    cuda::sum_squares(x, y, len, out);
  } else {
    llfc::sum_squares(x, y, len, out);
  }
}

void gemm_abt(const float* a, const float* b, float* c, size_t n, size_t m, size_t k,
              int threads) {
  if (cuda::status().available && cuda::gemm_abt(a, b, c, n, m, k)) return;
  llfc::gemm_abt(a, b, c, n, m, k, threads);
}

}  // namespace llfc::dispatch
