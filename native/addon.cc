// The one binding file: turns JS values into kernel calls. Every export reads its arguments,
// then views and checks them, then calls its kernel (native/binding_args.h says why in that
// order), so no input from JavaScript can take the process down. binding_args.h,
// binding_lap.h and binding_ort.h are its helpers, included nowhere else; kernels see raw pointers and sizes
// only. Exports with more than a few arguments take one options object.
#include <napi.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "align.h"
#include "binding_args.h"
#include "binding_lap.h"
#include "binding_ort.h"
#include "copy.h"
#include "feature_stats.h"
#include "file_backed.h"
#include "gemm.h"
#include "interpolate.h"
#include "loss.h"
#include "procrustes.h"

// ---- CUDA variant: llfc_cuda.node is this file compiled with LLFC_WITH_CUDA ----------------
// The interpolation, statistics and GEMM kernels are called through native/cuda/dispatch.h: in
// llfc.node they are the CPU kernels; in llfc_cuda.node they run on the GPU when a device was
// found at load, else on the CPU. The cuda* functions near the end exist in llfc_cuda.node only.
#include "cuda/dispatch.h"
#ifdef LLFC_WITH_CUDA
#include <map>

#include "cuda/device.h"
#endif
// ---- end CUDA variant ------------------------------------------------------------------------

namespace {

using namespace llfc::binding;

// ---- interpolation ------------------------------------------------------------------------

// interpolate(a, b, alphas: Float64Array, outs: Float32Array[],
//             mask?: { offsets: Float64Array, lengths: Float64Array, interpolate: Uint8Array,
//                      base: Float32Array })
Napi::Value Interpolate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::vector<Napi::Value> outs_js = elements(env, info[3], "outs", "Float32Array");
  const bool masked = !absent(info[4]);
  Napi::Value offsets_js, lengths_js, flags_js, base_js;
  if (masked) {
    const Options mask(env, info[4], "mask");
    offsets_js = mask.get("offsets");
    lengths_js = mask.get("lengths");
    flags_js = mask.get("interpolate");
    base_js = mask.get("base");
  }

  const auto a = view<float>(env, info[0], "a");
  const auto b = view<float>(env, info[1], "b");
  const auto alphas = view<double>(env, info[2], "alphas");
  const auto outs = views<float>(env, outs_js, "outs");
  const size_t n = a.length;
  expect_length(env, b.length, n, "b");
  for (size_t k = 0; k < alphas.length; ++k) {
    const double alpha = alphas.data[k];
    if (!(alpha >= 0.0 && alpha <= 1.0)) {
      throw_range(env, "alphas[" + std::to_string(k) + "] = " + shown(alpha) + " is outside [0, 1]");
    }
  }
  if (outs.size() != alphas.length) {
    throw_range(env, "outs has " + std::to_string(outs.size()) + " buffers for " + std::to_string(alphas.length) +
                         " alphas");
  }
  std::vector<float*> out_ptrs;
  for (size_t k = 0; k < outs.size(); ++k) {
    expect_length(env, outs[k].length, n, "outs[" + std::to_string(k) + "]");
    out_ptrs.push_back(outs[k].data);
  }

  std::vector<llfc::Segment> segments;
  const float* base = nullptr;
  if (masked) {
    const auto offsets = view<double>(env, offsets_js, "mask.offsets");
    const auto lengths = view<double>(env, lengths_js, "mask.lengths");
    const auto flags = view<uint8_t>(env, flags_js, "mask.interpolate");
    const auto base_view = view<float>(env, base_js, "mask.base");
    const size_t m = offsets.length;
    expect_length(env, lengths.length, m, "mask.lengths");
    expect_length(env, flags.length, m, "mask.interpolate");
    expect_length(env, base_view.length, n, "mask.base");
    size_t covered = 0;
    segments.reserve(m);
    for (size_t s = 0; s < m; ++s) {
      const double off = offsets.data[s], len = lengths.data[s];
      if (off != static_cast<double>(covered) || !(len >= 0 && len <= static_cast<double>(n - covered)) ||
          std::floor(len) != len) {
        throw_range(env, "mask segment " + std::to_string(s) +
                             " does not continue the previous one within the arena (segments must tile it in order)");
      }
      segments.push_back({covered, static_cast<size_t>(len), flags.data[s] != 0});
      covered += static_cast<size_t>(len);
    }
    if (covered != n) {
      throw_range(env, "mask segments cover " + std::to_string(covered) + " elements, the arenas have " +
                           std::to_string(n));
    }
    base = base_view.data;
  }

  guarded(env, [&] {
    llfc::dispatch::interpolate(a.data, b.data, n, alphas.data, alphas.length, out_ptrs.data(),
                                segments.empty() ? nullptr : segments.data(), segments.size(), base);
  });
  return env.Undefined();
}

