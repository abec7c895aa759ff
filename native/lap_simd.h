// The 8-wide SIMD layer of the linear assignment solver (native/lap.cc), and the scalar
// conversions it shares with the solver. Included by lap_passes.h and lap.cc only.
#pragma once
#if defined(__AVX512F__)
#include <immintrin.h>
#endif
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

namespace llfc::lap {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr size_t kW = 8;        // doubles per vector

template <typename T, bool Max>
inline double conv(T x) {
  return Max ? -static_cast<double>(x) : static_cast<double>(x);
}
inline double smin(double a, double b) { return a < b ? a : b; }

// The SIMD helpers must inline: passed by value across a call, a 64-byte vector goes through
// memory on targets without AVX-512.
#define LLFC_INLINE inline __attribute__((always_inline))

// ---- 8-wide SIMD layer --------------------------------------------------------------------
// AVX-512 intrinsics where the compiler targets AVX-512, GCC/Clang vector extensions otherwise
// (lowered to AVX2, SSE2, … by the compiler). Every lane computes exactly what the scalar
// expressions compute (same operations, same order), so values found by a vector pass can be
// located again by scalar code with ==.
#if defined(__AVX512F__)
// GCC 12's intrinsics start from _mm512_undefined_pd(), which -Wmaybe-uninitialized flags.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
struct Simd {
  using D = __m512d;
  using M = __mmask8;
  LLFC_INLINE static D set1(double x) { return _mm512_set1_pd(x); }
  LLFC_INLINE static D load(const double* p) { return _mm512_loadu_pd(p); }
  LLFC_INLINE static void store(double* p, D x) { _mm512_storeu_pd(p, x); }
  template <typename T, bool Max>
  LLFC_INLINE static D load_cost(const T* p) {
    D x;
    if constexpr (std::is_same_v<T, float>) {
      x = _mm512_cvtps_pd(_mm256_loadu_ps(p));
    } else {
      x = _mm512_loadu_pd(p);
    }
    if constexpr (Max) {
      x = _mm512_castsi512_pd(
          _mm512_xor_si512(_mm512_castpd_si512(x), _mm512_set1_epi64(INT64_MIN)));
    }
    return x;
  }
  LLFC_INLINE static D add(D a, D b) { return _mm512_add_pd(a, b); }
  LLFC_INLINE static D sub(D a, D b) { return _mm512_sub_pd(a, b); }
  LLFC_INLINE static D min(D a, D b) { return _mm512_min_pd(a, b); }  // a < b ? a : b
  LLFC_INLINE static M lt(D a, D b) { return _mm512_cmp_pd_mask(a, b, _CMP_LT_OQ); }
  LLFC_INLINE static M eq(D a, D b) { return _mm512_cmp_pd_mask(a, b, _CMP_EQ_OQ); }
  // NaN lanes, and lanes equal to `bad`.
  LLFC_INLINE static M invalid(D x, D bad) {
    return _mm512_cmp_pd_mask(x, x, _CMP_UNORD_Q) | _mm512_cmp_pd_mask(x, bad, _CMP_EQ_OQ);
  }
  LLFC_INLINE static M none() { return 0; }
  LLFC_INLINE static M both(M a, M b) { return static_cast<M>(a & b); }
  LLFC_INLINE static bool any(M m) { return m != 0; }
  LLFC_INLINE static int first(M m) { return __builtin_ctz(static_cast<unsigned>(m)); }
  // p[l] = value where m[l].
  LLFC_INLINE static void store_where(int32_t* p, M m, int32_t value) {
#if defined(__AVX512VL__)
    _mm256_mask_storeu_epi32(p, m, _mm256_set1_epi32(value));
#else
    _mm512_mask_storeu_epi32(p, static_cast<__mmask16>(m), _mm512_set1_epi32(value));
#endif
  }
  LLFC_INLINE static void store_all(int32_t* p, int32_t value) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm256_set1_epi32(value));
  }
  LLFC_INLINE static double hmin(D x) { return _mm512_reduce_min_pd(x); }
};
#else
// Without AVX-512: an 8-wide vector is kParts native vectors (AVX: 2 × 4 doubles, SSE2: 4 × 2);
// every operation is spelled per part so that each maps onto one native instruction.
#if defined(__AVX__)
constexpr size_t kLanes = 4;
#else
constexpr size_t kLanes = 2;
#endif
constexpr size_t kParts = kW / kLanes;
typedef double PD __attribute__((vector_size(kLanes * sizeof(double))));
typedef int64_t PM __attribute__((vector_size(kLanes * sizeof(int64_t))));
typedef float PF __attribute__((vector_size(kLanes * sizeof(float))));
typedef int32_t PI __attribute__((vector_size(kLanes * sizeof(int32_t))));
struct Simd {
  struct D {
    PD p[kParts];
  };
  struct M {
    PM p[kParts];
  };
  LLFC_INLINE static D set1(double x) {
    D r;
    for (size_t q = 0; q < kParts; ++q) {
      for (size_t l = 0; l < kLanes; ++l) r.p[q][l] = x;
    }
    return r;
  }
  LLFC_INLINE static D load(const double* p) {
    D r;
    for (size_t q = 0; q < kParts; ++q) std::memcpy(&r.p[q], p + q * kLanes, sizeof(PD));
    return r;
  }
  LLFC_INLINE static void store(double* p, D x) {
    for (size_t q = 0; q < kParts; ++q) std::memcpy(p + q * kLanes, &x.p[q], sizeof(PD));
  }
  template <typename T, bool Max>
  LLFC_INLINE static D load_cost(const T* p) {
    D x;
    if constexpr (std::is_same_v<T, float>) {
      for (size_t q = 0; q < kParts; ++q) {
        PF f;
        std::memcpy(&f, p + q * kLanes, sizeof f);
        x.p[q] = __builtin_convertvector(f, PD);
      }
    } else {
      x = load(p);
    }
    if constexpr (Max) {
      for (size_t q = 0; q < kParts; ++q) x.p[q] = -x.p[q];
    }
    return x;
  }
#define LLFC_LAP_PARTS(expr)                           \
  D r;                                                 \
  for (size_t q = 0; q < kParts; ++q) r.p[q] = (expr); \
  return r
  LLFC_INLINE static D add(D a, D b) { LLFC_LAP_PARTS(a.p[q] + b.p[q]); }
  LLFC_INLINE static D sub(D a, D b) { LLFC_LAP_PARTS(a.p[q] - b.p[q]); }
  LLFC_INLINE static D min(D a, D b) { LLFC_LAP_PARTS(a.p[q] < b.p[q] ? a.p[q] : b.p[q]); }
#undef LLFC_LAP_PARTS
  LLFC_INLINE static M lt(D a, D b) {
    M r;
    for (size_t q = 0; q < kParts; ++q) r.p[q] = a.p[q] < b.p[q];
    return r;
  }
  LLFC_INLINE static M eq(D a, D b) {
    M r;
    for (size_t q = 0; q < kParts; ++q) r.p[q] = a.p[q] == b.p[q];
    return r;
  }
  LLFC_INLINE static M invalid(D x, D bad) {
    M r;
    for (size_t q = 0; q < kParts; ++q) r.p[q] = (x.p[q] != x.p[q]) | (x.p[q] == bad.p[q]);
    return r;
  }
  LLFC_INLINE static M none() { return M{}; }
  LLFC_INLINE static M both(M a, M b) {
    M r;
    for (size_t q = 0; q < kParts; ++q) r.p[q] = a.p[q] & b.p[q];
    return r;
  }
  LLFC_INLINE static bool any(M m) {
    PM acc = m.p[0];
    for (size_t q = 1; q < kParts; ++q) acc |= m.p[q];
    int64_t r = 0;
    for (size_t l = 0; l < kLanes; ++l) r |= acc[l];
    return r != 0;
  }
  LLFC_INLINE static int first(M m) {
    for (size_t q = 0; q < kParts; ++q) {
      for (size_t l = 0; l < kLanes; ++l) {
        if (m.p[q][l]) return static_cast<int>(q * kLanes + l);
      }
    }
    return 0;
  }
  LLFC_INLINE static void store_where(int32_t* p, M m, int32_t value) {
    PI v;
    for (size_t l = 0; l < kLanes; ++l) v[l] = value;
    for (size_t q = 0; q < kParts; ++q) {
      PI old;
      std::memcpy(&old, p + q * kLanes, sizeof old);
      const PI r = __builtin_convertvector(m.p[q], PI) ? v : old;
      std::memcpy(p + q * kLanes, &r, sizeof r);
    }
  }
  LLFC_INLINE static void store_all(int32_t* p, int32_t value) {
    for (size_t l = 0; l < kW; ++l) p[l] = value;
  }
  LLFC_INLINE static double hmin(D x) {
    PD acc = x.p[0];
    for (size_t q = 1; q < kParts; ++q) acc = acc < x.p[q] ? acc : x.p[q];
    double r = acc[0];
    for (size_t l = 1; l < kLanes; ++l) r = smin(r, acc[l]);
    return r;
  }
};
inline Simd::M& operator|=(Simd::M& a, const Simd::M& b) {
  for (size_t q = 0; q < kParts; ++q) a.p[q] |= b.p[q];
  return a;
}
#endif
using D = Simd::D;
using M = Simd::M;

}  // namespace llfc::lap
