// The linear assignment exports' conversions, for native/addon.cc only: a problem read from
// JS (binding_args.h's order), the solver's failures as JS errors with `code`, `row`, `col`,
// its result as a JS object, and the worker that solves lapAsync's own copy of the problem.
#pragma once
#include <napi.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "binding_args.h"
#include "lap.h"

namespace llfc::binding {

// A problem as the solver reads it; the cost is either viewed (lap) or owned (lapAsync: the
// caller's array may be detached or written while the worker runs).
struct LapInput {
  const float* f32 = nullptr;
  const double* f64 = nullptr;
  size_t rows = 0, cols = 0;
  bool maximize = false;
  std::vector<double> warm;  // empty: cold (only a 0 × 0 problem has no duals, and it needs none)
  std::vector<float> own_f32;
  std::vector<double> own_f64;

  void own() {
    if (f32) {
      own_f32.assign(f32, f32 + rows * cols);
      f32 = own_f32.data();
    } else {
      own_f64.assign(f64, f64 + rows * cols);
      f64 = own_f64.data();
    }
  }
};

inline LapInput lap_input(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LapInput in;
  size_t length = 0;
  if (is_typed(info[0], napi_float32_array)) {
    const auto cost = view<float>(env, info[0], "cost");
    in.f32 = cost.data;
    length = cost.length;
  } else if (is_typed(info[0], napi_float64_array)) {
    const auto cost = view<double>(env, info[0], "cost");
    in.f64 = cost.data;
    length = cost.length;
  } else {
    throw_type(env, "cost must be a Float32Array or Float64Array");
  }
  in.rows = integer(env, info[1], "rows");
  in.cols = integer(env, info[2], "cols");
  expect_length(env, length, product(env, {in.rows, in.cols}, "rows·cols"), "cost (rows·cols)");
  in.maximize = boolean(env, info[3], "maximize");
  if (!absent(info[4])) {
    const auto warm = view<double>(env, info[4], "warm-start duals");
    expect_length(env, warm.length, std::max(in.rows, in.cols), "warm-start duals (max(rows, cols))");
    in.warm.assign(warm.data, warm.data + warm.length);
  }
  return in;
}

inline llfc::LapResult lap_solve(const LapInput& in) {
  llfc::LapOptions o;
  o.maximize = in.maximize;
  o.warm_col_duals = in.warm.empty() ? nullptr : in.warm.data();
  return in.f32 ? llfc::linear_sum_assignment(in.f32, in.rows, in.cols, o)
                : llfc::linear_sum_assignment(in.f64, in.rows, in.cols, o);
}

inline const char* lap_code(llfc::LapError::Kind kind) {
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

inline Napi::Error lap_error(Napi::Env env, const LapFailure& f) {
  Napi::Error e = Napi::Error::New(env, "llfc native: " + f.message);
  if (!f.code.empty()) {
    e.Set("code", Napi::String::New(env, f.code));
    if (f.row >= 0) e.Set("row", Napi::Number::New(env, static_cast<double>(f.row)));
    if (f.col >= 0) e.Set("col", Napi::Number::New(env, static_cast<double>(f.col)));
  }
  return e;
}

inline LapFailure lap_failure(const std::exception& ex) {
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

inline Napi::Object lap_result(Napi::Env env, const llfc::LapResult& r) {
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

// Solves on a worker thread, on its own copy of the problem.
class LapWorker : public Napi::AsyncWorker {
 public:
  LapWorker(Napi::Env env, LapInput in)
      : Napi::AsyncWorker(env, "llfc.lapAsync"), in_(std::move(in)), deferred_(Napi::Promise::Deferred::New(env)) {}
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
    if (failed_) {
      deferred_.Reject(lap_error(env, failure_).Value());
    } else {
      deferred_.Resolve(lap_result(env, result_));
    }
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  LapInput in_;
  Napi::Promise::Deferred deferred_;
  llfc::LapResult result_;
  bool failed_ = false;
  LapFailure failure_;
};

}  // namespace llfc::binding