// copy(dst, src): the multithreaded memcpy baseline for benchmarks.
Napi::Value Copy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto dst = view<float>(env, info[0], "dst");
  const auto src = view<float>(env, info[1], "src");
  expect_length(env, src.length, dst.length, "src");
  guarded(env, [&] { llfc::parallel_copy(dst.data, src.data, src.length); });
  return env.Undefined();
}

// ---- feature statistics -------------------------------------------------------------------

// The batch both statistics take: features fa, fb of `samples` rows, the α and the
// accumulator of kCosineSlots sums per α.
struct FeatureBatch {
  View<float> fa, fb;
  View<double> alphas, acc;
  size_t samples = 0, width = 0;
};

FeatureBatch feature_batch(Napi::Env env, const Options& o, const Napi::Value& fa, const Napi::Value& fb,
                           const Napi::Value& samples, const Napi::Value& alphas, const Napi::Value& acc) {
  FeatureBatch batch{view<float>(env, fa, o.name("fa")), view<float>(env, fb, o.name("fb")),
                     view<double>(env, alphas, o.name("alphas")), view<double>(env, acc, o.name("acc"))};
  batch.samples = integer(env, samples, o.name("samples"), 1, 9007199254740991.0);
  const size_t len = batch.fa.length;
  expect_length(env, batch.fb.length, len, o.name("fb"));
  // At least one float per sample: a sample count the features cannot hold would loop for nothing.
  if (len < batch.samples || len % batch.samples != 0) {
    throw_range(env, "features of " + std::to_string(len) + " floats do not split into " +
                         std::to_string(batch.samples) + " samples");
  }
  batch.width = len / batch.samples;
  for (size_t k = 0; k < batch.alphas.length; ++k) {
    if (!std::isfinite(batch.alphas.data[k])) throw_range(env, o.name("alphas") + " must be finite");
  }
  expect_length(env, batch.acc.length, product(env, {batch.alphas.length, llfc::kCosineSlots}, "acc"), o.name("acc"));
  return batch;
}

// cosineStats({ compared: Float32Array[], alphas, fa, fb, samples, acc: Float64Array(K·5) })
Napi::Value CosineStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Options o(env, info[0], "cosineStats options");
  const std::vector<Napi::Value> compared_js = elements(env, o.get("compared"), o.name("compared"), "Float32Array");
  const Napi::Value alphas = o.get("alphas"), fa = o.get("fa"), fb = o.get("fb"), samples = o.get("samples"),
                    acc = o.get("acc");

  const FeatureBatch batch = feature_batch(env, o, fa, fb, samples, alphas, acc);
  const auto compared = views<float>(env, compared_js, o.name("compared"));
  if (compared.size() != batch.alphas.length) {
    throw_range(env, o.name("compared") + " has " + std::to_string(compared.size()) + " arrays for " +
                         std::to_string(batch.alphas.length) + " alphas");
  }
  std::vector<const float*> as;
  for (size_t k = 0; k < compared.size(); ++k) {
    expect_length(env, compared[k].length, batch.fa.length, o.name("compared") + "[" + std::to_string(k) + "]");
    as.push_back(compared[k].data);
  }
  guarded(env, [&] {
    llfc::dispatch::cosine_accumulate(as.data(), batch.alphas.data, batch.alphas.length, batch.fa.data, batch.fb.data,
                                      batch.samples, batch.width, batch.acc.data);
  });
  return env.Undefined();
}

// weakAdditivityStats({ ha, hb, fa, fb, samples, alphas,
//                       activation: { id: activations[name], alpha, beta }, acc: Float64Array(K·5) })
Napi::Value WeakAdditivityStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Options o(env, info[0], "weakAdditivityStats options");
  const Napi::Value ha_js = o.get("ha"), hb_js = o.get("hb"), fa = o.get("fa"), fb = o.get("fb"),
                    samples = o.get("samples"), alphas = o.get("alphas"), acc = o.get("acc");
  const Options act(env, o.get("activation"), o.name("activation"));
  const Napi::Value id_js = act.get("id"), alpha_js = act.get("alpha"), beta_js = act.get("beta");

  const FeatureBatch batch = feature_batch(env, o, fa, fb, samples, alphas, acc);
  const auto ha = view<float>(env, ha_js, o.name("ha"));
  const auto hb = view<float>(env, hb_js, o.name("hb"));
  expect_length(env, ha.length, batch.fa.length, o.name("ha"));
  expect_length(env, hb.length, batch.fa.length, o.name("hb"));
  const size_t last = static_cast<size_t>(llfc::Activation::kCount) - 1;
  const llfc::ActivationSpec spec{static_cast<llfc::Activation>(integer(env, id_js, act.name("id"), 0, last)),
                                  finite(env, alpha_js, act.name("alpha")), finite(env, beta_js, act.name("beta"))};
  guarded(env, [&] {
    llfc::weak_additivity_accumulate(ha.data, hb.data, batch.fa.data, batch.fb.data, batch.samples, batch.width,
                                     batch.alphas.data, batch.alphas.length, spec, batch.acc.data);
  });
  return env.Undefined();
}

