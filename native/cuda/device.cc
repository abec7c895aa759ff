// Host side of the CUDA kernels: device probing, the DeviceArena (resident ranges and reusable
// scratch buffers), chunked uploads and downloads, the final float64 reductions, and cuBLAS
// loaded at run time. Plain C++ against the CUDA runtime API (linked statically: the driver,
// libcuda.so.1, is opened by the runtime when first needed, so this loads without one).
#include "device.h"

#include <cuda_runtime_api.h>
#include <dlfcn.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>
#include <utility>
#include <vector>

#include "feature_stats.h"
#include "kernels.h"

namespace llfc::cuda {
namespace {

std::mutex& mutex() {
  static std::mutex m;
  return m;
}

void check(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return;
  cudaGetLastError();  // clears the error unless it is sticky
  throw std::runtime_error(std::string("CUDA ") + what + ": " + cudaGetErrorName(e) + " (" +
                           cudaGetErrorString(e) + ")");
}

std::string mib(size_t bytes) {
  return std::to_string((bytes + (1u << 20) - 1) >> 20) + " MiB";
}

float* device_alloc(size_t bytes, const char* what) {
  void* p = nullptr;
  const cudaError_t e = cudaMalloc(&p, std::max<size_t>(bytes, 1));
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    throw std::runtime_error("CUDA out of device memory allocating " + mib(bytes) + " for " + what +
                             " (lower the chunk with cudaSetChunk, or release resident arrays)");
  }
  check(e, "cudaMalloc");
  return static_cast<float*>(p);
}

void upload(void* device, const void* host, size_t bytes) {
  if (bytes > 0) check(cudaMemcpy(device, host, bytes, cudaMemcpyHostToDevice), "upload");
}
void download(void* host, const void* device, size_t bytes) {
  if (bytes > 0) check(cudaMemcpy(host, device, bytes, cudaMemcpyDeviceToHost), "download");
}

uintptr_t address(const void* p) { return reinterpret_cast<uintptr_t>(p); }
bool aligned16(const void* p) { return address(p) % 16 == 0; }

// Device buffers of the process.
// - Resident ranges: device copies of host arrays, keyed by the host address where they
//   start; ranges never overlap. A lookup finds the range that contains a host span, so a
//   tensor inside a resident arena is read from the arena's copy.
// - Scratch: one reusable buffer per purpose, grown on demand, so a sweep does not pay a
//   cudaMalloc per call.
class DeviceArena {
 public:
  enum Slot { kInputs = 0, kOutputs, kParams, kSlots };

  bool make_resident(const float* host, size_t n) {
    if (n == 0) return false;
    const size_t bytes = n * sizeof(float);
    if (float* inside = find_mutable(host, n)) {
      upload(inside, host, bytes);
      return false;
    }
    const uintptr_t lo = address(host), hi = lo + bytes;
    for (auto it = resident_.begin(); it != resident_.end();) {
      const uintptr_t b = address(it->first), e = b + it->second.n * sizeof(float);
      if (b < hi && lo < e) {
        cudaFree(it->second.device);
        it = resident_.erase(it);
      } else {
        ++it;
      }
    }
    float* device = device_alloc(bytes, "a resident array");
    try {
      upload(device, host, bytes);
    } catch (...) {
      cudaFree(device);
      throw;
    }
    resident_[host] = {device, n};
    return true;
  }

  bool release(const float* host) {
    auto it = resident_.find(host);
    if (it == resident_.end()) return false;
    cudaFree(it->second.device);
    resident_.erase(it);
    return true;
  }

  size_t release_all() {
    const size_t count = resident_.size();
    for (auto& [host, range] : resident_) cudaFree(range.device);
    resident_.clear();
    for (auto& s : scratch_) {
      if (s.ptr) cudaFree(s.ptr);
      s = {};
    }
    return count;
  }

  bool is_resident(const float* host) const { return resident_.count(host) != 0; }

  size_t resident_bytes() const {
    size_t total = 0;
    for (const auto& [host, range] : resident_) total += range.n * sizeof(float);
    return total;
  }

