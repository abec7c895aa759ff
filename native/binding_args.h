// Argument reading for native/addon.cc, the one binding file (kernels never see N-API).
//
// Reading a JS value can run JavaScript: an options property or an array element may be a
// getter (or a Proxy trap) that transfers a buffer, forces a GC or rewrites another argument.
// So every export works in three steps, in this order:
//   1. read: every value it needs (positional arguments, options properties, array elements)
//      into Napi::Value handles: the only step that may run JavaScript;
//   2. view: each typed array becomes a View (pointer, length), refusing a wrong type or a
//      detached buffer; each number a checked integer or finite double. No JavaScript runs
//      from here until the export returns, so the pointers stay valid for the kernel call;
//   3. check that every size agrees with the buffers it describes (products checked for
//      overflow), then call the kernel through guarded(), which turns C++ exceptions into JS
//      errors.
// Errors: TypeError for a wrong type, RangeError for a wrong size or value, Error for a kernel
// failure ("llfc native: …"); lib/native.ts turns each into a NativeError.
#pragma once
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <new>
#include <string>
#include <vector>

namespace llfc::binding {

[[noreturn]] inline void throw_type(Napi::Env env, const std::string& msg) {
  throw Napi::TypeError::New(env, msg);
}
[[noreturn]] inline void throw_range(Napi::Env env, const std::string& msg) {
  throw Napi::RangeError::New(env, msg);
}

// The largest size or index accepted: counts fit int32 kernels' indices (LAP, maps).
constexpr double kMaxSize = 2147483647.0;
// At most this many elements are read from a JS array of buffers (bounds the reading work of
// an array like `new Array(2 ** 32 - 1)` before its length is compared with anything).
constexpr uint32_t kMaxArrayElements = 1u << 16;

// ---- step 1: read (may run JavaScript) ------------------------------------------------------

inline bool absent(const Napi::Value& v) { return v.IsUndefined() || v.IsNull(); }

// An options object: its properties are read with get(), each possibly running a getter.
class Options {
 public:
  Options(Napi::Env env, const Napi::Value& v, std::string name) : name_(std::move(name)) {
    if (!v.IsObject() || v.IsArray() || v.IsTypedArray() || v.IsFunction()) {
      throw_type(env, name_ + " must be an options object");
    }
    object_ = v.As<Napi::Object>();
  }
  Napi::Value get(const char* key) const { return object_.Get(key); }
  // The name of a property in messages, e.g. "accumulateCross options.count".
  std::string name(const char* key) const { return name_ + "." + key; }

