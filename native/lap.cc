// Linear sum assignment by shortest augmenting paths (Jonker–Volgenant family).
//
// The solver works on an n × m row-major matrix with n ≤ m, read in place (a taller input is
// transposed into a buffer of its own type first; maximization negates on the fly), and keeps
// only column duals v, in float64: the dual of an assigned row i is implicit,
// u_i = c(i, x_i) − v(x_i), and the invariant is that every assigned row's edge has the
// smallest reduced cost c(i, ·) − v(·) of its row. For n < m, every unassigned column also
// keeps one common dual value, the largest of all (they start equal and only assigned
// columns' duals ever change, downwards), which makes the final assignment optimal for the
// rectangular problem too.
//
// Phases:
//  1. Start. Cold square: column reduction (each column offers itself to its minimum row)
//     and reduction transfer. Cold rectangular: a greedy pass giving each row its
//     row-minimum column when that column is free. Warm (square only): the same greedy pass
//     under the given duals, abandoned for a cold start when it assigns too few rows.
//  2. Augmenting row reduction under a work cap: it stops at the end of any window of scans
//     that assigned too few rows (uncapped, it is slow on A·Bᵀ costs).
//  3. A Dijkstra search for a shortest augmenting path from every remaining free row.
//
// The inner loop of every phase is one dense pass over a cost row, 8 doubles per vector
// (AVX-512 intrinsics, or GCC vector extensions elsewhere): it updates the tentative
// distances and finds the minimum over the live columns in the same pass, per block of
// kBlock columns, so that locating the minimum afterwards costs one block scan. Ties go to
// a free column (all-equal and integer costs would otherwise take quadratic numbers of
// passes): the free-column minimum is taken in the same pass while many columns are free,
// from the short list of free columns afterwards otherwise. Columns already scanned in a
// search leave the pass without a mask: their dual is set to −inf (every candidate through
// them is +inf) and their distance to +inf. Comparisons are exact; there is no epsilon
// anywhere, and every loop is bounded (a search scans each column at most once). The passes
// are in lap_passes.h, the SIMD layer they use in lap_simd.h; this file is the solver.
#include "lap.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

#include "lap_passes.h"

namespace llfc {
namespace {

using namespace lap;

// Augmenting row reduction: at most kArrScansPerRow·n row scans in all, and it stops at the
// end of any window of scans in which fewer than 1 in kArrMinYield scans assigned a row.
constexpr size_t kArrScansPerRow = 3;
constexpr size_t kArrMinYield = 4;
// Searches keep the free-column minimum inside the pass while more than 1 in kFreeListRatio
// columns is free, and check the (short) list of free columns after the pass otherwise.
constexpr size_t kFreeListRatio = 32;

template <typename T, bool Max>
class Solver {
 public:
  struct Infeasible {};
  // Set before Infeasible is thrown: the row (of the solved matrix) that cannot be assigned,
  // or the column that no row can take (square matrices only).
  int64_t infeasible_row = -1;
  int64_t infeasible_col = -1;
  LapResult::Stats stats;

  Solver(const T* c, size_t n, size_t m)
      : c_(c), n_(n), m_(m), v_(m, 0.0), d_(m), fb_(m, 0.0), pred_(m), row4col_(m, -1),
        col4row_(n, -1), free_pos_(m, -1) {}

  // Returns whether the warm start was used.
  bool solve(const double* warm, double warm_min_assigned) {
    bool warm_used = false;
    if (warm != nullptr) {
      std::copy(warm, warm + m_, v_.begin());
      warm_used = warm_start(warm_min_assigned);
      if (!warm_used) reset();
    }
    if (!warm_used) {
      if (n_ == m_) {
        column_reduction();
        reduction_transfer();
      } else {
        greedy();
      }
    }
    std::vector<int32_t> free_rows = free_row_list();
    stats.free_after_init = free_rows.size();
    if (!free_rows.empty()) augmenting_row_reduction(free_rows);
    free_rows = free_row_list();
    stats.free_after_arr = free_rows.size();
    if (!free_rows.empty()) {
      free_cols_.clear();
      for (size_t j = 0; j < m_; ++j) {
        if (row4col_[j] < 0) {
          free_pos_[j] = static_cast<int32_t>(free_cols_.size());
          free_cols_.push_back(static_cast<int32_t>(j));
        }
      }
      for (int32_t f : free_rows) augment(f);
    }
    return warm_used;
  }

