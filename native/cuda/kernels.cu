// The CUDA kernels: fused interpolation over arenas (many α, masks), per-sample float64 dot
// products for the cosine statistics, and float64 sums of squares. The per-thread work is in
// kernel_bodies.h; host logic (chunking, uploads, the final reductions) in device.cc; GEMM is
// cuBLAS's.
#include "kernels.h"

#include <cuda_runtime.h>

#include <algorithm>

#include "kernel_bodies.h"

namespace llfc::cuda::detail {
namespace {

constexpr unsigned kThreads = 256;
constexpr unsigned kWarps = kThreads / 32;
constexpr size_t kMaxBlocks = 1u << 16;  // grid-stride loops beyond this

template <bool kVec>
__global__ void __launch_bounds__(kThreads)
    interpolate_kernel(const float* __restrict__ a, const float* __restrict__ b,
                       const float* __restrict__ base, size_t len, size_t first,
                       const Run* __restrict__ runs, uint32_t num_runs,
                       const double* __restrict__ weights, uint32_t num_alphas,
                       float* __restrict__ out, size_t stride) {
  const size_t groups = (len + 3) / 4;
  for (size_t g = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; g < groups;
       g += static_cast<size_t>(gridDim.x) * blockDim.x) {
    interpolate_group<kVec>(g, a, b, base, len, first, runs, num_runs, weights, num_alphas, out,
                            stride);
  }
}

// Sums x, y, z over the block; the totals are valid in thread 0. Ends with the block in sync,
// so the shared scratch can be reused right away.
__device__ __forceinline__ void block_sum3(double& x, double& y, double& z) {
  __shared__ double shared[3][kWarps];
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) {
    x += __shfl_down_sync(0xffffffffu, x, offset);
    y += __shfl_down_sync(0xffffffffu, y, offset);
    z += __shfl_down_sync(0xffffffffu, z, offset);
  }
  const unsigned warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) {
    shared[0][warp] = x;
    shared[1][warp] = y;
    shared[2][warp] = z;
  }
  __syncthreads();
  if (warp == 0) {
    x = lane < kWarps ? shared[0][lane] : 0.0;
    y = lane < kWarps ? shared[1][lane] : 0.0;
    z = lane < kWarps ? shared[2][lane] : 0.0;
#pragma unroll
    for (int offset = kWarps / 2; offset > 0; offset /= 2) {
      x += __shfl_down_sync(0xffffffffu, x, offset);
      y += __shfl_down_sync(0xffffffffu, y, offset);
      z += __shfl_down_sync(0xffffffffu, z, offset);
    }
  }
  __syncthreads();
}

// One block per (row, α): blockIdx.y is the α index minus k0.
__global__ void __launch_bounds__(kThreads)
    cosine_dots_kernel(const float* const* __restrict__ as, const double* __restrict__ weights,
                       uint32_t k0, const float* __restrict__ fa, const float* __restrict__ fb,
                       size_t rows, size_t d, double* __restrict__ dots) {
  const uint32_t k = k0 + blockIdx.y;
  const double wa = weights[2 * k], wb = weights[2 * k + 1];
  const float* __restrict__ ak = as[k];
  for (size_t i = blockIdx.x; i < rows; i += gridDim.x) {
    const size_t row = i * d;
    double am = 0, aa = 0, mm = 0;
    cosine_thread(threadIdx.x, blockDim.x, ak + row, fa + row, fb + row, d, wa, wb, am, aa, mm);
    block_sum3(am, aa, mm);
    if (threadIdx.x == 0) {
      double* o = dots + (static_cast<size_t>(k) * rows + i) * 3;
      o[0] = am;
      o[1] = aa;
      o[2] = mm;
    }
  }
}

__global__ void __launch_bounds__(kThreads)
    sum_squares_kernel(const float* __restrict__ x, const float* __restrict__ y, size_t len,
                       double* __restrict__ partials) {
  double diff = 0, xx = 0, yy = 0;
  sum_squares_thread(blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x,
                     static_cast<size_t>(gridDim.x) * blockDim.x, x, y, len, diff, xx, yy);
  block_sum3(diff, xx, yy);
  if (threadIdx.x == 0) {
    partials[3 * blockIdx.x] = diff;
    partials[3 * blockIdx.x + 1] = xx;
    partials[3 * blockIdx.x + 2] = yy;
  }
}

unsigned blocks_for(size_t work) {
  return static_cast<unsigned>(std::max<size_t>(1, std::min(kMaxBlocks, (work + kThreads - 1) / kThreads)));
}

}  // namespace

cudaError_t probe_kernel_image() {
  cudaFuncAttributes attributes;
  return cudaFuncGetAttributes(&attributes, sum_squares_kernel);
}

cudaError_t launch_interpolate(const float* a, const float* b, const float* base, size_t len,
                               size_t first, const Run* runs, uint32_t num_runs,
                               const double* weights, uint32_t num_alphas, float* out,
                               size_t stride, bool vec) {
  if (len == 0 || num_alphas == 0) return cudaSuccess;
  const unsigned blocks = blocks_for((len + 3) / 4);
  if (vec) {
    interpolate_kernel<true><<<blocks, kThreads>>>(a, b, base, len, first, runs, num_runs,
                                                   weights, num_alphas, out, stride);
  } else {
    interpolate_kernel<false><<<blocks, kThreads>>>(a, b, base, len, first, runs, num_runs,
                                                    weights, num_alphas, out, stride);
  }
  return cudaGetLastError();
}

cudaError_t launch_cosine_dots(const float* const* as, const double* weights,
                               uint32_t num_alphas, const float* fa, const float* fb,
                               size_t rows, size_t d, double* dots) {
  if (rows == 0 || num_alphas == 0) return cudaSuccess;
  const unsigned row_blocks = static_cast<unsigned>(std::min<size_t>(rows, kMaxBlocks));
  constexpr uint32_t kMaxY = 65535;
  for (uint32_t k0 = 0; k0 < num_alphas; k0 += kMaxY) {
    const dim3 grid(row_blocks, std::min(kMaxY, num_alphas - k0));
    cosine_dots_kernel<<<grid, kThreads>>>(as, weights, k0, fa, fb, rows, d, dots);
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

cudaError_t launch_sum_squares(const float* x, const float* y, size_t len, double* partials,
                               uint32_t blocks) {
  sum_squares_kernel<<<blocks, kThreads>>>(x, y, len, partials);
  return cudaGetLastError();
}

}  // namespace llfc::cuda::detail
