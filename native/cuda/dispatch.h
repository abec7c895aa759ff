// The kernel entry points native/addon.cc calls. In the CUDA addon (llfc_cuda.node, built with
// LLFC_WITH_CUDA) each runs on the GPU when a usable device was found when the addon loaded,
// and is the CPU kernel otherwise; in the CPU addon (llfc.node) each is the CPU kernel, inline.
// Same signatures and contracts as native/interpolate.h, feature_stats.h and gemm.h.
#pragma once
#include <cstddef>

#include "feature_stats.h"
#include "gemm.h"
#include "interpolate.h"

namespace llfc::dispatch {

#ifdef LLFC_WITH_CUDA

// "cuda" when a usable device was found (see native/cuda/device.h status()), else "cpu".
const char* backend();

void interpolate(const float* a, const float* b, size_t n, const double* alphas,
                 size_t num_alphas, float* const* outs, const Segment* segments,
                 size_t num_segments, const float* base);
void cosine_accumulate(const float* const* as, const double* alphas, size_t num_alphas,
                       const float* fa, const float* fb, size_t n, size_t d, double* acc);
void sum_squares(const float* x, const float* y, size_t len, double* out);
// On the GPU through cuBLAS when it could be loaded, else on the CPU (threads applies there).
void gemm_abt(const float* a, const float* b, float* c, size_t n, size_t m, size_t k,
              int threads);

#else

inline const char* backend() { return "cpu"; }

inline void interpolate(const float* a, const float* b, size_t n, const double* alphas,
                        size_t num_alphas, float* const* outs, const Segment* segments,
                        size_t num_segments, const float* base) {
  llfc::interpolate(a, b, n, alphas, num_alphas, outs, segments, num_segments, base);
}
inline void cosine_accumulate(const float* const* as, const double* alphas, size_t num_alphas,
                              const float* fa, const float* fb, size_t n, size_t d, double* acc) {
  llfc::cosine_accumulate(as, alphas, num_alphas, fa, fb, n, d, acc);
}
inline void sum_squares(const float* x, const float* y, size_t len, double* out) {
  llfc::sum_squares(x, y, len, out);
}
inline void gemm_abt(const float* a, const float* b, float* c, size_t n, size_t m, size_t k,
                     int threads) {
  llfc::gemm_abt(a, b, c, n, m, k, threads);
}

#endif

}  // namespace llfc::dispatch
