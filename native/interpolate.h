// θ(α) = (1−α)·θ_A + α·θ_B over flat parameter arenas.
#pragma once
#include <cstddef>
#include <cstdint>

namespace llfc {

// A run of the arena that is either interpolated or taken from a base arena.
struct Segment {
  size_t offset;
  size_t length;
  bool interpolate;
};

// For every k: outs[k][i] = (float)((1 − alphas[k])·a[i] + alphas[k]·b[i]), computed in
// double without fused multiply-add, so the result is bit-identical to the same formula in
// JavaScript and on any other backend. One pass over a and b for all α; multithreaded.
// When segments is non-null, elements of a segment with interpolate == false are copied
// from base instead; segments must be sorted, non-overlapping and cover [0, n).
void interpolate(const float* a, const float* b, size_t n, const double* alphas,
                 size_t num_alphas, float* const* outs, const Segment* segments = nullptr,
                 size_t num_segments = 0, const float* base = nullptr);

}  // namespace llfc
