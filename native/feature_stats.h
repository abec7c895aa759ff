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

// One sample's step of cosine_accumulate, shared by every backend: from ⟨a, m⟩, ‖a‖² and
// ‖m‖², adds distance, distance², coefficient and 1 to an α's slots, or counts it skipped.
void add_cosine_sample(double am, double aa, double mm, double* slot);

// out[0] += ‖x − y‖², out[1] += ‖x‖², out[2] += ‖y‖² over len floats, in float64.
void sum_squares(const float* x, const float* y, size_t len, double* out);

// Commutativity's sums with X taken from the layer's outputs (SCIENCE.md §4): za and zb are A's
// and B's outputs of a linear layer, laid out outer × channels × inner; bias (channels floats,
// or null for none) is what the layer adds, summed over A and B, one value per channel; d is
// ΔW·ΔH. With X = za + zb − bias: out[0] += ‖X − d‖², out[1] += ‖X‖², out[2] += ‖d‖², in
// float64 (Y = X − d, so these are ‖Y‖², ‖X‖², ‖X − Y‖²).
void output_commutativity_sums(const float* za, const float* zb, const float* bias, const float* d, size_t outer,
                               size_t channels, size_t inner, double* out);

// Per-channel moments of a feature map laid out outer × channels × inner (N×C×H×W: outer = N,
// inner = H·W; N×T×D tokens: outer = N·T, inner = 1): every (outer, inner) index is one sample
// of each channel. Adds sums[c] += Σ x and sums[channels + c] += Σ x², in float64 (REPAIR's
// μ and σ, SCIENCE.md §6).
void channel_moments(const float* x, size_t outer, size_t channels, size_t inner, double* sums);

// Element-wise activations without parameters (ONNX semantics, attributes as alpha/beta).
enum class Activation {
  kRelu = 0, kLeakyRelu, kSigmoid, kTanh, kElu, kSelu, kCelu, kSoftplus, kSoftsign,
  kHardSigmoid, kHardSwish, kGelu, kGeluTanh, kMish, kThresholdedRelu, kCount
};

// The activations by name: the addon exports this table (lib/ looks kinds up by name, so no
// number is mirrored by hand). ONNX op types; GeluTanh is Gelu with approximate = "tanh".
struct NamedActivation {
  const char* name;
  Activation kind;
};
inline constexpr NamedActivation kActivationNames[] = {
    {"Relu", Activation::kRelu},         {"LeakyRelu", Activation::kLeakyRelu},
    {"Sigmoid", Activation::kSigmoid},   {"Tanh", Activation::kTanh},
    {"Elu", Activation::kElu},           {"Selu", Activation::kSelu},
    {"Celu", Activation::kCelu},         {"Softplus", Activation::kSoftplus},
    {"Softsign", Activation::kSoftsign}, {"HardSigmoid", Activation::kHardSigmoid},
    {"HardSwish", Activation::kHardSwish}, {"Gelu", Activation::kGelu},
    {"GeluTanh", Activation::kGeluTanh}, {"Mish", Activation::kMish},
    {"ThresholdedRelu", Activation::kThresholdedRelu},
};
static_assert(sizeof(kActivationNames) / sizeof(kActivationNames[0]) == static_cast<size_t>(Activation::kCount),
              "every activation has a name");

struct ActivationSpec {
  Activation kind;
  double alpha;  // LeakyRelu/Elu/Celu/ThresholdedRelu alpha, HardSigmoid alpha, Selu alpha
  double beta;   // HardSigmoid beta, Selu gamma
};

double activate(const ActivationSpec& spec, double x);

// Weak additivity (SCIENCE.md §3) for n samples of d pre-activations ha, hb and activations
// fa = σ(ha), fb = σ(hb): per α, the cosine statistics (as cosine_accumulate) of
// a = σ((1−α)·ha + α·hb) against m = (1−α)·fa + α·fb; σ evaluated in float32 for
// Gelu (both forms), Tanh and Sigmoid (vectorized), in float64 for the others.
void weak_additivity_accumulate(const float* ha, const float* hb, const float* fa, const float* fb,
                                size_t n, size_t d, const double* alphas, size_t num_alphas,
                                const ActivationSpec& spec, double* acc);

}  // namespace llfc
