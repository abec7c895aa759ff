// A multithreaded memcpy: the baseline the interpolation benchmark is measured against.
#pragma once
#include <cstddef>

namespace llfc {

void parallel_copy(float* dst, const float* src, size_t n);

}  // namespace llfc