  // The device copy of host[0, n) when a resident range contains it, else nullptr.
  const float* find(const float* host, size_t n) const {
    return const_cast<DeviceArena*>(this)->find_mutable(host, n);
  }

  // A device buffer of at least `bytes` for this purpose; its contents do not survive a call
  // that grows it.
  void* scratch(Slot slot, size_t bytes) {
    Buffer& s = scratch_[slot];
    if (s.bytes < bytes) {
      if (s.ptr) cudaFree(s.ptr);
      s = {};
      const size_t rounded = (bytes + (1u << 20) - 1) & ~size_t((1u << 20) - 1);
      s.ptr = device_alloc(rounded, "scratch buffers");
      s.bytes = rounded;
    }
    return s.ptr;
  }

 private:
  struct Range {
    float* device;
    size_t n;
  };
  struct Buffer {
    void* ptr = nullptr;
    size_t bytes = 0;
  };

  float* find_mutable(const float* host, size_t n) {
    if (n == 0 || resident_.empty()) return nullptr;
    auto it = resident_.upper_bound(host);
    if (it == resident_.begin()) return nullptr;
    --it;
    const uintptr_t b = address(it->first), e = b + it->second.n * sizeof(float);
    const uintptr_t lo = address(host), hi = lo + n * sizeof(float);
    if (lo < b || hi > e || (lo - b) % sizeof(float) != 0) return nullptr;
    return it->second.device + (lo - b) / sizeof(float);
  }

  std::map<const float*, Range> resident_;
  Buffer scratch_[kSlots];
};

DeviceArena& device_arena() {
  static DeviceArena* a = new DeviceArena;  // never destroyed: the driver may be gone at exit
  return *a;
}

size_t g_chunk_elements = size_t(1) << 26;

// Device copies of one call's inputs: the resident copy where there is one, the others
// uploaded into the inputs scratch buffer (each part 256-byte aligned). Requests for the same
// host span share one copy (the baseline passes fa as both a and f_A).
class Inputs {
 public:
  Inputs(DeviceArena& arena, const std::vector<std::pair<const float*, size_t>>& requests)
      : device_(requests.size(), nullptr) {
    std::vector<size_t> offsets(requests.size(), SIZE_MAX);
    std::vector<size_t> owner(requests.size(), SIZE_MAX);  // earlier equal request
    size_t total = 0;
    for (size_t i = 0; i < requests.size(); ++i) {
      const auto& [host, n] = requests[i];
      if (const float* d = arena.find(host, n)) {
        device_[i] = d;
        continue;
      }
      for (size_t j = 0; j < i; ++j) {
        if (requests[j] == requests[i]) {
          owner[i] = j;
          break;
        }
      }
      if (owner[i] != SIZE_MAX) continue;
      offsets[i] = total;
      total += (n * sizeof(float) + 255) & ~size_t(255);
    }
    char* base = total > 0 ? static_cast<char*>(arena.scratch(DeviceArena::kInputs, total)) : nullptr;
    for (size_t i = 0; i < requests.size(); ++i) {
      if (offsets[i] == SIZE_MAX) continue;
      float* d = reinterpret_cast<float*>(base + offsets[i]);
      upload(d, requests[i].first, requests[i].second * sizeof(float));
      device_[i] = d;
    }
    for (size_t i = 0; i < requests.size(); ++i) {
      if (owner[i] != SIZE_MAX) device_[i] = device_[owner[i]];
    }
  }
  // Non-null for every request; a zero-length one gets an address that must not be read.
  const float* operator[](size_t i) const { return device_[i] ? device_[i] : &dummy_; }