 private:
  std::string name_;
  Napi::Object object_;
};

// The elements of a JS array, read once each (a getter may change the array meanwhile: the
// length is read first, and what the reads return is what counts).
inline std::vector<Napi::Value> elements(Napi::Env env, const Napi::Value& v, const std::string& name,
                                         const char* of_what, uint32_t max = kMaxArrayElements) {
  if (!v.IsArray()) throw_type(env, name + " must be an array of " + of_what);
  auto array = v.As<Napi::Array>();
  const uint32_t n = array.Length();
  if (n > max) {
    throw_range(env, name + " has " + std::to_string(n) + " entries, at most " + std::to_string(max) +
                         " are supported");
  }
  std::vector<Napi::Value> out;
  out.reserve(n);
  for (uint32_t k = 0; k < n; ++k) out.push_back(array.Get(k));
  return out;
}

// ---- step 2: view (no JavaScript runs from here on) -----------------------------------------

template <typename T> struct TypedArrayKind;
template <> struct TypedArrayKind<float> {
  static constexpr napi_typedarray_type kind = napi_float32_array;
  static constexpr const char* name = "Float32Array";
};
template <> struct TypedArrayKind<double> {
  static constexpr napi_typedarray_type kind = napi_float64_array;
  static constexpr const char* name = "Float64Array";
};
template <> struct TypedArrayKind<uint8_t> {
  static constexpr napi_typedarray_type kind = napi_uint8_array;
  static constexpr const char* name = "Uint8Array";
};
template <> struct TypedArrayKind<int32_t> {
  static constexpr napi_typedarray_type kind = napi_int32_array;
  static constexpr const char* name = "Int32Array";
};

// A typed array's memory: valid while the export runs (no JavaScript runs after it is taken).
template <typename T>
struct View {
  T* data = nullptr;
  size_t length = 0;
};

inline bool is_typed(const Napi::Value& v, napi_typedarray_type kind) {
  return v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == kind;
}

template <typename T>
View<T> view(Napi::Env env, const Napi::Value& v, const std::string& name) {
  if (!is_typed(v, TypedArrayKind<T>::kind)) throw_type(env, name + " must be a " + TypedArrayKind<T>::name);
  auto array = v.As<Napi::TypedArrayOf<T>>();
  if (array.ArrayBuffer().IsDetached()) throw_type(env, name + " is detached (its buffer was transferred)");
  return {array.Data(), array.ElementLength()};
}

// A view of each element of a JS array read by elements().
template <typename T>
std::vector<View<T>> views(Napi::Env env, const std::vector<Napi::Value>& values, const std::string& name) {
  std::vector<View<T>> out;
  out.reserve(values.size());
  for (size_t k = 0; k < values.size(); ++k) out.push_back(view<T>(env, values[k], name + "[" + std::to_string(k) + "]"));
  return out;
}

// A number as a message shows it: shortest round-trip form, not std::to_string's fixed point.
inline std::string shown(double x) {
  char text[32];
  for (int digits = 15; digits <= 17; ++digits) {
    std::snprintf(text, sizeof text, "%.*g", digits, x);
    if (std::strtod(text, nullptr) == x) break;
  }
  return text;
}

inline double number(Napi::Env env, const Napi::Value& v, const std::string& name) {
  if (!v.IsNumber()) throw_type(env, name + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

inline double finite(Napi::Env env, const Napi::Value& v, const std::string& name) {
  const double x = number(env, v, name);
  if (!std::isfinite(x)) throw_range(env, name + " must be finite, got " + shown(x));
  return x;
}

// An integer in [min, max]: a size, count, offset or index.
inline size_t integer(Napi::Env env, const Napi::Value& v, const std::string& name, double min = 0,
                      double max = kMaxSize) {
  const double x = number(env, v, name);
  if (!(x >= min && x <= max) || std::floor(x) != x) {
    throw_range(env, name + " must be an integer in [" + std::to_string(static_cast<int64_t>(min)) + ", " +
                         std::to_string(static_cast<int64_t>(max)) + "], got " + shown(x));
  }
  return static_cast<size_t>(x);
}

// A signed 32-bit integer (a label value such as an ignore index, which may be negative).
inline int32_t int32(Napi::Env env, const Napi::Value& v, const std::string& name) {
  const double x = number(env, v, name);
  if (!(x >= -2147483648.0 && x <= 2147483647.0) || std::floor(x) != x) {
    throw_range(env, name + " must be a 32-bit integer, got " + shown(x));
  }
  return static_cast<int32_t>(x);
}

inline bool boolean(Napi::Env env, const Napi::Value& v, const std::string& name) {
  if (!v.IsBoolean()) throw_type(env, name + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

// An OpenMP thread count: absent → fallback, 0 = all.
inline int threads(Napi::Env env, const Napi::Value& v, const std::string& name, int fallback) {
  return absent(v) ? fallback : static_cast<int>(integer(env, v, name, 0, 1024));
}

// ---- step 3: sizes, kernel calls ------------------------------------------------------------

// a·b·…, refusing a product that does not fit size_t.
inline size_t product(Napi::Env env, std::initializer_list<size_t> factors, const std::string& what) {
  size_t p = 1;
  for (size_t f : factors) {
    if (__builtin_mul_overflow(p, f, &p)) throw_range(env, what + " overflows: the sizes describe no buffer");
  }
  return p;
}

inline void expect_length(Napi::Env env, size_t got, size_t want, const std::string& what) {
  if (got != want) {
    throw_range(env, what + " has " + std::to_string(got) + " elements, expected " + std::to_string(want));
  }
}

inline bool overlaps(const void* x, size_t x_bytes, const void* y, size_t y_bytes) {
  const auto* a = static_cast<const char*>(x);
  const auto* b = static_cast<const char*>(y);
  return x_bytes != 0 && y_bytes != 0 && a < b + y_bytes && b < a + x_bytes;
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

}  // namespace llfc::binding
