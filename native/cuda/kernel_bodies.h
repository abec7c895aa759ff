// The per-thread work of the CUDA kernels, as __host__ __device__ functions: kernels.cu wraps
// them in kernels, and the host emulation (native/cuda/emulation/) runs the very same code on
// the CPU to test the host logic and these bodies where no GPU is available. Only the block
// reductions (warp shuffles) and the launches are GPU-only.
#pragma once
#include <cuda_runtime_api.h>
#include <vector_functions.h>

#include <cstddef>
#include <cstdint>

#include "kernels.h"

#ifdef __CUDACC__
#define LLFC_HD __host__ __device__ __forceinline__
#else
#define LLFC_HD inline
#endif
#ifdef __CUDA_ARCH__  // the device pass only: the host compiler does not know the pragma
#define LLFC_UNROLL _Pragma("unroll")
#else
#define LLFC_UNROLL
#endif

namespace llfc::cuda::detail {

// float(wa·a + wb·b) with every operation rounded to nearest and nothing fused: the CPU
// kernel compiles the same expression with fp-contract off, so the two agree bit for bit.
// (The host emulation must be compiled with -ffp-contract=off.)
LLFC_HD float blend(float a, float b, double wa, double wb) {
#ifdef __CUDA_ARCH__
  return __double2float_rn(__dadd_rn(__dmul_rn(wa, static_cast<double>(a)),
                                     __dmul_rn(wb, static_cast<double>(b))));
#else
  return static_cast<float>(wa * static_cast<double>(a) + wb * static_cast<double>(b));
#endif
}

// The run holding global element g: the first run whose end is greater than g.
LLFC_HD uint32_t find_run(const Run* runs, uint32_t num_runs, uint64_t g) {
  uint32_t lo = 0, hi = num_runs;
  while (lo < hi) {
    const uint32_t mid = (lo + hi) / 2;
    if (runs[mid].end > g) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return lo;
}

// Group g of the interpolation: elements 4g … 4g+3 (those < len). Reads a, b (and base where
// masked) once and writes every α. kVec: 16-byte accesses for a full group (see kernels.h).
template <bool kVec>
LLFC_HD void interpolate_group(size_t g, const float* __restrict__ a, const float* __restrict__ b,
                               const float* __restrict__ base, size_t len, size_t first,
                               const Run* __restrict__ runs, uint32_t num_runs,
                               const double* __restrict__ weights, uint32_t num_alphas,
                               float* __restrict__ out, size_t stride) {
  const size_t i0 = g * 4;
  const bool full = i0 + 4 <= len;
  float va[4] = {0, 0, 0, 0}, vb[4] = {0, 0, 0, 0}, vbase[4] = {0, 0, 0, 0};
  bool interp[4] = {true, true, true, true};
  if (kVec && full) {
    const float4 x = *reinterpret_cast<const float4*>(a + i0);
    const float4 y = *reinterpret_cast<const float4*>(b + i0);
    va[0] = x.x; va[1] = x.y; va[2] = x.z; va[3] = x.w;
    vb[0] = y.x; vb[1] = y.y; vb[2] = y.z; vb[3] = y.w;
  } else {
LLFC_UNROLL
    for (int j = 0; j < 4; ++j) {
      if (i0 + j < len) {
        va[j] = a[i0 + j];
        vb[j] = b[i0 + j];
      }
    }
  }
  if (num_runs > 0) {
    uint32_t r = find_run(runs, num_runs, first + i0);
LLFC_UNROLL
    for (int j = 0; j < 4; ++j) {
      if (i0 + j < len) {
        while (r + 1 < num_runs && runs[r].end <= first + i0 + j) ++r;
        interp[j] = runs[r].interpolate != 0;
        if (!interp[j]) vbase[j] = base[i0 + j];
      }
    }
  }
  for (uint32_t k = 0; k < num_alphas; ++k) {
    const double wa = weights[2 * k], wb = weights[2 * k + 1];
    float o[4];
LLFC_UNROLL
    for (int j = 0; j < 4; ++j) o[j] = interp[j] ? blend(va[j], vb[j], wa, wb) : vbase[j];
    float* dst = out + k * stride + i0;
    if (kVec && full) {
      *reinterpret_cast<float4*>(dst) = make_float4(o[0], o[1], o[2], o[3]);
    } else {
LLFC_UNROLL
      for (int j = 0; j < 4; ++j) {
        if (i0 + j < len) dst[j] = o[j];
      }
    }
  }
}

// Thread `t` of `threads` over one row of d floats: its share of ⟨a, m⟩, ⟨a, a⟩, ⟨m, m⟩ with
// m = wa·fa + wb·fb, in float64.
LLFC_HD void cosine_thread(size_t t, size_t threads, const float* __restrict__ a,
                           const float* __restrict__ fa, const float* __restrict__ fb, size_t d,
                           double wa, double wb, double& am, double& aa, double& mm) {
  for (size_t j = t; j < d; j += threads) {
    const double m = wa * fa[j] + wb * fb[j];
    const double x = a[j];
    am += x * m;
    aa += x * x;
    mm += m * m;
  }
}

// Thread `t` of `threads` over len elements: its share of ‖x − y‖², ‖x‖², ‖y‖² in float64.
LLFC_HD void sum_squares_thread(size_t t, size_t threads, const float* __restrict__ x,
                                const float* __restrict__ y, size_t len, double& diff,
                                double& xx, double& yy) {
  for (size_t i = t; i < len; i += threads) {
    const double p = x[i], q = y[i];
    diff += (p - q) * (p - q);
    xx += p * p;
    yy += q * q;
  }
}

}  // namespace llfc::cuda::detail
