#include "copy.h"

#include <omp.h>

#include <algorithm>
#include <cstring>

namespace llfc {

void parallel_copy(float* dst, const float* src, size_t n) {
  const int threads = n < (1u << 16) ? 1 : omp_get_max_threads();
  #pragma omp parallel num_threads(threads)
  {
    const size_t nt = static_cast<size_t>(omp_get_num_threads());
    const size_t share = (n + nt - 1) / nt;
    const size_t begin = std::min(n, static_cast<size_t>(omp_get_thread_num()) * share);
    const size_t end = std::min(n, begin + share);
    if (begin < end) std::memcpy(dst + begin, src + begin, (end - begin) * sizeof(float));
  }
}

}  // namespace llfc
