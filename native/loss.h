// Cross-entropy and top-1 hits of logit rows against integer labels (SCIENCE.md §1, §7), in
// float64 sums: the LMC loss of every batch at every α.
#pragma once
#include <cstddef>
#include <cstdint>

namespace llfc {

// Over rows s < n of `classes` logits with label labels[s]: skips labels equal to ignore_index
// (when has_ignore), else adds to out[0] the cross-entropy log Σ exp(x) − x[label] (stabilised
// by the row's max), to out[1] 1 when the row's first largest logit is at the label (argmax's
// tie rule), to out[2] 1. Every label not ignored lies in [0, classes) (the caller checks).
void cross_entropy_sums(const float* logits, const int32_t* labels, size_t n, size_t classes,
                        bool has_ignore, int32_t ignore_index, double* out);

}  // namespace llfc
