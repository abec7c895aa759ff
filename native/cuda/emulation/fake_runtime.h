// Counters and checks of the fake CUDA runtime (fake_runtime.cc), for the emulation test.
#pragma once
#include <cstddef>

namespace fake {

struct Counters {
  size_t h2d_bytes = 0;  // uploaded
  size_t d2h_bytes = 0;  // downloaded
  size_t mallocs = 0;
  size_t launches = 0;
};

Counters& counters();
bool on_device(const void* p, size_t bytes);
size_t live_allocations();

}  // namespace fake