// sumSquares(x, y, out: Float64Array(3)): out += [‖x − y‖², ‖x‖², ‖y‖²]
Napi::Value SumSquares(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto x = view<float>(env, info[0], "x");
  const auto y = view<float>(env, info[1], "y");
  const auto out = view<double>(env, info[2], "out");
  expect_length(env, y.length, x.length, "y");
  expect_length(env, out.length, 3, "out");
  guarded(env, [&] { llfc::dispatch::sum_squares(x.data, y.data, x.length, out.data); });
  return env.Undefined();
}

// outputCommutativitySums({ za, zb, bias?, d, outer, channels, inner, out: Float64Array(3) }):
// with X = za + zb − bias (bias: one value per channel of the outer × channels × inner layout),
// out += [‖X − d‖², ‖X‖², ‖d‖²] in float64 (commutativity from a linear layer's outputs).
Napi::Value OutputCommutativitySums(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Options o(env, info[0], "outputCommutativitySums options");
  const Napi::Value za_js = o.get("za"), zb_js = o.get("zb"), bias_js = o.get("bias"), d_js = o.get("d"),
                    outer_js = o.get("outer"), channels_js = o.get("channels"), inner_js = o.get("inner"),
                    out_js = o.get("out");
  const auto za = view<float>(env, za_js, o.name("za"));
  const auto zb = view<float>(env, zb_js, o.name("zb"));
  const auto d = view<float>(env, d_js, o.name("d"));
  const auto out = view<double>(env, out_js, o.name("out"));
  const bool has_bias = !bias_js.IsUndefined() && !bias_js.IsNull();
  const auto bias = has_bias ? view<float>(env, bias_js, o.name("bias")) : View<float>{};
  const size_t outer = integer(env, outer_js, o.name("outer")), channels = integer(env, channels_js, o.name("channels")),
               inner = integer(env, inner_js, o.name("inner"));
  const size_t len = product(env, {outer, channels, inner}, "outer·channels·inner");
  expect_length(env, za.length, len, o.name("za"));
  expect_length(env, zb.length, len, o.name("zb"));
  expect_length(env, d.length, len, o.name("d"));
  if (has_bias) expect_length(env, bias.length, channels, o.name("bias"));
  expect_length(env, out.length, 3, o.name("out"));
  guarded(env, [&] {
    llfc::output_commutativity_sums(za.data, zb.data, has_bias ? bias.data : nullptr, d.data, outer, channels, inner,
                                    out.data);
  });
  return env.Undefined();
}

// channelMoments({ x, outer, channels, inner, sums: Float64Array(2·channels) }): per channel of
// an outer × channels × inner feature map, sums += [Σx…, Σx²…] in float64 (REPAIR's statistics).
Napi::Value ChannelMoments(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Options o(env, info[0], "channelMoments options");
  const Napi::Value x_js = o.get("x"), outer_js = o.get("outer"), channels_js = o.get("channels"),
                    inner_js = o.get("inner"), sums_js = o.get("sums");
  const auto x = view<float>(env, x_js, o.name("x"));
  const auto sums = view<double>(env, sums_js, o.name("sums"));
  const size_t outer = integer(env, outer_js, o.name("outer")), channels = integer(env, channels_js, o.name("channels")),
               inner = integer(env, inner_js, o.name("inner"));
  expect_length(env, x.length, product(env, {outer, channels, inner}, "outer·channels·inner"), o.name("x"));
  expect_length(env, sums.length, product(env, {channels, 2}, "2·channels"), o.name("sums"));
  guarded(env, [&] { llfc::channel_moments(x.data, outer, channels, inner, sums.data); });
  return env.Undefined();
}

