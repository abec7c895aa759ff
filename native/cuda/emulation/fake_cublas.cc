// A stand-in for libcublas.so (the two entry points device.cc opens), for the emulation test:
// a plain column-major SGEMM that honours the transposes and leading dimensions, and checks
// that A, B and C are device memory of the fake runtime (resolved from the test program).
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>

namespace {

using OnDevice = bool (*)(const void*, size_t);

void require_device(const void* p, size_t bytes, const char* what) {
  static auto on_device = reinterpret_cast<OnDevice>(dlsym(RTLD_DEFAULT, "fake_cuda_on_device"));
  if (!on_device) {
    std::fprintf(stderr, "fake cuBLAS: fake_cuda_on_device not found (link the test with -rdynamic)\n");
    std::abort();
  }
  if (!on_device(p, bytes)) {
    std::fprintf(stderr, "fake cuBLAS: %s (%zu bytes at %p) is not device memory\n", what, bytes, p);
    std::abort();
  }
}

}  // namespace

extern "C" int cublasCreate_v2(void** handle) {
  static int dummy;
  *handle = &dummy;
  return 0;
}

extern "C" int cublasSgemm_v2(void*, int transa, int transb, int m, int n, int k, const float* alpha,
                              const float* a, int lda, const float* b, int ldb, const float* beta,
                              float* c, int ldc) {
  // op(A) is m × k, op(B) is k × n, C is m × n; all column-major.
  const size_t a_cols = transa ? static_cast<size_t>(m) : static_cast<size_t>(k);
  const size_t b_cols = transb ? static_cast<size_t>(k) : static_cast<size_t>(n);
  require_device(a, ((a_cols - 1) * lda + (transa ? k : m)) * sizeof(float), "A");
  require_device(b, ((b_cols - 1) * ldb + (transb ? n : k)) * sizeof(float), "B");
  require_device(c, ((static_cast<size_t>(n) - 1) * ldc + m) * sizeof(float), "C");
  for (int j = 0; j < n; ++j) {
    for (int i = 0; i < m; ++i) {
      float sum = 0;
      for (int l = 0; l < k; ++l) {
        const float x = transa ? a[l + static_cast<size_t>(i) * lda] : a[i + static_cast<size_t>(l) * lda];
        const float y = transb ? b[j + static_cast<size_t>(l) * ldb] : b[l + static_cast<size_t>(j) * ldb];
        sum += x * y;
      }
      float& out = c[i + static_cast<size_t>(j) * ldc];
      out = *alpha * sum + (*beta == 0.0f ? 0.0f : *beta * out);
    }
  }
  return 0;
}
