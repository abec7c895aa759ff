// The dense passes of the linear assignment solver (native/lap.cc) over one cost row: first
// and later Dijkstra relaxations, row and range minima, column minima; each one pass of 8-wide
// vectors that also finds its minima per block. Included by lap.cc only.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "lap_simd.h"

namespace llfc::lap {

constexpr size_t kBlock = 256;  // columns per block of the minimum search
static_assert(kBlock % kW == 0, "blocks are whole vectors");

// A NaN or a forbidden-sign infinity (thrown internally, located on the caller's matrix).
struct BadValue {};

// Minima of one pass: over all live columns, and over live free columns; each with the first
// block where it occurs.
struct PassMin {
  double all = kInf;
  size_t all_blk = 0;
  double free = kInf;
  size_t free_blk = 0;
  void merge(double ba, double bf, size_t b0) {
    if (ba < all) {
      all = ba;
      all_blk = b0;
    }
    if (bf < free) {
      free = bf;
      free_blk = b0;
    }
  }
};

// First index k in [b0, b1) with d[k] == val; b1 when there is none.
inline size_t find_eq(const double* d, size_t b0, size_t b1, double val) {
  const D vv = Simd::set1(val);
  size_t k = b0;
  for (; k + kW <= b1; k += kW) {
    const M e = Simd::eq(Simd::load(d + k), vv);
    if (Simd::any(e)) return k + static_cast<size_t>(Simd::first(e));
  }
  for (; k < b1; ++k) {
    if (d[k] == val) return k;
  }
  return b1;
}

// First Dijkstra pass for free row f: d = c(f, ·) − v, pred = f. With Free, also the minimum
// over free columns (fb = 0 on free columns, +inf on assigned ones).
template <typename T, bool Max, bool Free>
PassMin relax_first(const T* __restrict row, const double* __restrict v, double* __restrict d,
                    int32_t* __restrict pred, const double* __restrict fb, int32_t f, size_t m) {
  PassMin r;
  const size_t mv = m - m % kW;
  for (size_t b0 = 0; b0 < mv; b0 += kBlock) {
    const size_t b1 = std::min(mv, b0 + kBlock);
    D ba = Simd::set1(kInf), bf = ba;
    for (size_t k = b0; k < b1; k += kW) {
      const D x = Simd::sub(Simd::load_cost<T, Max>(row + k), Simd::load(v + k));
      Simd::store(d + k, x);
      Simd::store_all(pred + k, f);
      ba = Simd::min(ba, x);
      if constexpr (Free) bf = Simd::min(bf, Simd::add(x, Simd::load(fb + k)));
    }
    r.merge(Simd::hmin(ba), Free ? Simd::hmin(bf) : kInf, b0);
  }
  if (mv < m) {
    double ba = kInf, bf = kInf;
    for (size_t k = mv; k < m; ++k) {
      const double x = conv<T, Max>(row[k]) - v[k];
      d[k] = x;
      pred[k] = f;
      ba = smin(ba, x);
      if constexpr (Free) bf = smin(bf, x + fb[k]);
    }
    r.merge(ba, bf, mv);
  }
  return r;
}

// Relaxation through assigned row i reached at distance offset h:
// d = min(d, c(i, ·) − v + h), pred = i where it improved.
template <typename T, bool Max, bool Free>
PassMin relax(const T* __restrict row, double h, int32_t i, const double* __restrict v,
              double* __restrict d, int32_t* __restrict pred, const double* __restrict fb,
              size_t m) {
  PassMin r;
  const size_t mv = m - m % kW;
  const D hv = Simd::set1(h);
  for (size_t b0 = 0; b0 < mv; b0 += kBlock) {
    const size_t b1 = std::min(mv, b0 + kBlock);
    // Two vectors per step, with two sets of accumulators: the minimum's latency chain is
    // the bottleneck otherwise.
    D ba0 = Simd::set1(kInf), bf0 = ba0, ba1 = ba0, bf1 = ba0;
    auto step = [&](size_t k, D& ba, D& bf) __attribute__((always_inline)) {
      const D cand = Simd::add(Simd::sub(Simd::load_cost<T, Max>(row + k), Simd::load(v + k)), hv);
      const D dk = Simd::load(d + k);
      const D nd = Simd::min(cand, dk);
      Simd::store(d + k, nd);
      Simd::store_where(pred + k, Simd::lt(cand, dk), i);
      ba = Simd::min(ba, nd);
      if constexpr (Free) bf = Simd::min(bf, Simd::add(nd, Simd::load(fb + k)));
    };
    size_t k = b0;
    for (; k + 2 * kW <= b1; k += 2 * kW) {
      step(k, ba0, bf0);
      step(k + kW, ba1, bf1);
    }
    if (k < b1) step(k, ba0, bf0);
    r.merge(Simd::hmin(Simd::min(ba0, ba1)), Free ? Simd::hmin(Simd::min(bf0, bf1)) : kInf, b0);
  }
  if (mv < m) {
    double ba = kInf, bf = kInf;
    for (size_t k = mv; k < m; ++k) {
      const double cand = (conv<T, Max>(row[k]) - v[k]) + h;
      if (cand < d[k]) {
        d[k] = cand;
        pred[k] = i;
      }
      ba = smin(ba, d[k]);
      if constexpr (Free) bf = smin(bf, d[k] + fb[k]);
    }
    r.merge(ba, bf, mv);
  }
  return r;
}

// Row minimum of the reduced costs c(i, ·) − v, and over free columns; with Check, also throws
// BadValue on NaN or the forbidden-sign infinity.
template <typename T, bool Max, bool Check>
PassMin row_min(const T* __restrict row, const double* __restrict v, const double* __restrict fb,
                size_t m) {
  PassMin r;
  const size_t mv = m - m % kW;
  const D ninf = Simd::set1(-kInf);
  M bad = Simd::none();
  for (size_t b0 = 0; b0 < mv; b0 += kBlock) {
    const size_t b1 = std::min(mv, b0 + kBlock);
    D ba = Simd::set1(kInf), bf = ba;
    for (size_t k = b0; k < b1; k += kW) {
      const D x = Simd::load_cost<T, Max>(row + k);
      const D rc = Simd::sub(x, Simd::load(v + k));
      ba = Simd::min(ba, rc);
      bf = Simd::min(bf, Simd::add(rc, Simd::load(fb + k)));
      if constexpr (Check) bad |= Simd::invalid(x, ninf);
    }
    r.merge(Simd::hmin(ba), Simd::hmin(bf), b0);
  }
  bool any_bad = Check && Simd::any(bad);
  if (mv < m) {
    double ba = kInf, bf = kInf;
    for (size_t k = mv; k < m; ++k) {
      const double x = conv<T, Max>(row[k]);
      const double rc = x - v[k];
      ba = smin(ba, rc);
      bf = smin(bf, rc + fb[k]);
      if constexpr (Check) any_bad |= (x != x) || x == -kInf;
    }
    r.merge(ba, bf, mv);
  }
  if (Check && any_bad) throw BadValue{};
  return r;
}

// Smallest reduced cost of the row over [lo, hi), with the first block where it occurs.
template <typename T, bool Max>
void range_min(const T* __restrict row, const double* __restrict v, size_t lo, size_t hi,
               double& best, size_t& best_blk) {
  size_t b0 = lo;
  while (b0 + kW <= hi) {
    const size_t b1 = b0 + std::min(kBlock, (hi - b0) / kW * kW);
    D ba = Simd::set1(kInf);
    for (size_t k = b0; k < b1; k += kW) {
      ba = Simd::min(ba, Simd::sub(Simd::load_cost<T, Max>(row + k), Simd::load(v + k)));
    }
    const double s = Simd::hmin(ba);
    if (s < best) {
      best = s;
      best_blk = b0;
    }
    b0 = b1;
  }
  if (b0 < hi) {
    double ba = kInf;
    for (size_t k = b0; k < hi; ++k) ba = smin(ba, conv<T, Max>(row[k]) - v[k]);
    if (ba < best) {
      best = ba;
      best_blk = b0;
    }
  }
}

// Column minima, one row at a time: v = min(v, c(i, ·)), imin = i where it improved. Returns
// whether the row holds a NaN or a forbidden-sign infinity.
template <typename T, bool Max>
bool column_min(const T* __restrict row, double* __restrict v, int32_t* __restrict imin,
                int32_t i, size_t m) {
  const size_t mv = m - m % kW;
  const D ninf = Simd::set1(-kInf);
  M bad = Simd::none();
  for (size_t j = 0; j < mv; j += kW) {
    const D x = Simd::load_cost<T, Max>(row + j);
    const D vj = Simd::load(v + j);
    Simd::store(v + j, Simd::min(x, vj));
    Simd::store_where(imin + j, Simd::lt(x, vj), i);
    bad |= Simd::invalid(x, ninf);
  }
  bool any_bad = Simd::any(bad);
  for (size_t j = mv; j < m; ++j) {
    const double x = conv<T, Max>(row[j]);
    if (x < v[j]) {
      v[j] = x;
      imin[j] = i;
    }
    any_bad |= (x != x) || x == -kInf;
  }
  return any_bad;
}

}  // namespace llfc::lap