// crossEntropySums({ logits: Float32Array(n·classes), labels: Int32Array(n), classes,
//                    ignoreIndex?: integer, out: Float64Array(3) }): out += [Σ cross-entropy,
// top-1 hits, labelled rows] over the rows whose label is not ignoreIndex.
Napi::Value CrossEntropySums(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Options o(env, info[0], "crossEntropySums options");
  const Napi::Value logits_js = o.get("logits"), labels_js = o.get("labels"), classes_js = o.get("classes"),
                    ignore_js = o.get("ignoreIndex"), out_js = o.get("out");
  const auto logits = view<float>(env, logits_js, o.name("logits"));
  const auto labels = view<int32_t>(env, labels_js, o.name("labels"));
  const auto out = view<double>(env, out_js, o.name("out"));
  const size_t classes = integer(env, classes_js, o.name("classes"), 1);
  const bool has_ignore = !absent(ignore_js);
  const int32_t ignore = has_ignore ? int32(env, ignore_js, o.name("ignoreIndex")) : 0;
  expect_length(env, logits.length, product(env, {labels.length, classes}, "labels·classes"), o.name("logits"));
  expect_length(env, out.length, 3, o.name("out"));
  for (size_t s = 0; s < labels.length; ++s) {
    const int32_t label = labels.data[s];
    if ((!has_ignore || label != ignore) && (label < 0 || static_cast<size_t>(label) >= classes)) {
      throw_range(env, o.name("labels") + "[" + std::to_string(s) + "] = " + std::to_string(label) + " is outside [0, " +
                           std::to_string(classes) + ")");
    }
  }
  guarded(env, [&] { llfc::cross_entropy_sums(logits.data, labels.data, labels.length, classes, has_ignore, ignore, out.data); });
  return env.Undefined();
}

// ---- linear assignment --------------------------------------------------------------------
// lap(cost: Float32Array | Float64Array, rows, cols, maximize: boolean, warm?: Float64Array)
//   -> { rowInd, colInd, total, colDuals, warmStarted, stats }
// lapAsync(same arguments) -> Promise of the same, solved on the libuv thread pool.
// Solver failures are Errors with `code` (LAP_NAN, LAP_BAD_INFINITY, LAP_INFEASIBLE,
// LAP_INVALID_ARGUMENT) and, where the failure has a position, `row` / `col`.

Napi::Value Lap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const LapInput in = lap_input(info);
  llfc::LapResult r;
  try {
    r = lap_solve(in);
  } catch (const std::exception& ex) {
    throw lap_error(env, lap_failure(ex));
  }
  return lap_result(env, r);
}

Napi::Value LapAsync(const Napi::CallbackInfo& info) {
  LapInput in = lap_input(info);
  guarded(info.Env(), [&] { in.own(); });
  auto* worker = new LapWorker(info.Env(), std::move(in));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// gemmAbt(a: Float32Array, b: Float32Array, n, m, k, out: Float32Array, threads?: number):
// BLAS's argument order, as the callers and benchmarks write it.
Napi::Value GemmAbt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto a = view<float>(env, info[0], "a");
  const auto b = view<float>(env, info[1], "b");
  const size_t n = integer(env, info[2], "n"), m = integer(env, info[3], "m"), k = integer(env, info[4], "k");
  const auto out = view<float>(env, info[5], "out");
  const int threads = llfc::binding::threads(env, info[6], "threads", 0);
  expect_length(env, a.length, product(env, {n, k}, "n·k"), "a (n·k)");
  expect_length(env, b.length, product(env, {m, k}, "m·k"), "b (m·k)");
  expect_length(env, out.length, product(env, {n, m}, "n·m"), "out (n·m)");
  const size_t out_bytes = out.length * sizeof(float);
  if (overlaps(out.data, out_bytes, a.data, a.length * sizeof(float)) ||
      overlaps(out.data, out_bytes, b.data, b.length * sizeof(float))) {
    throw_range(env, "out must not overlap a or b");
  }
  guarded(env, [&] { llfc::dispatch::gemm_abt(a.data, b.data, out.data, n, m, k, threads); });
  return env.Undefined();
}

// ---- alignment ----------------------------------------------------------------------------
// gatherAxes(src, dims: number[], maps: (Int32Array | null)[] | null, out)
// gatheredDot(a, b, dims, maps) -> number
// extractUnits({ src, dims, maps, axis, offset, count, inner, out })
// accumulateCross({ za, zb, outer, len, after, offset, count, inner, cross: Float64Array(count²),
//                   sums: Float64Array(4·count), threads?: number (default 1, 0 = all) }) -> samples added
// addToFloat64(dst: Float64Array, src: Float32Array): dst += src
// Shapes, map lengths and every map index are checked here; the kernels trust them.

constexpr uint32_t kMaxRank = 32;

// Step 1 of a tensor's axes: the dims and maps arrays' elements.
struct AxesJs {
  std::vector<Napi::Value> dims, maps;
  bool has_maps = false;
};

AxesJs read_axes(Napi::Env env, const Napi::Value& dims, const Napi::Value& maps, const std::string& prefix) {
  AxesJs js;
  js.dims = elements(env, dims, prefix + "dims", "numbers", kMaxRank);
  js.has_maps = !absent(maps);
  if (js.has_maps) js.maps = elements(env, maps, prefix + "maps", "Int32Array or null", kMaxRank);
  return js;
}

struct AxisMaps {
  std::vector<size_t> dims;
  std::vector<const int32_t*> maps;
  size_t total = 1;
};

