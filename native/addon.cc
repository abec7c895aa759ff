// The one binding file: turns JS values into kernel calls. Every argument from JavaScript is
// validated here (type, length, range) and every C++ failure becomes a JS exception, so no
// input can take the process down. Kernels see raw pointers and sizes only.
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "align.h"
#include "copy.h"
#include "feature_stats.h"
#include "gemm.h"
#include "interpolate.h"
#include "lap.h"

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

// ---- argument helpers -------------------------------------------------------------------

[[noreturn]] void throw_type(Napi::Env env, const std::string& msg) {
  throw Napi::TypeError::New(env, msg);
}
[[noreturn]] void throw_range(Napi::Env env, const std::string& msg) {
  throw Napi::RangeError::New(env, msg);
}

template <typename T, napi_typedarray_type Kind>
Napi::TypedArrayOf<T> typed_array(const Napi::CallbackInfo& info, size_t index, const char* name,
                                  const char* type_name) {
  if (index >= info.Length() || !info[index].IsTypedArray() ||
      info[index].As<Napi::TypedArray>().TypedArrayType() != Kind) {
    throw_type(info.Env(), std::string(name) + " must be a " + type_name);
  }
  return info[index].As<Napi::TypedArrayOf<T>>();
}

Napi::Float32Array float32_arg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  return typed_array<float, napi_float32_array>(info, i, name, "Float32Array");
}
Napi::Float64Array float64_arg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  return typed_array<double, napi_float64_array>(info, i, name, "Float64Array");
}
Napi::Uint8Array uint8_arg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  return typed_array<uint8_t, napi_uint8_array>(info, i, name, "Uint8Array");
}

bool is_absent(const Napi::CallbackInfo& info, size_t i) {
  return i >= info.Length() || info[i].IsUndefined() || info[i].IsNull();
}

// Runs a kernel and turns any C++ exception into a JS error.
template <typename F>
auto guarded(Napi::Env env, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(env, "llfc native: out of memory");
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string("llfc native: ") + e.what());
  }
}

// ---- interpolation ------------------------------------------------------------------------