 private:
  std::vector<const float*> device_;
  float dummy_ = 0;
};

// ---- cuBLAS, opened at run time ------------------------------------------------------------
// Only the C ABI of three documented entry points is used, so neither cuBLAS's headers nor
// its library are needed to build, and the addon loads where cuBLAS is absent (GEMM then runs
// on the CPU).

struct Cublas {
  using Create = int (*)(void** handle);
  using Sgemm = int (*)(void* handle, int transa, int transb, int m, int n, int k,
                        const float* alpha, const float* a, int lda, const float* b, int ldb,
                        const float* beta, float* c, int ldc);
  static constexpr int kOpN = 0, kOpT = 1, kSuccess = 0;

  bool tried = false;
  void* handle = nullptr;
  Sgemm sgemm = nullptr;
  std::string name, error;
};

Cublas& cublas_state() {
  static Cublas cb;
  if (cb.tried) return cb;
  cb.tried = true;
  std::vector<std::string> names;
  if (const char* path = std::getenv("LLFC_CUBLAS"); path && *path) names.emplace_back(path);
  names.insert(names.end(), {"libcublas.so.13", "libcublas.so.12", "libcublas.so"});
#ifdef LLFC_CUDA_LIBDIR
  names.emplace_back(std::string(LLFC_CUDA_LIBDIR) + "/libcublas.so");
#endif
  std::string tried;
  for (const auto& candidate : names) {
    void* lib = dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char* why = dlerror();
      tried += (tried.empty() ? "" : "; ") + std::string(why ? why : candidate.c_str());
      continue;
    }
    auto create = reinterpret_cast<Cublas::Create>(dlsym(lib, "cublasCreate_v2"));
    auto sgemm = reinterpret_cast<Cublas::Sgemm>(dlsym(lib, "cublasSgemm_v2"));
    if (!create || !sgemm) {
      tried += (tried.empty() ? "" : "; ") + candidate + ": cublasCreate_v2/cublasSgemm_v2 missing";
      dlclose(lib);
      continue;
    }
    void* handle = nullptr;
    const int status = create(&handle);
    if (status != Cublas::kSuccess) {
      cb.error = candidate + ": cublasCreate failed with status " + std::to_string(status);
      return cb;  // library kept open: a failed create may have left state behind
    }
    cb.handle = handle;  // never destroyed: the driver may be gone at exit
    cb.sgemm = sgemm;
    cb.name = candidate;
    return cb;
  }
  cb.error = "cuBLAS not found (" + tried + "); set LLFC_CUBLAS to libcublas.so's path";
  return cb;
}

// ---- probing --------------------------------------------------------------------------------

Status probe() {
  Status s;
  cudaRuntimeGetVersion(&s.runtime_version);
  cudaDriverGetVersion(&s.driver_version);
  if (s.driver_version == 0) {
    s.reason = "no CUDA driver (libcuda.so.1 not found)";
    return s;
  }
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();
    s.reason = std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
    return s;
  }
  if (count == 0) {
    s.reason = "no CUDA device";
    return s;
  }
  cudaGetDevice(&s.device);
  cudaDeviceProp p;
  e = cudaGetDeviceProperties(&p, s.device);
  if (e != cudaSuccess) {
    cudaGetLastError();
    s.reason = std::string("cudaGetDeviceProperties: ") + cudaGetErrorString(e);
    return s;
  }
  s.name = p.name;
  s.major = p.major;
  s.minor = p.minor;
  s.total_memory = p.totalGlobalMem;
  e = detail::probe_kernel_image();
  if (e != cudaSuccess) {
    cudaGetLastError();
    s.reason = "no kernel image for " + s.name + " (compute capability " + std::to_string(s.major) +
               "." + std::to_string(s.minor) + "; built for sm_90 and PTX 9.0): " + cudaGetErrorString(e);
    return s;
  }
  e = cudaFree(nullptr);  // creates the context: a busy or prohibited device fails here
  if (e != cudaSuccess) {
    cudaGetLastError();
    s.reason = "cannot create a CUDA context on " + s.name + ": " + cudaGetErrorString(e);
    return s;
  }
  s.available = true;
  return s;
}

void require_device() {
  if (!status().available) throw std::runtime_error("no usable CUDA device: " + status().reason);
}

}  // namespace

const Status& status() {
  static const Status s = probe();
  return s;
}

