// A stand-in for the CUDA runtime, for testing device.cc and kernel_bodies.h on machines
// without a GPU. "Device" memory is host memory from the fake cudaMalloc, tracked so that any
// kernel or copy given a pointer outside a live device allocation (a host pointer, a stale
// buffer, an overrun) aborts; the kernels run the bodies of kernel_bodies.h one thread after
// another. Not part of any addon.
#include "fake_runtime.h"

#include <cuda_runtime_api.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <vector>

#include "kernel_bodies.h"

namespace {

std::map<uintptr_t, size_t>& allocations() {
  static std::map<uintptr_t, size_t> a;
  return a;
}
fake::Counters g_counters;

[[noreturn]] void fail(const char* what, const void* p, size_t bytes) {
  std::fprintf(stderr, "fake CUDA: %s: %zu bytes at %p are not inside a device allocation\n", what, bytes, p);
  std::abort();
}

void require_device(const void* p, size_t bytes, const char* what) {
  if (bytes == 0) return;
  const uintptr_t lo = reinterpret_cast<uintptr_t>(p);
  auto& a = allocations();
  auto it = a.upper_bound(lo);
  if (it == a.begin()) fail(what, p, bytes);
  --it;
  if (lo < it->first || lo + bytes > it->first + it->second) fail(what, p, bytes);
}

void require_aligned(const void* p, const char* what) {
  if (reinterpret_cast<uintptr_t>(p) % 16 != 0) {
    std::fprintf(stderr, "fake CUDA: %s: %p is not 16-byte aligned for float4 access\n", what, p);
    std::abort();
  }
}

}  // namespace

namespace fake {
Counters& counters() { return g_counters; }
bool on_device(const void* p, size_t bytes) {
  if (bytes == 0) return true;
  const uintptr_t lo = reinterpret_cast<uintptr_t>(p);
  auto& a = allocations();
  auto it = a.upper_bound(lo);
  if (it == a.begin()) return false;
  --it;
  return lo >= it->first && lo + bytes <= it->first + it->second;
}
size_t live_allocations() { return allocations().size(); }
}  // namespace fake

extern "C" {

// Used by the fake cuBLAS (a separate library) through dlsym.
bool fake_cuda_on_device(const void* p, size_t bytes) { return fake::on_device(p, bytes); }

cudaError_t cudaMalloc(void** p, size_t bytes) {
  const size_t rounded = (bytes + 255) / 256 * 256;
  *p = std::aligned_alloc(256, rounded);
  if (!*p) return cudaErrorMemoryAllocation;
  std::memset(*p, 0xA5, rounded);  // garbage, as fresh device memory may hold
  allocations()[reinterpret_cast<uintptr_t>(*p)] = bytes;
  ++g_counters.mallocs;
  return cudaSuccess;
}

cudaError_t cudaFree(void* p) {
  if (!p) return cudaSuccess;
  auto& a = allocations();
  auto it = a.find(reinterpret_cast<uintptr_t>(p));
  if (it == a.end()) fail("cudaFree of an unknown pointer", p, 0);
  a.erase(it);
  std::free(p);
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  if (kind == cudaMemcpyHostToDevice) {
    require_device(dst, bytes, "cudaMemcpy H2D destination");
    if (fake::on_device(src, bytes)) fail("cudaMemcpy H2D source is device memory", src, bytes);
    g_counters.h2d_bytes += bytes;
  } else if (kind == cudaMemcpyDeviceToHost) {
    require_device(src, bytes, "cudaMemcpy D2H source");
    if (fake::on_device(dst, bytes)) fail("cudaMemcpy D2H destination is device memory", dst, bytes);
    g_counters.d2h_bytes += bytes;
  } else {
    std::fprintf(stderr, "fake CUDA: unexpected cudaMemcpy kind %d\n", static_cast<int>(kind));
    std::abort();
  }
  std::memcpy(dst, src, bytes);
  return cudaSuccess;
}

cudaError_t cudaGetLastError(void) { return cudaSuccess; }
const char* cudaGetErrorName(cudaError_t) { return "cudaErrorFake"; }
const char* cudaGetErrorString(cudaError_t) { return "fake error"; }
cudaError_t cudaRuntimeGetVersion(int* v) {
  *v = 13000;
  return cudaSuccess;
}
cudaError_t cudaDriverGetVersion(int* v) {
  *v = 13000;
  return cudaSuccess;
}
cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int) {
  std::memset(p, 0, sizeof(*p));
  std::snprintf(p->name, sizeof(p->name), "Emulated GPU");
  p->major = 9;
  p->minor = 0;
  p->totalGlobalMem = size_t(80) << 30;
  return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }

}  // extern "C"