// interpolate(a, b, alphas: Float64Array, outs: Float32Array[],
//             mask?: { offsets: Float64Array, lengths: Float64Array, interpolate: Uint8Array,
//                      base: Float32Array })
Napi::Value Interpolate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto a = float32_arg(info, 0, "a");
  auto b = float32_arg(info, 1, "b");
  auto alphas = float64_arg(info, 2, "alphas");
  const size_t n = a.ElementLength();
  if (b.ElementLength() != n) {
    throw_range(env, "b has " + std::to_string(b.ElementLength()) + " elements, a has " +
                         std::to_string(n));
  }
  for (size_t k = 0; k < alphas.ElementLength(); ++k) {
    const double alpha = alphas[k];
    if (!std::isfinite(alpha) || alpha < 0.0 || alpha > 1.0) {
      throw_range(env, "alphas[" + std::to_string(k) + "] = " + std::to_string(alpha) +
                           " is outside [0, 1]");
    }
  }
  if (info.Length() < 4 || !info[3].IsArray()) throw_type(env, "outs must be an array of Float32Array");
  auto outs_js = info[3].As<Napi::Array>();
  if (outs_js.Length() != alphas.ElementLength()) {
    throw_range(env, "outs has " + std::to_string(outs_js.Length()) + " buffers for " +
                         std::to_string(alphas.ElementLength()) + " alphas");
  }
  std::vector<float*> outs(outs_js.Length());
  for (uint32_t k = 0; k < outs_js.Length(); ++k) {
    Napi::Value v = outs_js[k];
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      throw_type(env, "outs[" + std::to_string(k) + "] must be a Float32Array");
    }
    auto out = v.As<Napi::Float32Array>();
    if (out.ElementLength() != n) {
      throw_range(env, "outs[" + std::to_string(k) + "] has " + std::to_string(out.ElementLength()) +
                           " elements, the arenas have " + std::to_string(n));
    }
    outs[k] = out.Data();
  }

  std::vector<llfc::Segment> segments;
  const float* base = nullptr;
  if (!is_absent(info, 4)) {
    if (!info[4].IsObject()) throw_type(env, "mask must be an object");
    auto mask = info[4].As<Napi::Object>();
    auto field = [&](const char* key) -> Napi::Value { return mask.Get(key); };
    auto check = [&](Napi::Value v, napi_typedarray_type kind, const char* key, const char* tn) {
      if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != kind) {
        throw_type(env, std::string("mask.") + key + " must be a " + tn);
      }
    };
    Napi::Value offsets_v = field("offsets"), lengths_v = field("lengths"),
                flags_v = field("interpolate"), base_v = field("base");
    check(offsets_v, napi_float64_array, "offsets", "Float64Array");
    check(lengths_v, napi_float64_array, "lengths", "Float64Array");
    check(flags_v, napi_uint8_array, "interpolate", "Uint8Array");
    check(base_v, napi_float32_array, "base", "Float32Array");
    auto offsets = offsets_v.As<Napi::Float64Array>();
    auto lengths = lengths_v.As<Napi::Float64Array>();
    auto flags = flags_v.As<Napi::Uint8Array>();
    auto base_arr = base_v.As<Napi::Float32Array>();
    const size_t m = offsets.ElementLength();
    if (lengths.ElementLength() != m || flags.ElementLength() != m) {
      throw_range(env, "mask.offsets, mask.lengths and mask.interpolate must have equal lengths");
    }
    if (base_arr.ElementLength() != n) throw_range(env, "mask.base must have as many elements as a");
    size_t expected = 0;
    segments.reserve(m);
    for (size_t s = 0; s < m; ++s) {
      const double off = offsets[s], len = lengths[s];
      if (off != static_cast<double>(expected) || len < 0 || std::floor(len) != len) {
        throw_range(env, "mask segment " + std::to_string(s) +
                             " does not continue the previous one (segments must tile the arena in order)");
      }
      segments.push_back({expected, static_cast<size_t>(len), flags[s] != 0});
      expected += static_cast<size_t>(len);
    }
    if (expected != n) throw_range(env, "mask segments cover " + std::to_string(expected) +
                                            " elements, the arenas have " + std::to_string(n));
    base = base_arr.Data();
  }

  guarded(env, [&] {
    llfc::dispatch::interpolate(a.Data(), b.Data(), n, alphas.Data(), alphas.ElementLength(), outs.data(),
                      segments.empty() ? nullptr : segments.data(), segments.size(), base);
  });
  return env.Undefined();
}

// copy(dst, src): the multithreaded memcpy baseline for benchmarks.
Napi::Value Copy(const Napi::CallbackInfo& info) {
  auto dst = float32_arg(info, 0, "dst");
  auto src = float32_arg(info, 1, "src");
  if (dst.ElementLength() != src.ElementLength()) throw_range(info.Env(), "dst and src differ in length");
  llfc::parallel_copy(dst.Data(), src.Data(), src.ElementLength());
  return info.Env().Undefined();
}

// ---- linear assignment --------------------------------------------------------------------
// lap(cost: Float32Array | Float64Array, rows, cols, maximize: boolean, warm?: Float64Array)
//   -> { rowInd, colInd, total, colDuals, warmStarted, stats }
// lapAsync(same arguments) -> Promise of the same, solved on the libuv thread pool.
// gemmAbt(a: Float32Array, b: Float32Array, n, m, k, out: Float32Array, threads?: number)
// Solver failures are Errors with `code` (LAP_NAN, LAP_BAD_INFINITY, LAP_INFEASIBLE,
// LAP_INVALID_ARGUMENT) and, where the failure has a position, `row` / `col`.

size_t size_arg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsNumber()) throw_type(info.Env(), std::string(name) + " must be a number");
  const double x = info[i].As<Napi::Number>().DoubleValue();
  if (!(x >= 0) || std::floor(x) != x || x > 2147483647.0) {
    throw_range(info.Env(), std::string(name) + " must be an integer in [0, 2^31), got " +
                                Napi::Value(info[i]).ToString().Utf8Value());
  }
  return static_cast<size_t>(x);
}

struct LapInput {
  const void* data = nullptr;
  bool is_float = true;
  size_t rows = 0, cols = 0;
  bool maximize = false;
  std::vector<double> warm;  // empty: cold
  bool has_warm = false;
};