// ---- interpolation --------------------------------------------------------------------------

void interpolate(const float* a, const float* b, size_t n, const double* alphas,
                 size_t num_alphas, float* const* outs, const Segment* segments,
                 size_t num_segments, const float* base) {
  if (n == 0 || num_alphas == 0) return;
  require_device();
  if (num_alphas > UINT32_MAX) throw std::runtime_error("too many alphas for one call");
  // Merge the segments into runs of equal kind.
  std::vector<detail::Run> runs;
  if (segments != nullptr && num_segments == 0) return;  // as the CPU kernel: nothing to do
  bool any_copy = false, any_interpolated = segments == nullptr;
  for (size_t s = 0; segments && s < num_segments; ++s) {
    if (segments[s].length == 0) continue;
    const uint32_t flag = segments[s].interpolate ? 1 : 0;
    any_copy |= flag == 0;
    any_interpolated |= flag == 1;
    const uint64_t end = segments[s].offset + segments[s].length;
    if (!runs.empty() && runs.back().interpolate == flag) {
      runs.back().end = end;
    } else {
      runs.push_back({end, flag, 0});
    }
  }
  if (!any_interpolated) {  // nothing to compute: the base, as the CPU kernel copies it
    for (size_t k = 0; k < num_alphas; ++k) std::memcpy(outs[k], base, n * sizeof(float));
    return;
  }
  if (!any_copy) runs.clear();
  if (runs.size() > UINT32_MAX) throw std::runtime_error("too many mask segments for one call");

  std::lock_guard<std::mutex> guard(mutex());
  DeviceArena& arena = device_arena();
  std::vector<double> weights(2 * num_alphas);
  for (size_t k = 0; k < num_alphas; ++k) {
    weights[2 * k] = 1.0 - alphas[k];  // as the CPU kernel computes it
    weights[2 * k + 1] = alphas[k];
  }
  // Parameters: the weights, then the runs (16-byte aligned).
  const size_t weight_bytes = weights.size() * sizeof(double);
  const size_t runs_offset = (weight_bytes + 15) & ~size_t(15);
  char* params = static_cast<char*>(
      arena.scratch(DeviceArena::kParams, runs_offset + runs.size() * sizeof(detail::Run)));
  upload(params, weights.data(), weight_bytes);
  upload(params + runs_offset, runs.data(), runs.size() * sizeof(detail::Run));
  const auto* d_weights = reinterpret_cast<const double*>(params);
  const auto* d_runs = reinterpret_cast<const detail::Run*>(params + runs_offset);

  // A chunk's inputs (a, b, base) and outputs (one per α) fit the budget; a multiple of 1024.
  size_t chunk = g_chunk_elements / (num_alphas + 3) / 1024 * 1024;
  chunk = std::min(std::max<size_t>(chunk, 1024), (n + 3) / 4 * 4);
  float* d_out = static_cast<float*>(
      arena.scratch(DeviceArena::kOutputs, num_alphas * chunk * sizeof(float)));

  for (size_t start = 0; start < n; start += chunk) {
    const size_t len = std::min(chunk, n - start);
    std::vector<std::pair<const float*, size_t>> requests = {{a + start, len}, {b + start, len}};
    if (any_copy) requests.push_back({base + start, len});
    Inputs in(arena, requests);
    const float* d_base = any_copy ? in[2] : nullptr;
    const bool vec = aligned16(in[0]) && aligned16(in[1]) && (!d_base || aligned16(d_base));
    check(detail::launch_interpolate(in[0], in[1], d_base, len, start, d_runs,
                                     static_cast<uint32_t>(runs.size()), d_weights,
                                     static_cast<uint32_t>(num_alphas), d_out, chunk, vec),
          "interpolation kernel launch");
    for (size_t k = 0; k < num_alphas; ++k) {
      download(outs[k] + start, d_out + k * chunk, len * sizeof(float));
    }
  }
}

// ---- feature statistics ---------------------------------------------------------------------

