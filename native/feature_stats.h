// Streaming statistics of features for the per-layer checks, accumulated in float64.
#pragma once
#include <cstddef>

namespace llfc {

// Accumulator slots per α for cosine statistics.
enum CosineSlot { kSumDistance = 0, kSumDistanceSq, kSumCoefficient, kCount, kSkipped, kCosineSlots };

// For each of n samples (rows of d floats) and each k < num_alphas, with
// m = (1 − alphas[k])·fa + alphas[k]·fb and a = as[k]:
//   distance = 1 − |⟨a, m⟩| / (‖a‖‖m‖), coefficient = ⟨a, m⟩ / ‖m‖²,
// adds distance, distance², coefficient and 1 to acc[k·kCosineSlots + …]; a sample where
// ‖a‖ or ‖m‖ is 0 is counted in kSkipped instead. Dot products and norms in float64.
// With as[k] == fa and alphas[k] == 1 this measures d(fa, fb), the A-vs-B baseline.
void cosine_accumulate(const float* const* as, const double* alphas, size_t num_alphas,
                       const float* fa, const float* fb, size_t n, size_t d, double* acc);

// out[0] += ‖x − y‖², out[1] += ‖x‖², out[2] += ‖y‖² over len floats, in float64.
void sum_squares(const float* x, const float* y, size_t len, double* out);

}  // namespace llfc