LapInput lap_input(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LapInput in;
  if (info.Length() < 1 || !info[0].IsTypedArray()) throw_type(env, "cost must be a Float32Array or Float64Array");
  auto arr = info[0].As<Napi::TypedArray>();
  if (arr.TypedArrayType() == napi_float32_array) {
    in.is_float = true;
    in.data = arr.As<Napi::Float32Array>().Data();
  } else if (arr.TypedArrayType() == napi_float64_array) {
    in.is_float = false;
    in.data = arr.As<Napi::Float64Array>().Data();
  } else {
    throw_type(env, "cost must be a Float32Array or Float64Array");
  }
  in.rows = size_arg(info, 1, "rows");
  in.cols = size_arg(info, 2, "cols");
  const double cells = static_cast<double>(in.rows) * static_cast<double>(in.cols);
  if (cells != static_cast<double>(arr.ElementLength())) {
    throw_range(env, "cost has " + std::to_string(arr.ElementLength()) + " elements, rows·cols = " +
                         std::to_string(in.rows) + "·" + std::to_string(in.cols));
  }
  if (info.Length() < 4 || !info[3].IsBoolean()) throw_type(env, "maximize must be a boolean");
  in.maximize = info[3].As<Napi::Boolean>().Value();
  if (!is_absent(info, 4)) {
    auto warm = float64_arg(info, 4, "warm-start duals");
    const size_t want = std::max(in.rows, in.cols);
    if (warm.ElementLength() != want) {
      throw_range(env, "warm-start duals have " + std::to_string(warm.ElementLength()) +
                           " elements, max(rows, cols) = " + std::to_string(want));
    }
    in.warm.assign(warm.Data(), warm.Data() + want);
    in.has_warm = true;
  }
  return in;
}

llfc::LapResult lap_solve(const LapInput& in) {
  llfc::LapOptions o;
  o.maximize = in.maximize;
  o.warm_col_duals = in.has_warm ? in.warm.data() : nullptr;
  return in.is_float
             ? llfc::linear_sum_assignment(static_cast<const float*>(in.data), in.rows, in.cols, o)
             : llfc::linear_sum_assignment(static_cast<const double*>(in.data), in.rows, in.cols, o);
}

const char* lap_code(llfc::LapError::Kind kind) {
  switch (kind) {
    case llfc::LapError::Kind::kNaN: return "LAP_NAN";
    case llfc::LapError::Kind::kBadInfinity: return "LAP_BAD_INFINITY";
    case llfc::LapError::Kind::kInfeasible: return "LAP_INFEASIBLE";
    case llfc::LapError::Kind::kInvalidArgument: return "LAP_INVALID_ARGUMENT";
  }
  return "LAP_INVALID_ARGUMENT";
}

// A failed solve, carried from the worker thread to the JS thread.
struct LapFailure {
  std::string message;
  std::string code;  // empty: not a LapError
  int64_t row = -1, col = -1;
};

Napi::Error lap_error(Napi::Env env, const LapFailure& f) {
  Napi::Error e = Napi::Error::New(env, "llfc native: " + f.message);
  if (!f.code.empty()) {
    e.Set("code", Napi::String::New(env, f.code));
    if (f.row >= 0) e.Set("row", Napi::Number::New(env, static_cast<double>(f.row)));
    if (f.col >= 0) e.Set("col", Napi::Number::New(env, static_cast<double>(f.col)));
  }
  return e;
}

LapFailure lap_failure(const std::exception& ex) {
  LapFailure f;
  f.message = ex.what();
  if (auto* le = dynamic_cast<const llfc::LapError*>(&ex)) {
    f.code = lap_code(le->kind());
    f.row = le->row();
    f.col = le->col();
  } else if (dynamic_cast<const std::bad_alloc*>(&ex)) {
    f.message = "out of memory";
  }
  return f;
}

template <typename A, typename T>
A typed_copy(Napi::Env env, const std::vector<T>& v) {
  A out = A::New(env, v.size());
  if (!v.empty()) std::memcpy(out.Data(), v.data(), v.size() * sizeof(T));
  return out;
}