  const std::vector<int32_t>& col4row() const { return col4row_; }
  const std::vector<int32_t>& row4col() const { return row4col_; }
  const std::vector<double>& duals() const { return v_; }

 private:
  const T* row(size_t i) const { return c_ + i * m_; }
  double cost(size_t i, size_t j) const { return conv<T, Max>(c_[i * m_ + j]); }

  void reset() {
    std::fill(v_.begin(), v_.end(), 0.0);
    std::fill(fb_.begin(), fb_.end(), 0.0);
    std::fill(row4col_.begin(), row4col_.end(), -1);
    std::fill(col4row_.begin(), col4row_.end(), -1);
  }

  void assign(int32_t i, size_t j) {
    row4col_[j] = i;
    col4row_[i] = static_cast<int32_t>(j);
    fb_[j] = kInf;
  }

  [[noreturn]] void fail_row(size_t i) {
    infeasible_row = static_cast<int64_t>(i);
    throw Infeasible{};
  }

  std::vector<int32_t> free_row_list() const {
    std::vector<int32_t> out;
    for (size_t i = 0; i < n_; ++i) {
      if (col4row_[i] < 0) out.push_back(static_cast<int32_t>(i));
    }
    return out;
  }

  // First column of the block starting at b0 whose reduced cost c(r, ·) − v is val (and that is
  // free, with free_only), other than `exclude`. Recomputes what the vector pass computed,
  // with the same operations, so == finds it.
  size_t find_rc(const T* r, size_t b0, double val, bool free_only,
                 size_t exclude = static_cast<size_t>(-1)) const {
    const size_t b1 = std::min(m_, b0 + kBlock);
    auto hit = [&](size_t k) {
      return k != exclude && (!free_only || fb_[k] == 0.0) && conv<T, Max>(r[k]) - v_[k] == val;
    };
    const D vv = Simd::set1(val), zero = Simd::set1(0.0);
    size_t k = b0;
    for (; k + kW <= b1; k += kW) {
      M e = Simd::eq(Simd::sub(Simd::load_cost<T, Max>(r + k), Simd::load(v_.data() + k)), vv);
      if (free_only) e = Simd::both(e, Simd::eq(Simd::load(fb_.data() + k), zero));
      if (!Simd::any(e)) continue;
      for (size_t l = k; l < k + kW; ++l) {
        if (hit(l)) return l;
      }
    }
    for (; k < b1; ++k) {
      if (hit(k)) return k;
    }
    return b1 - 1;  // not reached: the block holds the value
  }

  // v(j) = min_i c(i, j); each column offers itself to its minimum row, taken when that row is
  // still unassigned. Also validates every entry.
  void column_reduction() {
    std::fill(v_.begin(), v_.end(), kInf);
    int32_t* imin = pred_.data();
    bool bad = false;
    for (size_t i = 0; i < n_; ++i) {
      bad |= column_min<T, Max>(row(i), v_.data(), imin, static_cast<int32_t>(i), m_);
    }
    if (bad) throw BadValue{};
    for (size_t j = m_; j-- > 0;) {
      if (!(v_[j] < kInf)) {
        infeasible_col = static_cast<int64_t>(j);
        throw Infeasible{};
      }
      const int32_t i = imin[j];
      if (col4row_[i] < 0) assign(i, j);
    }
  }

  // For every assigned row, lower its column's dual until the row's second-best reduced cost
  // ties with its assigned one: the row keeps its column, other rows see that column dearer.
  void reduction_transfer() {
    for (size_t i = 0; i < n_; ++i) {
      const int32_t j1 = col4row_[i];
      if (j1 < 0) continue;
      const T* r = row(i);
      double mu = kInf;
      size_t blk = 0;
      range_min<T, Max>(r, v_.data(), 0, static_cast<size_t>(j1), mu, blk);
      range_min<T, Max>(r, v_.data(), static_cast<size_t>(j1) + 1, m_, mu, blk);
      const double r1 = cost(i, j1) - v_[j1];
      if (mu < kInf && mu > r1) v_[j1] -= mu - r1;
    }
  }

  // Each row takes its row-minimum column when a free column attains that minimum. Validates
  // every entry.
  void greedy() {
    for (size_t i = 0; i < n_; ++i) {
      const T* r = row(i);
      const PassMin p = row_min<T, Max, true>(r, v_.data(), fb_.data(), m_);
      if (!(p.all < kInf)) fail_row(i);
      if (p.free == p.all) assign(static_cast<int32_t>(i), find_rc(r, p.free_blk, p.free, true));
    }
  }