void cosine_accumulate(const float* const* as, const double* alphas, size_t num_alphas,
                       const float* fa, const float* fb, size_t n, size_t d, double* acc) {
  if (n == 0 || num_alphas == 0) return;
  require_device();
  if (num_alphas > UINT32_MAX) throw std::runtime_error("too many alphas for one call");
  std::lock_guard<std::mutex> guard(mutex());
  DeviceArena& arena = device_arena();
  const size_t slots = num_alphas * kCosineSlots;

  // Parameters: the weights, then the K device pointers of this chunk's a_k.
  const size_t weight_bytes = 2 * num_alphas * sizeof(double);
  char* params = static_cast<char*>(
      arena.scratch(DeviceArena::kParams, weight_bytes + num_alphas * sizeof(float*)));
  std::vector<double> weights(2 * num_alphas);
  for (size_t k = 0; k < num_alphas; ++k) {
    weights[2 * k] = 1.0 - alphas[k];
    weights[2 * k + 1] = alphas[k];
  }
  upload(params, weights.data(), weight_bytes);
  const auto* d_weights = reinterpret_cast<const double*>(params);
  auto* d_as = reinterpret_cast<const float**>(params + weight_bytes);

  // Rows per chunk: K + 2 feature blocks plus 3·K doubles of results per row fit the budget.
  const size_t per_row = std::max<size_t>(1, (num_alphas + 2) * d + 6 * num_alphas);
  const size_t rows_per_chunk = std::min(n, std::max<size_t>(1, g_chunk_elements / per_row));
  double* d_dots = static_cast<double*>(
      arena.scratch(DeviceArena::kOutputs, rows_per_chunk * num_alphas * 3 * sizeof(double)));
  std::vector<double> dots(rows_per_chunk * num_alphas * 3);
  std::vector<const float*> pointers(num_alphas);
  std::vector<double> partial(slots, 0.0);

  for (size_t r0 = 0; r0 < n; r0 += rows_per_chunk) {
    const size_t rows = std::min(rows_per_chunk, n - r0);
    const size_t offset = r0 * d, len = rows * d;
    std::vector<std::pair<const float*, size_t>> requests = {{fa + offset, len}, {fb + offset, len}};
    for (size_t k = 0; k < num_alphas; ++k) requests.push_back({as[k] + offset, len});
    Inputs in(arena, requests);
    for (size_t k = 0; k < num_alphas; ++k) pointers[k] = in[2 + k];
    upload(d_as, pointers.data(), num_alphas * sizeof(float*));
    check(detail::launch_cosine_dots(d_as, d_weights, static_cast<uint32_t>(num_alphas), in[0],
                                     in[1], rows, d, d_dots),
          "cosine kernel launch");
    download(dots.data(), d_dots, rows * num_alphas * 3 * sizeof(double));
    // The per-sample part of the CPU kernel, in sample order.
    for (size_t i = 0; i < rows; ++i) {
      for (size_t k = 0; k < num_alphas; ++k) {
        const double* s = dots.data() + (k * rows + i) * 3;
        add_cosine_sample(s[0], s[1], s[2], partial.data() + k * kCosineSlots);
      }
    }
  }
  for (size_t s = 0; s < slots; ++s) acc[s] += partial[s];
}

void sum_squares(const float* x, const float* y, size_t len, double* out) {
  if (len == 0) return;
  require_device();
  std::lock_guard<std::mutex> guard(mutex());
  DeviceArena& arena = device_arena();
  constexpr size_t kMaxBlocks = 1024, kPerBlock = 2048;
  const size_t chunk = std::max<size_t>(1024, g_chunk_elements / 2 / 1024 * 1024);
  double* d_partials =
      static_cast<double*>(arena.scratch(DeviceArena::kOutputs, kMaxBlocks * 3 * sizeof(double)));
  std::vector<double> partials(kMaxBlocks * 3);
  double diff = 0, xx = 0, yy = 0;
  for (size_t start = 0; start < len; start += chunk) {
    const size_t n = std::min(chunk, len - start);
    Inputs in(arena, {{x + start, n}, {y + start, n}});
    const size_t blocks = std::min(kMaxBlocks, (n + kPerBlock - 1) / kPerBlock);
    check(detail::launch_sum_squares(in[0], in[1], n, d_partials, static_cast<uint32_t>(blocks)),
          "sum-of-squares kernel launch");
    download(partials.data(), d_partials, blocks * 3 * sizeof(double));
    for (size_t j = 0; j < blocks; ++j) {
      diff += partials[3 * j];
      xx += partials[3 * j + 1];
      yy += partials[3 * j + 2];
    }
  }
  out[0] += diff;
  out[1] += xx;
  out[2] += yy;
}

