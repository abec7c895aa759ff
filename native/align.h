// Kernels of permutation alignment on raw row-major float32 tensors: gathering a tensor along
// permuted axes, the dot product of a tensor with a permuted one, extracting the units of one
// axis as the rows of a matrix (for weight-matching cost matrices), and accumulating the
// cross-correlation of two feature maps' channels (activation matching), all in float64 where
// they reduce.
//
// Axis maps: maps[k] is nullptr (identity) or an array of dims[k] source indices, so that
// out[i_0, …, i_{r−1}] = src[maps_0[i_0], …, maps_{r−1}[i_{r−1}]]. Indices must be in range;
// the binding (addon.cc) checks them.
#pragma once
#include <cstddef>
#include <cstdint>

namespace llfc {

// out = src gathered along every mapped axis (same shape). out must not alias src.
void gather_axes(const float* src, float* out, const size_t* dims, size_t rank, const int32_t* const* maps);

// Σ a[i] · (b gathered by maps)[i], in float64.
double gathered_dot(const float* a, const float* b, const size_t* dims, size_t rank, const int32_t* const* maps);

// The units of axis `axis` at positions offset + c·inner + r (c < count, r < inner) as the rows
// of a count × (outer · inner · after) matrix, where outer is the product of the dims before
// the axis and after the product of those after it. Row c holds, in row-major order over
// (outer index, r, after index), the values src[o ↦ maps, offset + c·inner + r, t ↦ maps];
// maps[axis] is ignored. out has count · outer · inner · after floats.
void extract_units(const float* src, float* out, const size_t* dims, size_t rank, const int32_t* const* maps, size_t axis,
                   size_t offset, size_t count, size_t inner);

// Channels of two feature maps of the same shape outer × len × after: unit c of a channel block
// (positions offset + c·inner + r along the middle axis) is one variable, and every
// (outer index, r, after index) is one sample. Adds, in float64,
//   cross[i·count + j] += Σ_samples za_i · zb_j,
//   sums[i] += Σ za_i, sums[count + i] += Σ zb_i, sums[2·count + i] += Σ za_i², sums[3·count + i] += Σ zb_i²
// and returns the number of samples added (outer · inner · after). The products run on
// `threads` OpenMP threads (≤ 0: all); one is the default because the callers' batches are
// small and a busy machine makes spinning OpenMP teams far slower than one thread.
size_t accumulate_cross(const float* za, const float* zb, size_t outer, size_t len, size_t after, size_t offset, size_t count,
                        size_t inner, double* cross, double* sums, int threads = 1);

// dst[i] += src[i] (float32 into float64), i < n.
void add_to_double(double* dst, const float* src, size_t n);

}  // namespace llfc