Napi::Object lap_result(Napi::Env env, const llfc::LapResult& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("rowInd", typed_copy<Napi::Int32Array>(env, r.row_ind));
  o.Set("colInd", typed_copy<Napi::Int32Array>(env, r.col_ind));
  o.Set("total", Napi::Number::New(env, r.total));
  o.Set("colDuals", typed_copy<Napi::Float64Array>(env, r.col_duals));
  o.Set("warmStarted", Napi::Boolean::New(env, r.warm_started));
  Napi::Object st = Napi::Object::New(env);
  st.Set("freeAfterInit", Napi::Number::New(env, static_cast<double>(r.stats.free_after_init)));
  st.Set("arrScans", Napi::Number::New(env, static_cast<double>(r.stats.arr_scans)));
  st.Set("freeAfterArr", Napi::Number::New(env, static_cast<double>(r.stats.free_after_arr)));
  st.Set("pathPasses", Napi::Number::New(env, static_cast<double>(r.stats.path_passes)));
  o.Set("stats", st);
  return o;
}

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

// Solves on a worker thread; the cost array stays referenced (so not collected) until the
// promise settles. The caller must not write to it or detach it meanwhile.
class LapWorker : public Napi::AsyncWorker {
 public:
  LapWorker(Napi::Env env, LapInput in, Napi::TypedArray cost)
      : Napi::AsyncWorker(env, "llfc.lapAsync"),
        in_(std::move(in)),
        cost_(Napi::Persistent(cost)),
        deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      result_ = lap_solve(in_);
    } catch (const std::exception& ex) {
      failed_ = true;
      failure_ = lap_failure(ex);
    } catch (...) {
      failed_ = true;
      failure_.message = "unknown failure";
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    cost_.Reset();
    if (failed_) {
      deferred_.Reject(lap_error(env, failure_).Value());
    } else {
      deferred_.Resolve(lap_result(env, result_));
    }
  }
  void OnError(const Napi::Error& e) override {
    cost_.Reset();
    deferred_.Reject(e.Value());
  }

 private:
  LapInput in_;
  Napi::Reference<Napi::TypedArray> cost_;
  Napi::Promise::Deferred deferred_;
  llfc::LapResult result_;
  bool failed_ = false;
  LapFailure failure_;
};

Napi::Value LapAsync(const Napi::CallbackInfo& info) {
  LapInput in = lap_input(info);
  auto* worker = new LapWorker(info.Env(), std::move(in), info[0].As<Napi::TypedArray>());
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value GemmAbt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto a = float32_arg(info, 0, "a");
  auto b = float32_arg(info, 1, "b");
  const size_t n = size_arg(info, 2, "n"), m = size_arg(info, 3, "m"), k = size_arg(info, 4, "k");
  auto out = float32_arg(info, 5, "out");
  auto expect = [&](size_t got, double want, const char* what) {
    if (static_cast<double>(got) != want) {
      throw_range(env, std::string(what) + " has " + std::to_string(got) + " elements, expected " +
                           std::to_string(static_cast<size_t>(want)));
    }
  };
  expect(a.ElementLength(), static_cast<double>(n) * static_cast<double>(k), "a (n·k)");
  expect(b.ElementLength(), static_cast<double>(m) * static_cast<double>(k), "b (m·k)");
  expect(out.ElementLength(), static_cast<double>(n) * static_cast<double>(m), "out (n·m)");
  int threads = 0;
  if (!is_absent(info, 6)) {
    if (!info[6].IsNumber()) throw_type(env, "threads must be a number");
    const double t = info[6].As<Napi::Number>().DoubleValue();
    if (!(t >= 0 && t <= 1024) || std::floor(t) != t) throw_range(env, "threads must be an integer in [0, 1024]");
    threads = static_cast<int>(t);
  }
  const float *pa = a.Data(), *pb = b.Data();
  float* po = out.Data();
  auto overlaps = [](const float* x, size_t nx, const float* y, size_t ny) {
    return nx != 0 && ny != 0 && x < y + ny && y < x + nx;
  };
  if (overlaps(po, out.ElementLength(), pa, a.ElementLength()) ||
      overlaps(po, out.ElementLength(), pb, b.ElementLength())) {
    throw_range(env, "out must not overlap a or b");
  }
  guarded(env, [&] { llfc::dispatch::gemm_abt(pa, pb, po, n, m, k, threads); });
  return env.Undefined();
}