// Steps 2 and 3 of a tensor's axes: every map a permutation-sized index array in range.
AxisMaps axis_maps(Napi::Env env, const AxesJs& js, const std::string& prefix) {
  AxisMaps out;
  for (size_t k = 0; k < js.dims.size(); ++k) {
    out.dims.push_back(integer(env, js.dims[k], prefix + "dims[" + std::to_string(k) + "]"));
    out.total = product(env, {out.total, out.dims.back()}, prefix + "dims");
  }
  const size_t rank = out.dims.size();
  out.maps.assign(rank, nullptr);
  if (!js.has_maps) return out;
  if (js.maps.size() != rank) {
    throw_range(env, prefix + "maps has " + std::to_string(js.maps.size()) + " entries for " + std::to_string(rank) +
                         " axes");
  }
  for (size_t k = 0; k < rank; ++k) {
    if (absent(js.maps[k])) continue;
    const std::string name = prefix + "maps[" + std::to_string(k) + "]";
    const auto m = view<int32_t>(env, js.maps[k], name);
    expect_length(env, m.length, out.dims[k], name);
    for (size_t i = 0; i < m.length; ++i) {
      if (m.data[i] < 0 || static_cast<size_t>(m.data[i]) >= out.dims[k]) {
        throw_range(env, name + "[" + std::to_string(i) + "] = " + std::to_string(m.data[i]) + " is outside [0, " +
                             std::to_string(out.dims[k]) + ")");
      }
    }
    out.maps[k] = m.data;
  }
  return out;
}

Napi::Value GatherAxes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const AxesJs js = read_axes(env, info[1], info[2], "");
  const auto src = view<float>(env, info[0], "src");
  const AxisMaps m = axis_maps(env, js, "");
  const auto out = view<float>(env, info[3], "out");
  expect_length(env, src.length, m.total, "src");
  expect_length(env, out.length, m.total, "out");
  if (overlaps(out.data, out.length * sizeof(float), src.data, src.length * sizeof(float))) {
    throw_range(env, "out must not overlap src");
  }
  guarded(env, [&] { llfc::gather_axes(src.data, out.data, m.dims.data(), m.dims.size(), m.maps.data()); });
  return env.Undefined();
}

Napi::Value GatheredDot(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const AxesJs js = read_axes(env, info[2], info[3], "");
  const auto a = view<float>(env, info[0], "a");
  const auto b = view<float>(env, info[1], "b");
  const AxisMaps m = axis_maps(env, js, "");
  expect_length(env, a.length, m.total, "a");
  expect_length(env, b.length, m.total, "b");
  const double dot =
      guarded(env, [&] { return llfc::gathered_dot(a.data, b.data, m.dims.data(), m.dims.size(), m.maps.data()); });
  return Napi::Number::New(env, dot);
}

// The channel block offset + c·inner + r (c < count, r < inner) must lie inside an axis of `len`.
void check_block(Napi::Env env, size_t offset, size_t count, size_t inner, size_t len) {
  const size_t span = product(env, {count, inner}, "count·inner");
  if (span > len || offset > len - span) {
    throw_range(env, "the channel block [" + std::to_string(offset) + ", " + std::to_string(offset) + " + " +
                         std::to_string(count) + "·" + std::to_string(inner) + ") exceeds the axis of length " +
                         std::to_string(len));
  }
}

Napi::Value ExtractUnits(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Options o(env, info[0], "extractUnits options");
  const Napi::Value src_js = o.get("src");
  const AxesJs js = read_axes(env, o.get("dims"), o.get("maps"), "extractUnits options.");
  const Napi::Value axis_js = o.get("axis"), offset_js = o.get("offset"), count_js = o.get("count"),
                    inner_js = o.get("inner"), out_js = o.get("out");

  const auto src = view<float>(env, src_js, o.name("src"));
  const AxisMaps m = axis_maps(env, js, "extractUnits options.");
  const auto out = view<float>(env, out_js, o.name("out"));
  const size_t axis = integer(env, axis_js, o.name("axis")), offset = integer(env, offset_js, o.name("offset")),
               count = integer(env, count_js, o.name("count")), inner = integer(env, inner_js, o.name("inner"));
  expect_length(env, src.length, m.total, o.name("src"));
  if (axis >= m.dims.size()) {
    throw_range(env, o.name("axis") + " " + std::to_string(axis) + " is outside a tensor of rank " +
                         std::to_string(m.dims.size()));
  }
  check_block(env, offset, count, inner, m.dims[axis]);
  const size_t per_position = m.dims[axis] == 0 ? 0 : m.total / m.dims[axis];
  expect_length(env, out.length, product(env, {count, inner, per_position}, "count·inner·(other axes)"), o.name("out"));
  if (overlaps(out.data, out.length * sizeof(float), src.data, src.length * sizeof(float))) {
    throw_range(env, o.name("out") + " must not overlap src");
  }
  guarded(env, [&] {
    llfc::extract_units(src.data, out.data, m.dims.data(), m.dims.size(), m.maps.data(), axis, offset, count, inner);
  });
  return env.Undefined();
}