// ---- GEMM -----------------------------------------------------------------------------------

bool gemm_abt(const float* a, const float* b, float* c, size_t n, size_t m, size_t k) {
  require_device();
  std::lock_guard<std::mutex> guard(mutex());
  Cublas& cb = cublas_state();
  if (!cb.sgemm) return false;
  if (n == 0 || m == 0) return true;
  if (k == 0) {
    std::fill(c, c + n * m, 0.0f);
    return true;
  }
  if (n > INT_MAX || m > INT_MAX || k > INT_MAX) throw std::runtime_error("GEMM dimensions exceed cuBLAS's int range");
  DeviceArena& arena = device_arena();
  Inputs in(arena, {{a, n * k}, {b, m * k}});
  float* d_c = static_cast<float*>(arena.scratch(DeviceArena::kOutputs, n * m * sizeof(float)));
  // Row-major C (n × m) is column-major Cᵀ (m × n) = B · Aᵀ: with B's and A's row-major
  // buffers read as column-major k × m and k × n matrices, that is op_T(B) · op_N(A).
  const float one = 1.0f, zero = 0.0f;
  const int status = cb.sgemm(cb.handle, Cublas::kOpT, Cublas::kOpN, static_cast<int>(m),
                              static_cast<int>(n), static_cast<int>(k), &one, in[1],
                              static_cast<int>(k), in[0], static_cast<int>(k), &zero, d_c,
                              static_cast<int>(m));
  if (status != Cublas::kSuccess) {
    throw std::runtime_error("cuBLAS SGEMM failed with status " + std::to_string(status));
  }
  // cuBLAS runs on the default stream of the shared primary context; wait for it.
  check(cudaDeviceSynchronize(), "GEMM");
  download(c, d_c, n * m * sizeof(float));
  return true;
}

std::string cublas(std::string* error) {
  require_device();
  std::lock_guard<std::mutex> guard(mutex());
  const Cublas& cb = cublas_state();
  if (error) *error = cb.error;
  return cb.sgemm ? cb.name : std::string();
}

// ---- resident arrays ------------------------------------------------------------------------

bool make_resident(const float* host, size_t n) {
  require_device();
  std::lock_guard<std::mutex> guard(mutex());
  return device_arena().make_resident(host, n);
}

bool release(const float* host) {
  if (!status().available) return false;
  std::lock_guard<std::mutex> guard(mutex());
  return device_arena().release(host);
}

size_t release_all() {
  if (!status().available) return 0;
  std::lock_guard<std::mutex> guard(mutex());
  return device_arena().release_all();
}

bool is_resident(const float* host) {
  if (!status().available) return false;
  std::lock_guard<std::mutex> guard(mutex());
  return device_arena().is_resident(host);
}

size_t resident_bytes() {
  if (!status().available) return 0;
  std::lock_guard<std::mutex> guard(mutex());
  return device_arena().resident_bytes();
}

size_t set_chunk_elements(size_t elements) {
  std::lock_guard<std::mutex> guard(mutex());
  const size_t previous = g_chunk_elements;
  g_chunk_elements = std::max<size_t>(elements, 1024);
  return previous;
}

size_t chunk_elements() {
  std::lock_guard<std::mutex> guard(mutex());
  return g_chunk_elements;
}

}  // namespace llfc::cuda