// ---- feature statistics ------------------------------------------------------------------

// A sample count: a positive integer.
size_t sample_count_arg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (index >= info.Length() || !info[index].IsNumber()) throw_type(info.Env(), std::string(name) + " must be a number");
  const double v = info[index].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(v) || v < 1 || std::floor(v) != v || v > 9007199254740991.0) {
    throw_range(info.Env(), std::string(name) + " must be a positive integer, got " + std::to_string(v));
  }
  return static_cast<size_t>(v);
}

// cosineStats(as: Float32Array[], alphas: Float64Array, fa, fb, n, acc: Float64Array(K·5))
Napi::Value CosineStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) throw_type(env, "as must be an array of Float32Array");
  auto as_js = info[0].As<Napi::Array>();
  auto alphas = float64_arg(info, 1, "alphas");
  auto fa = float32_arg(info, 2, "fa");
  auto fb = float32_arg(info, 3, "fb");
  const size_t n = sample_count_arg(info, 4, "n");
  auto acc = float64_arg(info, 5, "acc");
  const size_t len = fa.ElementLength();
  if (fb.ElementLength() != len) throw_range(env, "fa and fb differ in length");
  if (n == 0 || len % n != 0) throw_range(env, "features of " + std::to_string(len) + " floats do not split into " + std::to_string(n) + " samples");
  const size_t k = alphas.ElementLength();
  if (as_js.Length() != k) throw_range(env, "as has " + std::to_string(as_js.Length()) + " arrays for " + std::to_string(k) + " alphas");
  if (acc.ElementLength() != k * llfc::kCosineSlots) throw_range(env, "acc must hold " + std::to_string(k * llfc::kCosineSlots) + " values");
  std::vector<const float*> as(k);
  for (uint32_t i = 0; i < k; ++i) {
    Napi::Value v = as_js[i];
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      throw_type(env, "as[" + std::to_string(i) + "] must be a Float32Array");
    }
    auto arr = v.As<Napi::Float32Array>();
    if (arr.ElementLength() != len) throw_range(env, "as[" + std::to_string(i) + "] has " + std::to_string(arr.ElementLength()) + " floats, fa has " + std::to_string(len));
    as[i] = arr.Data();
    if (!std::isfinite(alphas[i])) throw_range(env, "alphas must be finite");
  }
  guarded(env, [&] { llfc::dispatch::cosine_accumulate(as.data(), alphas.Data(), k, fa.Data(), fb.Data(), n, len / n, acc.Data()); });
  return env.Undefined();
}


// weakAdditivityStats(ha, hb, fa, fb, n, alphas: Float64Array, activation: number,
//                     alpha: number, beta: number, acc: Float64Array(K·5))
Napi::Value WeakAdditivityStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto ha = float32_arg(info, 0, "ha");
  auto hb = float32_arg(info, 1, "hb");
  auto fa = float32_arg(info, 2, "fa");
  auto fb = float32_arg(info, 3, "fb");
  const size_t n = sample_count_arg(info, 4, "n");
  auto alphas = float64_arg(info, 5, "alphas");
  const size_t kind = size_arg(info, 6, "activation");
  if (kind >= static_cast<size_t>(llfc::Activation::kCount)) throw_range(env, "activation " + std::to_string(kind) + " is not one the kernel knows");
  if (info.Length() < 9 || !info[7].IsNumber() || !info[8].IsNumber()) throw_type(env, "alpha and beta must be numbers");
  const double act_alpha = info[7].As<Napi::Number>().DoubleValue();
  const double act_beta = info[8].As<Napi::Number>().DoubleValue();
  auto acc = float64_arg(info, 9, "acc");
  const size_t len = ha.ElementLength();
  if (hb.ElementLength() != len || fa.ElementLength() != len || fb.ElementLength() != len) {
    throw_range(env, "ha, hb, fa and fb must have equal lengths");
  }
  if (len % n != 0) throw_range(env, "features of " + std::to_string(len) + " floats do not split into " + std::to_string(n) + " samples");
  const size_t k = alphas.ElementLength();
  if (acc.ElementLength() != k * llfc::kCosineSlots) throw_range(env, "acc must hold " + std::to_string(k * llfc::kCosineSlots) + " values");
  for (size_t i = 0; i < k; ++i) {
    if (!std::isfinite(alphas[i])) throw_range(env, "alphas must be finite");
  }
  const llfc::ActivationSpec spec{static_cast<llfc::Activation>(kind), act_alpha, act_beta};
  guarded(env, [&] { llfc::weak_additivity_accumulate(ha.Data(), hb.Data(), fa.Data(), fb.Data(), n, len / n, alphas.Data(), k, spec, acc.Data()); });
  return env.Undefined();
}