Napi::Value AccumulateCross(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Options o(env, info[0], "accumulateCross options");
  const Napi::Value za_js = o.get("za"), zb_js = o.get("zb"), outer_js = o.get("outer"), len_js = o.get("len"),
                    after_js = o.get("after"), offset_js = o.get("offset"), count_js = o.get("count"),
                    inner_js = o.get("inner"), cross_js = o.get("cross"), sums_js = o.get("sums"),
                    threads_js = o.get("threads");

  const auto za = view<float>(env, za_js, o.name("za"));
  const auto zb = view<float>(env, zb_js, o.name("zb"));
  const auto cross = view<double>(env, cross_js, o.name("cross"));
  const auto sums = view<double>(env, sums_js, o.name("sums"));
  const size_t outer = integer(env, outer_js, o.name("outer")), len = integer(env, len_js, o.name("len")),
               after = integer(env, after_js, o.name("after")), offset = integer(env, offset_js, o.name("offset")),
               count = integer(env, count_js, o.name("count")), inner = integer(env, inner_js, o.name("inner"));
  const int threads = llfc::binding::threads(env, threads_js, o.name("threads"), 1);
  const size_t n = product(env, {outer, len, after}, "outer·len·after");
  if (za.length != n || zb.length != n) {
    throw_range(env, "za and zb must hold outer·len·after = " + std::to_string(n) + " floats, got " +
                         std::to_string(za.length) + " and " + std::to_string(zb.length));
  }
  check_block(env, offset, count, inner, len);
  expect_length(env, cross.length, product(env, {count, count}, "count²"), "cross");
  expect_length(env, sums.length, product(env, {count, 4}, "4·count"), "sums");
  if (overlaps(cross.data, cross.length * sizeof(double), sums.data, sums.length * sizeof(double))) {
    throw_range(env, "cross must not overlap sums");
  }
  const size_t samples = guarded(env, [&] {
    return llfc::accumulate_cross(za.data, zb.data, outer, len, after, offset, count, inner, cross.data, sums.data,
                                  threads);
  });
  return Napi::Number::New(env, static_cast<double>(samples));
}

Napi::Value AddToFloat64(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto dst = view<double>(env, info[0], "dst");
  const auto src = view<float>(env, info[1], "src");
  expect_length(env, src.length, dst.length, "src");
  guarded(env, [&] { llfc::add_to_double(dst.data, src.data, dst.length); });
  return env.Undefined();
}

// releaseFreeMemory() -> boolean: hands the C allocator's free pages back to the system
// (glibc's malloc_trim; false where there is none, or nothing was released). onnxruntime frees a
// session's buffers into malloc's arenas, which keep them resident: 46 MB after ResNet-50's
// shape probe, beside the arenas for the rest of an alignment (bench/memory.ts).
Napi::Value ReleaseFreeMemory(const Napi::CallbackInfo& info) {
#if defined(__GLIBC__)
  return Napi::Boolean::New(info.Env(), malloc_trim(0) != 0);
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
}

// fileBackedFloats(dir: string, count) -> { floats: Float32Array } | { unavailable: string }:
// `count` zeroed floats in a file-backed mapping of an unnamed file in `dir`
// (native/file_backed.h), unmapped when the array is collected.
Napi::Value FileBackedFloats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw_type(env, "dir must be a string");
  const std::string dir = info[0].As<Napi::String>();
  if (dir.empty() || dir.find('\0') != std::string::npos) throw_range(env, "dir must be a non-empty path without NUL bytes");
  // Up to 2^50 floats: beyond any memory, and the byte count stays exact in a JS number.
  const size_t count = integer(env, info[1], "count", 1, 1125899906842624.0);
  auto result = Napi::Object::New(env);
  std::string why;
  float* data = guarded(env, [&] { return llfc::map_file_backed(dir.c_str(), count, &why); });
  if (!data) {
    result.Set("unavailable", Napi::String::New(env, why));
    return result;
  }
  Napi::ArrayBuffer buffer;
  try {
    buffer = Napi::ArrayBuffer::New(env, data, count * sizeof(float), [](Napi::Env, void* mapped) {
      llfc::unmap_file_backed(static_cast<float*>(mapped));
    });
  } catch (...) {
    llfc::unmap_file_backed(data);
    throw;
  }
  result.Set("floats", Napi::Float32Array::New(env, count, buffer, 0));
  return result;
}

// releaseFilePages(x: Float32Array) -> bytes: hands back the process's pages of x where x lies
// in a file-backed mapping (its values stay in the file); 0, and nothing done, for other memory.
Napi::Value ReleaseFilePages(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto x = view<float>(env, info[0], "x");
  return Napi::Number::New(env, static_cast<double>(llfc::release_file_pages(x.data, x.length)));
}

