// Launchers of the CUDA kernels (native/cuda/kernels.cu), for native/cuda/device.cc only.
// Every pointer argument is a device pointer; launches go to the legacy default stream and
// return the launch status (errors inside a kernel surface at the next synchronizing call).
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace llfc::cuda::detail {

// One run of an interpolation mask: elements [previous run's end, end) of the whole arena are
// interpolated (interpolate != 0) or copied from the base arena. Runs tile [0, n) in order.
struct Run {
  uint64_t end;
  uint32_t interpolate;
  uint32_t unused;
};

// cudaSuccess when this binary holds code the current device can run (SASS for its
// architecture, or PTX the driver can compile for it); cudaErrorNoKernelImageForDevice if not.
cudaError_t probe_kernel_image();

// out[k·stride + i] = float((1 − α_k)·a[i] + α_k·b[i]) for i < len and k < num_alphas, in
// double, rounded as the CPU kernel does (no FMA contraction); weights[2k] = 1 − α_k and
// weights[2k+1] = α_k. With num_runs > 0, element i is global element first + i of the arena
// and elements of a run with interpolate == 0 are copied from base[i] instead. vec: a, b,
// base and out (and stride·4 bytes) are 16-byte aligned, so float4 accesses are used.
cudaError_t launch_interpolate(const float* a, const float* b, const float* base, size_t len,
                               size_t first, const Run* runs, uint32_t num_runs,
                               const double* weights, uint32_t num_alphas, float* out,
                               size_t stride, bool vec);

// For each row i < rows (d floats) and each k < num_alphas, with m = weights[2k]·fa + weights[2k+1]·fb:
// dots[(k·rows + i)·3 + {0, 1, 2}] = {⟨a_k, m⟩, ⟨a_k, a_k⟩, ⟨m, m⟩} in float64, a_k = as[k]
// (as: a device array of num_alphas device pointers).
cudaError_t launch_cosine_dots(const float* const* as, const double* weights,
                               uint32_t num_alphas, const float* fa, const float* fb,
                               size_t rows, size_t d, double* dots);

// partials[3·j + {0, 1, 2}] = this block's share of {‖x − y‖², ‖x‖², ‖y‖²} for j < blocks.
cudaError_t launch_sum_squares(const float* x, const float* y, size_t len, double* partials,
                               uint32_t blocks);

}  // namespace llfc::cuda::detail