  // Square problems only. For n < m, optimality also needs every unassigned column to end
  // with one common, largest dual; a previous solve's duals break that as soon as one of its
  // assigned columns loses its row, and lifting such a column back cascades through the rows
  // that priced it (measured: it unassigned every row), so rectangular solves start cold.
  bool warm_start(double warm_min_assigned) {
    if (n_ != m_) return false;
    greedy();
    size_t assigned = 0;
    for (int32_t x : col4row_) assigned += x >= 0;
    return static_cast<double>(assigned) >= warm_min_assigned * static_cast<double>(n_);
  }

  // Augmenting row reduction (Jonker–Volgenant) over the free rows, under a work cap.
  void augmenting_row_reduction(const std::vector<int32_t>& free_rows) {
    std::vector<int32_t> queue(free_rows);
    const size_t budget = kArrScansPerRow * n_ + 16;
    const size_t window = std::max<size_t>(32, n_ / 16);
    size_t scans = 0, win_scans = 0, win_gain = 0;
    size_t head = 0;
    while (head < queue.size()) {
      int32_t i = queue[head++];
      while (i >= 0) {
        if (scans >= budget) return;
        if (win_scans >= window) {
          if (win_gain * kArrMinYield < win_scans) return;
          win_scans = win_gain = 0;
        }
        ++scans;
        ++win_scans;
        ++stats.arr_scans;
        const T* r = row(i);
        const PassMin p = row_min<T, Max, false>(r, v_.data(), fb_.data(), m_);
        if (!(p.all < kInf)) fail_row(i);
        if (p.free == p.all) {
          assign(i, find_rc(r, p.free_blk, p.free, true));
          ++win_gain;
          break;
        }
        const double u1 = p.all;
        const size_t j1 = find_rc(r, p.all_blk, u1, false);
        double u2 = kInf;
        size_t blk2 = 0;
        range_min<T, Max>(r, v_.data(), 0, j1, u2, blk2);
        range_min<T, Max>(r, v_.data(), j1 + 1, m_, u2, blk2);
        size_t j = j1;
        bool again = false;
        if (u1 < u2 && u2 < kInf) {
          v_[j1] -= u2 - u1;  // (i, j1) now ties with the row's second minimum
          again = true;
        } else if (u2 < kInf) {
          j = find_rc(r, blk2, u2, false, j1);  // a tie: the other column, also assigned
        }
        const int32_t i0 = row4col_[j];
        col4row_[i0] = -1;
        assign(i, j);
        if (again) {
          i = i0;  // the displaced row goes next, as in Jonker–Volgenant
        } else {
          queue.push_back(i0);
          i = -1;
        }
      }
    }
  }

  struct Scanned {
    size_t j;
    double v;
    double d;
  };

  // A free column at distance val, if any, among the listed free columns.
  size_t free_at(double val) const {
    for (int32_t j : free_cols_) {
      if (d_[j] == val) return static_cast<size_t>(j);
    }
    return m_;
  }

  // Shortest augmenting path from free row f (Dijkstra over columns), then dual update and
  // augmentation. Ties prefer a free column.
  void augment(int32_t f) {
    if (free_cols_.size() * kFreeListRatio > m_) {
      augment_impl<true>(f);
    } else {
      augment_impl<false>(f);
    }
  }

  template <bool InPass>
  void augment_impl(int32_t f) {
    scanned_.clear();
    double* v = v_.data();
    double* d = d_.data();
    int32_t* pred = pred_.data();
    const double* fb = fb_.data();
    PassMin p = relax_first<T, Max, InPass>(row(f), v, d, pred, fb, f, m_);
    ++stats.path_passes;
    size_t sink;
    double minv;
    for (;;) {
      if (!(p.all < kInf)) {
        for (const Scanned& s : scanned_) v[s.j] = s.v;
        fail_row(f);
      }
      if constexpr (InPass) {
        if (p.free == p.all) {
          sink = find_eq_free(p.free_blk, p.free);
          minv = p.free;
          break;
        }
      } else {
        sink = free_at(p.all);
        if (sink < m_) {
          minv = p.all;
          break;
        }
      }
      const size_t j = find_eq(d, p.all_blk, std::min(m_, p.all_blk + kBlock), p.all);
      const double vj = v[j], dj = d[j];
      scanned_.push_back({j, vj, dj});
      v[j] = -kInf;  // out of every later pass: candidates through it are +inf
      d[j] = kInf;
      const int32_t i = row4col_[j];
      const double h = dj - (cost(i, j) - vj);
      p = relax<T, Max, InPass>(row(i), h, i, v, d, pred, fb, m_);
      ++stats.path_passes;
    }
    for (const Scanned& s : scanned_) v[s.j] = s.v + (s.d - minv);
    size_t j = sink;
    for (;;) {
      const int32_t i = pred[j];
      row4col_[j] = i;
      const int32_t prev = col4row_[i];
      col4row_[i] = static_cast<int32_t>(j);
      if (i == f) break;
      j = static_cast<size_t>(prev);
    }
    fb_[sink] = kInf;
    // Take the sink off the free list.
    const int32_t pos = free_pos_[sink];
    const int32_t last = free_cols_.back();
    free_cols_[pos] = last;
    free_pos_[last] = pos;
    free_cols_.pop_back();
    free_pos_[sink] = -1;
  }