// procrustes(c: Float64Array(d·d), d, fixOnes: boolean, out: Float64Array(d·d)) -> tr(O·cᵀ)
Napi::Value Procrustes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto c = view<double>(env, info[0], "c");
  const size_t d = integer(env, info[1], "d");
  const bool fix_ones = boolean(env, info[2], "fixOnes");
  const auto out = view<double>(env, info[3], "out");
  const size_t dd = product(env, {d, d}, "d·d");
  expect_length(env, c.length, dd, "c (d·d)");
  expect_length(env, out.length, dd, "out (d·d)");
  if (overlaps(out.data, out.length * sizeof(double), c.data, c.length * sizeof(double))) {
    throw_range(env, "out must not overlap c");
  }
  for (size_t k = 0; k < dd; ++k) {
    if (!std::isfinite(c.data[k])) throw_range(env, "c has a non-finite entry at " + std::to_string(k));
  }
  const double score = guarded(env, [&] { return llfc::procrustes(c.data, d, fix_ones, out.data); });
  return Napi::Number::New(env, score);
}

// ---- end alignment ------------------------------------------------------------------------

// ---- CUDA variant: device information and resident arrays (llfc_cuda.node only) ------------
#ifdef LLFC_WITH_CUDA
// cudaInfo() -> { available, reason, device, computeCapability, memoryBytes, driverVersion,
//   runtimeVersion, cublas, cublasError, residentBytes, chunkElements }
// cudaResident(x: Float32Array): keeps a device copy of x; later kernel calls read any input
//   that lies inside it from the device instead of uploading it. A snapshot: call again after
//   writing to x (or to a part of it). Throws without a usable device.
// cudaRelease(x?: Float32Array) -> how many resident copies were freed (all when x is absent).
// cudaSetChunk(elements) -> the previous device-memory budget of one chunk, in floats.
// A resident array stays referenced (so its memory cannot be reused by another array while a
// device copy is keyed by its address) until released or until this environment exits.

struct CudaResidentRefs {
  std::map<const float*, Napi::Reference<Napi::Float32Array>> refs;
  ~CudaResidentRefs() {
    for (auto& [host, ref] : refs) {
      llfc::cuda::release(host);
      ref.SuppressDestruct();  // the environment is being torn down
    }
  }
};

CudaResidentRefs& cuda_refs(Napi::Env env) { return *env.GetInstanceData<CudaResidentRefs>(); }

Napi::Value CudaInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const llfc::cuda::Status& s = llfc::cuda::status();
  Napi::Object o = Napi::Object::New(env);
  o.Set("available", Napi::Boolean::New(env, s.available));
  o.Set("reason", Napi::String::New(env, s.reason));
  o.Set("driverVersion", Napi::Number::New(env, s.driver_version));
  o.Set("runtimeVersion", Napi::Number::New(env, s.runtime_version));
  o.Set("chunkElements", Napi::Number::New(env, static_cast<double>(llfc::cuda::chunk_elements())));
  if (s.device >= 0 && !s.name.empty()) {
    o.Set("device", Napi::String::New(env, s.name));
    o.Set("computeCapability", Napi::String::New(env, std::to_string(s.major) + "." + std::to_string(s.minor)));
    o.Set("memoryBytes", Napi::Number::New(env, static_cast<double>(s.total_memory)));
  }
  if (s.available) {
    std::string error;
    const std::string lib = guarded(env, [&] { return llfc::cuda::cublas(&error); });
    o.Set("cublas", lib.empty() ? env.Null() : Napi::String::New(env, lib));
    if (lib.empty()) o.Set("cublasError", Napi::String::New(env, error));
    o.Set("residentBytes", Napi::Number::New(env, static_cast<double>(llfc::cuda::resident_bytes())));
  }
  return o;
}

Napi::Value CudaResident(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto x = view<float>(env, info[0], "x");
  if (!llfc::cuda::status().available) {
    throw Napi::Error::New(env, "llfc native: no usable CUDA device: " + llfc::cuda::status().reason);
  }
  const bool created = guarded(env, [&] { return llfc::cuda::make_resident(x.data, x.length); });
  auto& refs = cuda_refs(env).refs;
  for (auto it = refs.begin(); it != refs.end();) {  // copies replaced by this one
    it = llfc::cuda::is_resident(it->first) ? std::next(it) : refs.erase(it);
  }
  if (created) refs[x.data] = Napi::Persistent(info[0].As<Napi::Float32Array>());
  return env.Undefined();
}