namespace llfc::cuda::detail {

cudaError_t probe_kernel_image() { return cudaSuccess; }

cudaError_t launch_interpolate(const float* a, const float* b, const float* base, size_t len,
                               size_t first, const Run* runs, uint32_t num_runs,
                               const double* weights, uint32_t num_alphas, float* out,
                               size_t stride, bool vec) {
  ++g_counters.launches;
  if (len == 0 || num_alphas == 0) return cudaSuccess;
  require_device(a, len * 4, "interpolate a");
  require_device(b, len * 4, "interpolate b");
  if (num_runs > 0) {
    require_device(runs, num_runs * sizeof(Run), "interpolate runs");
    bool any_copy = false;
    for (uint32_t r = 0; r < num_runs; ++r) any_copy |= runs[r].interpolate == 0;
    if (any_copy) require_device(base, len * 4, "interpolate base");
  }
  require_device(weights, 2 * num_alphas * sizeof(double), "interpolate weights");
  require_device(out, ((num_alphas - 1) * stride + len) * 4, "interpolate out");
  if (stride < len) {
    std::fprintf(stderr, "fake CUDA: interpolate stride %zu < len %zu\n", stride, len);
    std::abort();
  }
  if (vec) {
    require_aligned(a, "interpolate a");
    require_aligned(b, "interpolate b");
    if (base) require_aligned(base, "interpolate base");
    require_aligned(out, "interpolate out");
    if (stride % 4 != 0) require_aligned(out + stride, "interpolate out stride");
  }
  const size_t groups = (len + 3) / 4;
  for (size_t g = 0; g < groups; ++g) {
    if (vec) {
      interpolate_group<true>(g, a, b, base, len, first, runs, num_runs, weights, num_alphas, out, stride);
    } else {
      interpolate_group<false>(g, a, b, base, len, first, runs, num_runs, weights, num_alphas, out, stride);
    }
  }
  return cudaSuccess;
}

cudaError_t launch_cosine_dots(const float* const* as, const double* weights,
                               uint32_t num_alphas, const float* fa, const float* fb,
                               size_t rows, size_t d, double* dots) {
  ++g_counters.launches;
  if (rows == 0 || num_alphas == 0) return cudaSuccess;
  constexpr size_t kThreads = 256;
  require_device(as, num_alphas * sizeof(float*), "cosine pointer array");
  require_device(weights, 2 * num_alphas * sizeof(double), "cosine weights");
  require_device(fa, rows * d * 4, "cosine fa");
  require_device(fb, rows * d * 4, "cosine fb");
  require_device(dots, rows * num_alphas * 3 * sizeof(double), "cosine dots");
  for (uint32_t k = 0; k < num_alphas; ++k) {
    require_device(as[k], rows * d * 4, "cosine a_k");
    for (size_t i = 0; i < rows; ++i) {
      double am = 0, aa = 0, mm = 0;
      for (size_t t = 0; t < kThreads; ++t) {  // each thread's share, then the block's sum
        double x = 0, y = 0, z = 0;
        cosine_thread(t, kThreads, as[k] + i * d, fa + i * d, fb + i * d, d, weights[2 * k],
                      weights[2 * k + 1], x, y, z);
        am += x;
        aa += y;
        mm += z;
      }
      double* o = dots + (static_cast<size_t>(k) * rows + i) * 3;
      o[0] = am;
      o[1] = aa;
      o[2] = mm;
    }
  }
  return cudaSuccess;
}

cudaError_t launch_sum_squares(const float* x, const float* y, size_t len, double* partials,
                               uint32_t blocks) {
  ++g_counters.launches;
  constexpr size_t kThreads = 256;
  require_device(x, len * 4, "sum_squares x");
  require_device(y, len * 4, "sum_squares y");
  require_device(partials, blocks * 3 * sizeof(double), "sum_squares partials");
  const size_t threads = blocks * kThreads;
  for (uint32_t j = 0; j < blocks; ++j) {
    double diff = 0, xx = 0, yy = 0;
    for (size_t t = 0; t < kThreads; ++t) {
      double p = 0, q = 0, r = 0;
      sum_squares_thread(j * kThreads + t, threads, x, y, len, p, q, r);
      diff += p;
      xx += q;
      yy += r;
    }
    partials[3 * j] = diff;
    partials[3 * j + 1] = xx;
    partials[3 * j + 2] = yy;
  }
  return cudaSuccess;
}

}  // namespace llfc::cuda::detail
