// Orthogonal Procrustes: the orthogonal map that best carries one set of vectors onto another,
// for aligning a residual stream by an orthogonal map instead of a permutation.
#pragma once
#include <cstddef>

namespace llfc {

// o (d × d, row-major) = the orthogonal O maximizing tr(O·cᵀ), where c = Σ a·bᵀ (d × d,
// row-major, float64): O = U·Vᵀ for c = U·Σ·Vᵀ, so that O·b ≈ a. With fix_ones, O is restricted
// to maps that keep the all-ones direction (O·1 = 1): those commute with subtracting the mean
// over the d entries, as a LayerNorm does; the best such O is the Procrustes solution on the
// complement of 1, plus 1·1ᵀ/d. Returns tr(O·cᵀ).
double procrustes(const double* c, size_t d, bool fix_ones, double* o);

}  // namespace llfc