// sumSquares(x, y, out: Float64Array(3)): out += [‖x − y‖², ‖x‖², ‖y‖²]
Napi::Value SumSquares(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto x = float32_arg(info, 0, "x");
  auto y = float32_arg(info, 1, "y");
  auto out = float64_arg(info, 2, "out");
  if (x.ElementLength() != y.ElementLength()) throw_range(env, "x and y differ in length");
  if (out.ElementLength() != 3) throw_range(env, "out must hold 3 values");
  guarded(env, [&] { llfc::dispatch::sum_squares(x.Data(), y.Data(), x.ElementLength(), out.Data()); });
  return env.Undefined();
}

// ---- alignment ----------------------------------------------------------------------------
// gatherAxes(src, dims: number[], maps: (Int32Array | null)[], out)
// gatheredDot(a, b, dims, maps) -> number
// extractUnits(src, dims, maps, axis, offset, count, inner, out)
// accumulateCross(za, zb, outer, len, after, offset, count, inner, cross: Float64Array(count²),
//                 sums: Float64Array(4·count), threads?: number (default 1, 0 = all)) -> samples added
// addToFloat64(dst: Float64Array, src: Float32Array): dst += src
// Shapes, map lengths and every map index are checked here; the kernels trust them.

struct AxisMaps {
  std::vector<size_t> dims;
  std::vector<const int32_t*> maps;
  size_t total = 1;
};

AxisMaps axis_maps_arg(const Napi::CallbackInfo& info, size_t dims_index, size_t maps_index) {
  Napi::Env env = info.Env();
  AxisMaps out;
  if (dims_index >= info.Length() || !info[dims_index].IsArray()) throw_type(env, "dims must be an array of numbers");
  auto dims = info[dims_index].As<Napi::Array>();
  if (dims.Length() > 32) throw_range(env, "dims has " + std::to_string(dims.Length()) + " axes, at most 32 are supported");
  double total = 1;
  for (uint32_t k = 0; k < dims.Length(); ++k) {
    Napi::Value v = dims[k];
    if (!v.IsNumber()) throw_type(env, "dims[" + std::to_string(k) + "] must be a number");
    const double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= 0) || std::floor(d) != d || d > 2147483647.0) {
      throw_range(env, "dims[" + std::to_string(k) + "] must be an integer in [0, 2^31), got " + v.ToString().Utf8Value());
    }
    out.dims.push_back(static_cast<size_t>(d));
    total *= d;
  }
  if (total > 9007199254740991.0) throw_range(env, "dims describe more elements than can be addressed");
  out.total = static_cast<size_t>(total);
  const size_t rank = out.dims.size();
  out.maps.assign(rank, nullptr);
  if (is_absent(info, maps_index)) return out;
  if (!info[maps_index].IsArray()) throw_type(env, "maps must be an array of Int32Array or null");
  auto maps = info[maps_index].As<Napi::Array>();
  if (maps.Length() != rank) {
    throw_range(env, "maps has " + std::to_string(maps.Length()) + " entries for " + std::to_string(rank) + " axes");
  }
  for (uint32_t k = 0; k < rank; ++k) {
    Napi::Value v = maps[k];
    if (v.IsUndefined() || v.IsNull()) continue;
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
      throw_type(env, "maps[" + std::to_string(k) + "] must be an Int32Array or null");
    }
    auto m = v.As<Napi::Int32Array>();
    if (m.ElementLength() != out.dims[k]) {
      throw_range(env, "maps[" + std::to_string(k) + "] has " + std::to_string(m.ElementLength()) + " entries, axis " +
                           std::to_string(k) + " has " + std::to_string(out.dims[k]));
    }
    for (size_t i = 0; i < out.dims[k]; ++i) {
      if (m[i] < 0 || static_cast<size_t>(m[i]) >= out.dims[k]) {
        throw_range(env, "maps[" + std::to_string(k) + "][" + std::to_string(i) + "] = " + std::to_string(m[i]) +
                             " is outside [0, " + std::to_string(out.dims[k]) + ")");
      }
    }
    out.maps[k] = m.Data();
  }
  return out;
}

