// Dense rectangular linear sum assignment (the problem of scipy.optimize.linear_sum_assignment):
// exact optimum by shortest augmenting paths (Jonker–Volgenant family) on the cost matrix read
// in place, float32 or float64, minimize or maximize.
//
// Conventions, as in scipy: the matrix is row-major rows × cols; the smaller side is assigned
// completely; +inf (−inf when maximizing) marks a forbidden pair; NaN, and −inf when minimizing
// (+inf when maximizing), are invalid. Distances and duals are float64 whatever the input type.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace llfc {

// Every failure of linear_sum_assignment: the kind says which, row/col name the entry (−1 when
// the failure has no position).
class LapError : public std::invalid_argument {
 public:
  enum class Kind {
    kNaN,             // a NaN cost at (row, col)
    kBadInfinity,     // −inf when minimizing / +inf when maximizing at (row, col)
    kInfeasible,      // the forbidden pairs leave no complete assignment
    kInvalidArgument  // sizes, warm-start duals
  };
  LapError(Kind kind, const std::string& message, int64_t row = -1, int64_t col = -1)
      : std::invalid_argument(message), kind_(kind), row_(row), col_(col) {}
  Kind kind() const { return kind_; }
  int64_t row() const { return row_; }
  int64_t col() const { return col_; }

 private:
  Kind kind_;
  int64_t row_;
  int64_t col_;
};

struct LapResult {
  // row_ind[k] is assigned col_ind[k]; row_ind ascending; min(rows, cols) pairs.
  std::vector<int32_t> row_ind;
  std::vector<int32_t> col_ind;
  // Σ cost[row_ind[k], col_ind[k]] in float64, in the caller's sign.
  double total = 0.0;
  // Warm-start state for a later solve of a matrix of the same shape and the same `maximize`:
  // the duals of the larger side (length max(rows, cols); the column duals when rows ≤ cols).
  std::vector<double> col_duals;
  // Whether the warm start was used (false when none was given or it fell back to a cold solve).
  bool warm_started = false;
  // Work counters, for benchmarks and tests.
  struct Stats {
    size_t free_after_init = 0;  // rows left unassigned by column reduction / greedy pass
    size_t arr_scans = 0;        // row scans of the augmenting row reduction
    size_t free_after_arr = 0;   // rows left for the shortest augmenting paths
    size_t path_passes = 0;      // dense passes over a row in the shortest-path searches
  } stats;
};

struct LapOptions {
  bool maximize = false;
  // Duals from a previous LapResult::col_duals (length max(rows, cols), finite), or nullptr.
  // Used for square matrices; a rectangular solve checks them and starts cold.
  const double* warm_col_duals = nullptr;
  // A warm start that leaves fewer than this fraction of rows assigned falls back to cold.
  double warm_min_assigned = 0.7;
};

// Throws LapError (a std::invalid_argument) on invalid input or infeasibility, std::bad_alloc
// when out of memory. rows·cols entries are read from `cost`; it is never written.
LapResult linear_sum_assignment(const float* cost, size_t rows, size_t cols,
                                const LapOptions& options);
LapResult linear_sum_assignment(const double* cost, size_t rows, size_t cols,
                                const LapOptions& options);

inline LapResult linear_sum_assignment(const float* cost, size_t rows, size_t cols,
                                       bool maximize = false,
                                       const double* warm_col_duals = nullptr) {
  LapOptions o;
  o.maximize = maximize;
  o.warm_col_duals = warm_col_duals;
  return linear_sum_assignment(cost, rows, cols, o);
}
inline LapResult linear_sum_assignment(const double* cost, size_t rows, size_t cols,
                                       bool maximize = false,
                                       const double* warm_col_duals = nullptr) {
  LapOptions o;
  o.maximize = maximize;
  o.warm_col_duals = warm_col_duals;
  return linear_sum_assignment(cost, rows, cols, o);
}

}  // namespace llfc
