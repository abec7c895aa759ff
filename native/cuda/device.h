// The GPU side of the kernels, built into llfc_cuda.node only (CMake option LLFC_CUDA).
//
// Same contracts as the CPU kernels in native/*.h, run on the current CUDA device (the first
// visible one unless CUDA_VISIBLE_DEVICES says otherwise):
// - interpolate: bit-identical to llfc::interpolate (double arithmetic, no FMA, one rounding);
// - cosine_accumulate, sum_squares: float64 accumulation as on the CPU; only the summation
//   order differs (agreement to ~1e-15 relative on the sums);
// - gemm_abt: cuBLAS SGEMM (float32, no TF32), loaded with dlopen at the first call.
//
// Data stays where it is unless made resident: every call uploads its inputs, runs, and
// downloads its outputs, in chunks of bounded device memory (set_chunk_elements). A host array
// made resident with make_resident() is kept on the device (the DeviceArena of device.cc), and
// any later call whose input lies inside a resident range reads the device copy instead of
// uploading: a sweep over α, or a weight-matching loop, uploads its arenas once. The device
// copy is a snapshot: after writing to the host array, call make_resident() on it (or on the
// changed part) again.
//
// All functions are thread-safe (one lock). Kernel functions throw std::runtime_error on a
// CUDA failure (out of device memory included) and must be called only when status().available.
#pragma once
#include <cstddef>
#include <string>

#include "interpolate.h"

namespace llfc::cuda {

struct Status {
  bool available = false;  // a device was found and this binary's kernels run on it
  std::string reason;      // why not, when !available
  int device = -1;
  std::string name;
  int major = 0, minor = 0;  // compute capability
  size_t total_memory = 0;   // bytes
  int driver_version = 0;    // e.g. 13000 for CUDA 13.0; 0: no driver (libcuda.so.1 not found)
  int runtime_version = 0;
};

// Probed once, at the first call (which creates the CUDA context when a device is found).
// Never throws; without a driver or a device it reports why.
const Status& status();

void interpolate(const float* a, const float* b, size_t n, const double* alphas,
                 size_t num_alphas, float* const* outs, const Segment* segments,
                 size_t num_segments, const float* base);

void cosine_accumulate(const float* const* as, const double* alphas, size_t num_alphas,
                       const float* fa, const float* fb, size_t n, size_t d, double* acc);

void sum_squares(const float* x, const float* y, size_t len, double* out);

// c (n × m) = a (n × k) · bᵀ, row-major, as llfc::gemm_abt. Returns false, computing nothing,
// when cuBLAS could not be loaded (see cublas()); the caller then runs the CPU GEMM.
bool gemm_abt(const float* a, const float* b, float* c, size_t n, size_t m, size_t k);

// cuBLAS as loaded (or not) by the first GEMM, loading it now if needed: the library's file
// name, or "" with the reason in *error. Searched: $LLFC_CUBLAS (a path), libcublas.so.13,
// libcublas.so.12, libcublas.so, then the toolkit's library directory seen at build time.
std::string cublas(std::string* error);

// Copies host[0, n) to the device and keeps it there. Inside a resident range, refreshes that
// part of the device copy and returns false; otherwise replaces every resident range it
// overlaps with a new one starting at host and returns true.
bool make_resident(const float* host, size_t n);
// Frees the resident range that starts at host; false if there is none.
bool release(const float* host);
// Frees every resident range and the reusable scratch buffers; returns how many ranges.
size_t release_all();
// Whether a resident range starts at host (for the binding's bookkeeping).
bool is_resident(const float* host);
size_t resident_bytes();

// The device-memory budget of one chunk, in floats (default 2^26, 256 MiB); returns the old value.
size_t set_chunk_elements(size_t elements);
size_t chunk_elements();

}  // namespace llfc::cuda