void expect_length(Napi::Env env, size_t got, size_t want, const char* what) {
  if (got != want) {
    throw_range(env, std::string(what) + " has " + std::to_string(got) + " elements, expected " + std::to_string(want));
  }
}

Napi::Value GatherAxes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto src = float32_arg(info, 0, "src");
  const AxisMaps m = axis_maps_arg(info, 1, 2);
  auto out = float32_arg(info, 3, "out");
  expect_length(env, src.ElementLength(), m.total, "src");
  expect_length(env, out.ElementLength(), m.total, "out");
  if (out.ArrayBuffer().Data() == src.ArrayBuffer().Data() && m.total > 0) {
    const float* s = src.Data();
    const float* o = out.Data();
    if (o < s + m.total && s < o + m.total) throw_range(env, "out must not overlap src");
  }
  guarded(env, [&] { llfc::gather_axes(src.Data(), out.Data(), m.dims.data(), m.dims.size(), m.maps.data()); });
  return env.Undefined();
}

Napi::Value GatheredDot(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto a = float32_arg(info, 0, "a");
  auto b = float32_arg(info, 1, "b");
  const AxisMaps m = axis_maps_arg(info, 2, 3);
  expect_length(env, a.ElementLength(), m.total, "a");
  expect_length(env, b.ElementLength(), m.total, "b");
  const double dot = guarded(env, [&] { return llfc::gathered_dot(a.Data(), b.Data(), m.dims.data(), m.dims.size(), m.maps.data()); });
  return Napi::Number::New(env, dot);
}

Napi::Value ExtractUnits(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto src = float32_arg(info, 0, "src");
  const AxisMaps m = axis_maps_arg(info, 1, 2);
  const size_t axis = size_arg(info, 3, "axis"), offset = size_arg(info, 4, "offset"), count = size_arg(info, 5, "count"),
               inner = size_arg(info, 6, "inner");
  auto out = float32_arg(info, 7, "out");
  expect_length(env, src.ElementLength(), m.total, "src");
  if (axis >= m.dims.size()) throw_range(env, "axis " + std::to_string(axis) + " is outside a tensor of rank " + std::to_string(m.dims.size()));
  const double end = static_cast<double>(offset) + static_cast<double>(count) * static_cast<double>(inner);
  if (end > static_cast<double>(m.dims[axis])) {
    throw_range(env, "units [" + std::to_string(offset) + ", " + std::to_string(static_cast<size_t>(end)) + ") exceed axis " +
                         std::to_string(axis) + " of length " + std::to_string(m.dims[axis]));
  }
  const size_t per_position = m.dims[axis] == 0 ? 0 : m.total / m.dims[axis];
  expect_length(env, out.ElementLength(), count * inner * per_position, "out");
  guarded(env, [&] {
    llfc::extract_units(src.Data(), out.Data(), m.dims.data(), m.dims.size(), m.maps.data(), axis, offset, count, inner);
  });
  return env.Undefined();
}