  // First free column of the block starting at b0 at distance val.
  size_t find_eq_free(size_t b0, double val) const {
    const size_t b1 = std::min(m_, b0 + kBlock);
    const D vv = Simd::set1(val), zero = Simd::set1(0.0);
    size_t k = b0;
    for (; k + kW <= b1; k += kW) {
      const M e = Simd::both(Simd::eq(Simd::load(d_.data() + k), vv),
                             Simd::eq(Simd::load(fb_.data() + k), zero));
      if (Simd::any(e)) return k + static_cast<size_t>(Simd::first(e));
    }
    for (; k < b1; ++k) {
      if (fb_[k] == 0.0 && d_[k] == val) return k;
    }
    return b1 - 1;  // not reached
  }

  const T* c_;
  size_t n_, m_;
  std::vector<double> v_, d_, fb_;
  std::vector<int32_t> pred_, row4col_, col4row_;
  std::vector<int32_t> free_cols_, free_pos_;
  std::vector<Scanned> scanned_;
};

template <typename T>
std::vector<T> transpose(const T* a, size_t rows, size_t cols) {
  std::vector<T> t(rows * cols);
  constexpr size_t B = 32;
  for (size_t i0 = 0; i0 < rows; i0 += B) {
    const size_t i1 = std::min(rows, i0 + B);
    for (size_t j0 = 0; j0 < cols; j0 += B) {
      const size_t j1 = std::min(cols, j0 + B);
      for (size_t i = i0; i < i1; ++i) {
        for (size_t j = j0; j < j1; ++j) t[j * rows + i] = a[i * cols + j];
      }
    }
  }
  return t;
}

std::string position(size_t r, size_t c) {
  return "cost[" + std::to_string(r) + ", " + std::to_string(c) + "]";
}

template <typename T>
[[noreturn]] void throw_bad_value(const T* cost, size_t rows, size_t cols, bool maximize) {
  const double bad_inf = maximize ? kInf : -kInf;
  for (size_t i = 0; i < rows; ++i) {
    for (size_t j = 0; j < cols; ++j) {
      const double x = static_cast<double>(cost[i * cols + j]);
      if (std::isnan(x)) {
        throw LapError(LapError::Kind::kNaN,
                       position(i, j) + " (flat index " + std::to_string(i * cols + j) + ") is NaN",
                       static_cast<int64_t>(i), static_cast<int64_t>(j));
      }
      if (x == bad_inf) {
        throw LapError(LapError::Kind::kBadInfinity,
                       position(i, j) + " (flat index " + std::to_string(i * cols + j) + ") is " +
                           (maximize ? "+inf" : "-inf") + ": only " +
                           (maximize ? "-inf" : "+inf") + ", marking a forbidden pair, is allowed when " +
                           (maximize ? "maximizing" : "minimizing"),
                       static_cast<int64_t>(i), static_cast<int64_t>(j));
      }
    }
  }
  throw LapError(LapError::Kind::kNaN, "invalid cost entry");  // unreachable
}

template <typename T, bool Max>
bool run(const T* c, size_t n, size_t m, const LapOptions& o, bool transposed,
         std::vector<int32_t>& col4row, std::vector<int32_t>& row4col, std::vector<double>& duals,
         LapResult::Stats& stats) {
  Solver<T, Max> solver(c, n, m);
  bool warm_used = false;
  try {
    warm_used = solver.solve(o.warm_col_duals, o.warm_min_assigned);
  } catch (const typename Solver<T, Max>::Infeasible&) {
    const char* forbidden = Max ? "-inf" : "+inf";
    if (solver.infeasible_col >= 0) {
      const int64_t j = solver.infeasible_col;
      throw LapError(LapError::Kind::kInfeasible,
                     std::string("infeasible cost matrix: every entry of ") +
                         (transposed ? "row " : "column ") + std::to_string(j) + " is " +
                         forbidden + " (forbidden), so no complete assignment exists",
                     transposed ? j : -1, transposed ? -1 : j);
    }
    const int64_t i = solver.infeasible_row;
    throw LapError(LapError::Kind::kInfeasible,
                   std::string("infeasible cost matrix: the forbidden (") + forbidden +
                       ") entries leave no complete assignment (" +
                       (transposed ? "column " : "row ") + std::to_string(i) +
                       " cannot be assigned)",
                   transposed ? -1 : i, transposed ? i : -1);
  }
  col4row = solver.col4row();
  row4col = solver.row4col();
  duals = solver.duals();
  stats = solver.stats;
  return warm_used;
}

template <typename T>
LapResult solve(const T* cost, size_t rows, size_t cols, const LapOptions& o) {
  constexpr size_t kMaxSide = static_cast<size_t>(std::numeric_limits<int32_t>::max());
  if (rows > kMaxSide || cols > kMaxSide) {
    throw LapError(LapError::Kind::kInvalidArgument, "rows and cols must be below 2^31");
  }
  if (cols != 0 && rows > std::numeric_limits<size_t>::max() / cols) {
    throw LapError(LapError::Kind::kInvalidArgument, "rows·cols overflows");
  }
  if (!(o.warm_min_assigned >= 0.0 && o.warm_min_assigned <= 1.0)) {
    throw LapError(LapError::Kind::kInvalidArgument, "warm_min_assigned must be in [0, 1]");
  }
  if (rows * cols != 0 && cost == nullptr) {
    throw LapError(LapError::Kind::kInvalidArgument, "cost is null");
  }
  const size_t big = std::max(rows, cols);
  if (o.warm_col_duals != nullptr) {
    for (size_t k = 0; k < big; ++k) {
      if (!std::isfinite(o.warm_col_duals[k])) {
        throw LapError(LapError::Kind::kInvalidArgument,
                       "warm-start duals[" + std::to_string(k) + "] is not finite");
      }
    }
  }
  LapResult res;
  if (rows == 0 || cols == 0) {
    res.col_duals.assign(big, 0.0);
    if (o.warm_col_duals != nullptr) {
      std::copy(o.warm_col_duals, o.warm_col_duals + big, res.col_duals.begin());
    }
    return res;
  }
  const bool transposed = rows > cols;
  std::vector<T> tbuf;
  const T* c = cost;
  size_t n = rows, m = cols;
  if (transposed) {
    tbuf = transpose(cost, rows, cols);
    c = tbuf.data();
    n = cols;
    m = rows;
  }
  std::vector<int32_t> col4row, row4col;
  try {
    res.warm_started =
        o.maximize ? run<T, true>(c, n, m, o, transposed, col4row, row4col, res.col_duals, res.stats)
                   : run<T, false>(c, n, m, o, transposed, col4row, row4col, res.col_duals, res.stats);
  } catch (const BadValue&) {
    throw_bad_value(cost, rows, cols, o.maximize);
  }
  const size_t k = n;  // pairs
  res.row_ind.resize(k);
  res.col_ind.resize(k);
  double total = 0.0;
  if (!transposed) {
    for (size_t i = 0; i < n; ++i) {
      res.row_ind[i] = static_cast<int32_t>(i);
      res.col_ind[i] = col4row[i];
      total += static_cast<double>(cost[i * cols + static_cast<size_t>(col4row[i])]);
    }
  } else {
    size_t p = 0;
    for (size_t r = 0; r < rows; ++r) {  // solved columns are the caller's rows
      const int32_t cc = row4col[r];
      if (cc < 0) continue;
      res.row_ind[p] = static_cast<int32_t>(r);
      res.col_ind[p] = cc;
      total += static_cast<double>(cost[r * cols + static_cast<size_t>(cc)]);
      ++p;
    }
  }
  res.total = total;
  return res;
}

}  // namespace

LapResult linear_sum_assignment(const float* cost, size_t rows, size_t cols,
                                const LapOptions& options) {
  return solve(cost, rows, cols, options);
}

LapResult linear_sum_assignment(const double* cost, size_t rows, size_t cols,
                                const LapOptions& options) {
  return solve(cost, rows, cols, options);
}

}  // namespace llfc