Napi::Value CudaRelease(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto& refs = cuda_refs(env).refs;
  if (absent(info[0])) {
    const size_t count = guarded(env, [] { return llfc::cuda::release_all(); });
    refs.clear();
    return Napi::Number::New(env, static_cast<double>(count));
  }
  const auto x = view<float>(env, info[0], "x");
  const bool freed = guarded(env, [&] { return llfc::cuda::release(x.data); });
  refs.erase(x.data);
  return Napi::Number::New(env, freed ? 1 : 0);
}

Napi::Value CudaSetChunk(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const size_t elements = integer(env, info[0], "elements", 1024, 9007199254740991.0);
  return Napi::Number::New(env, static_cast<double>(guarded(env, [&] { return llfc::cuda::set_chunk_elements(elements); })));
}
#endif
// ---- end CUDA variant ------------------------------------------------------------------------

// ---- module -------------------------------------------------------------------------------

// activations: { [ONNX op name]: id } for weakAdditivityStats (native/feature_stats.h kActivationNames).
Napi::Object activation_table(Napi::Env env) {
  Napi::Object table = Napi::Object::New(env);
  for (const auto& a : llfc::kActivationNames) table.Set(a.name, Napi::Number::New(env, static_cast<double>(a.kind)));
  table.Freeze();
  return table;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("backend", Napi::String::New(env, llfc::dispatch::backend()));
  // What the OpenMP runtime read when it loaded (just before this addon): the process
  // environment, not a worker's private copy of it.
  const char* wait_policy = std::getenv("OMP_WAIT_POLICY");
  exports.Set("openmpWaitPolicy", wait_policy ? Napi::Value(Napi::String::New(env, wait_policy)) : env.Null());
  exports.Set("activations", activation_table(env));
  exports.Set("interpolate", Napi::Function::New(env, Interpolate, "interpolate"));
  exports.Set("copy", Napi::Function::New(env, Copy, "copy"));
  exports.Set("cosineStats", Napi::Function::New(env, CosineStats, "cosineStats"));
  exports.Set("sumSquares", Napi::Function::New(env, SumSquares, "sumSquares"));
  exports.Set("outputCommutativitySums", Napi::Function::New(env, OutputCommutativitySums, "outputCommutativitySums"));
  exports.Set("channelMoments", Napi::Function::New(env, ChannelMoments, "channelMoments"));
  exports.Set("crossEntropySums", Napi::Function::New(env, CrossEntropySums, "crossEntropySums"));
  exports.Set("weakAdditivityStats", Napi::Function::New(env, WeakAdditivityStats, "weakAdditivityStats"));
  // linear assignment
  exports.Set("lap", Napi::Function::New(env, Lap, "lap"));
  exports.Set("lapAsync", Napi::Function::New(env, LapAsync, "lapAsync"));
  exports.Set("gemmAbt", Napi::Function::New(env, GemmAbt, "gemmAbt"));
  // CUDA variant only
#ifdef LLFC_WITH_CUDA
  env.SetInstanceData(new CudaResidentRefs);
  exports.Set("cudaInfo", Napi::Function::New(env, CudaInfo, "cudaInfo"));
  exports.Set("cudaResident", Napi::Function::New(env, CudaResident, "cudaResident"));
  exports.Set("cudaRelease", Napi::Function::New(env, CudaRelease, "cudaRelease"));
  exports.Set("cudaSetChunk", Napi::Function::New(env, CudaSetChunk, "cudaSetChunk"));
#endif
  // alignment
  exports.Set("gatherAxes", Napi::Function::New(env, GatherAxes, "gatherAxes"));
  exports.Set("gatheredDot", Napi::Function::New(env, GatheredDot, "gatheredDot"));
  exports.Set("extractUnits", Napi::Function::New(env, ExtractUnits, "extractUnits"));
  exports.Set("accumulateCross", Napi::Function::New(env, AccumulateCross, "accumulateCross"));
  exports.Set("addToFloat64", Napi::Function::New(env, AddToFloat64, "addToFloat64"));
  exports.Set("releaseFreeMemory", Napi::Function::New(env, ReleaseFreeMemory, "releaseFreeMemory"));
  exports.Set("fileBackedFloats", Napi::Function::New(env, FileBackedFloats, "fileBackedFloats"));
  exports.Set("releaseFilePages", Napi::Function::New(env, ReleaseFilePages, "releaseFilePages"));
  exports.Set("procrustes", Napi::Function::New(env, Procrustes, "procrustes"));
  // onnxruntime runs (binding_ort.h)
  exports.Set("ortRuntime", Napi::Function::New(env, OrtRuntime, "ortRuntime"));
  exports.Set("ortCreateSession", Napi::Function::New(env, OrtCreateSession, "ortCreateSession"));
  exports.Set("ortRun", Napi::Function::New(env, OrtRun, "ortRun"));
  exports.Set("ortRelease", Napi::Function::New(env, OrtRelease, "ortRelease"));
  return exports;
}

}  // namespace

NODE_API_MODULE(llfc, Init)