Napi::Value AccumulateCross(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto za = float32_arg(info, 0, "za");
  auto zb = float32_arg(info, 1, "zb");
  const size_t outer = size_arg(info, 2, "outer"), len = size_arg(info, 3, "len"), after = size_arg(info, 4, "after"),
               offset = size_arg(info, 5, "offset"), count = size_arg(info, 6, "count"), inner = size_arg(info, 7, "inner");
  auto cross = float64_arg(info, 8, "cross");
  auto sums = float64_arg(info, 9, "sums");
  const double n = static_cast<double>(outer) * static_cast<double>(len) * static_cast<double>(after);
  if (static_cast<double>(za.ElementLength()) != n || static_cast<double>(zb.ElementLength()) != n) {
    throw_range(env, "za and zb must hold outer·len·after = " + std::to_string(static_cast<size_t>(n)) + " floats, got " +
                         std::to_string(za.ElementLength()) + " and " + std::to_string(zb.ElementLength()));
  }
  if (static_cast<double>(offset) + static_cast<double>(count) * static_cast<double>(inner) > static_cast<double>(len)) {
    throw_range(env, "the channel block exceeds the axis of length " + std::to_string(len));
  }
  expect_length(env, cross.ElementLength(), count * count, "cross");
  expect_length(env, sums.ElementLength(), 4 * count, "sums");
  int threads = 1;
  if (!is_absent(info, 10)) {
    if (!info[10].IsNumber()) throw_type(env, "threads must be a number");
    const double t = info[10].As<Napi::Number>().DoubleValue();
    if (!(t >= 0 && t <= 1024) || std::floor(t) != t) throw_range(env, "threads must be an integer in [0, 1024]");
    threads = static_cast<int>(t);
  }
  const size_t samples = guarded(env, [&] {
    return llfc::accumulate_cross(za.Data(), zb.Data(), outer, len, after, offset, count, inner, cross.Data(), sums.Data(),
                                  threads);
  });
  return Napi::Number::New(env, static_cast<double>(samples));
}
// addToFloat64(dst: Float64Array, src: Float32Array): dst += src, elementwise.
Napi::Value AddToFloat64(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto dst = float64_arg(info, 0, "dst");
  auto src = float32_arg(info, 1, "src");
  expect_length(env, src.ElementLength(), dst.ElementLength(), "src");
  llfc::add_to_double(dst.Data(), src.Data(), dst.ElementLength());
  return env.Undefined();
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
  auto x = float32_arg(info, 0, "x");
  if (!llfc::cuda::status().available) throw Napi::Error::New(env, "llfc native: no usable CUDA device: " + llfc::cuda::status().reason);
  const bool created = guarded(env, [&] { return llfc::cuda::make_resident(x.Data(), x.ElementLength()); });
  auto& refs = cuda_refs(env).refs;
  for (auto it = refs.begin(); it != refs.end();) {  // copies replaced by this one
    it = llfc::cuda::is_resident(it->first) ? std::next(it) : refs.erase(it);
  }
  if (created) refs[x.Data()] = Napi::Persistent(x);
  return env.Undefined();
}

Napi::Value CudaRelease(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto& refs = cuda_refs(env).refs;
  if (is_absent(info, 0)) {
    const size_t count = llfc::cuda::release_all();
    refs.clear();
    return Napi::Number::New(env, static_cast<double>(count));
  }
  auto x = float32_arg(info, 0, "x");
  const bool freed = llfc::cuda::release(x.Data());
  refs.erase(x.Data());
  return Napi::Number::New(env, freed ? 1 : 0);
}

Napi::Value CudaSetChunk(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw_type(env, "elements must be a number");
  const double v = info[0].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(v) || v < 1024 || std::floor(v) != v || v > 9007199254740991.0) {
    throw_range(env, "elements must be an integer ≥ 1024, got " + std::to_string(v));
  }
  return Napi::Number::New(env, static_cast<double>(llfc::cuda::set_chunk_elements(static_cast<size_t>(v))));
}
#endif
// ---- end CUDA variant ------------------------------------------------------------------------

// ---- module -------------------------------------------------------------------------------

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("backend", Napi::String::New(env, llfc::dispatch::backend()));
  exports.Set("interpolate", Napi::Function::New(env, Interpolate, "interpolate"));
  exports.Set("copy", Napi::Function::New(env, Copy, "copy"));
  exports.Set("cosineStats", Napi::Function::New(env, CosineStats, "cosineStats"));
  exports.Set("sumSquares", Napi::Function::New(env, SumSquares, "sumSquares"));
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
  return exports;
}

}  // namespace

NODE_API_MODULE(llfc, Init)
