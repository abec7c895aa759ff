#include "align.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

// Eigen 3.4's AVX-512 code trips GCC 12's -Wmaybe-uninitialized and -Wunused-variable inside
// Eigen's own headers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wunused-variable"
#include <Eigen/Core>

namespace llfc {
namespace {

// Source offsets of every index tuple over axes [from, to), row-major, through the maps.
std::vector<size_t> offsets(const size_t* dims, const size_t* strides, const int32_t* const* maps, size_t from, size_t to) {
  std::vector<size_t> out(1, 0);
  for (size_t k = from; k < to; ++k) {
    std::vector<size_t> next;
    next.reserve(out.size() * dims[k]);
    for (size_t base : out) {
      for (size_t i = 0; i < dims[k]; ++i) {
        const size_t s = maps && maps[k] ? static_cast<size_t>(maps[k][i]) : i;
        next.push_back(base + s * strides[k]);
      }
    }
    out.swap(next);
  }
  return out;
}

std::vector<size_t> strides_of(const size_t* dims, size_t rank) {
  std::vector<size_t> s(rank, 1);
  for (size_t k = rank; k-- > 1;) s[k - 1] = s[k] * dims[k];
  return s;
}

// The last mapped axis + 1 (0 when none is mapped).
size_t mapped_prefix(size_t rank, const int32_t* const* maps) {
  size_t last = 0;
  for (size_t k = 0; k < rank; ++k)
    if (maps && maps[k]) last = k + 1;
  return last;
}

}  // namespace

void gather_axes(const float* src, float* out, const size_t* dims, size_t rank, const int32_t* const* maps) {
  const auto strides = strides_of(dims, rank);
  size_t total = 1;
  for (size_t k = 0; k < rank; ++k) total *= dims[k];
  if (total == 0) return;
  const size_t prefix = mapped_prefix(rank, maps);
  if (prefix == 0) {
    std::memcpy(out, src, total * sizeof(float));
    return;
  }
  const size_t block = strides[prefix - 1];
  // Outer offsets over the mapped prefix except its last axis; the last mapped axis is looped.
  const auto outer = offsets(dims, strides.data(), maps, 0, prefix - 1);
  const size_t last = prefix - 1;
  const int32_t* map = maps[last];
  float* o = out;
  for (size_t base : outer) {
    for (size_t i = 0; i < dims[last]; ++i) {
      const float* s = src + base + static_cast<size_t>(map[i]) * strides[last];
      if (block == 1) {
        *o++ = *s;
      } else {
        std::memcpy(o, s, block * sizeof(float));
        o += block;
      }
    }
  }
}

double gathered_dot(const float* a, const float* b, const size_t* dims, size_t rank, const int32_t* const* maps) {
  const auto strides = strides_of(dims, rank);
  size_t total = 1;
  for (size_t k = 0; k < rank; ++k) total *= dims[k];
  if (total == 0) return 0.0;
  const size_t prefix = mapped_prefix(rank, maps);
  double sum = 0.0;
  if (prefix == 0) {
    for (size_t i = 0; i < total; ++i) sum += static_cast<double>(a[i]) * static_cast<double>(b[i]);
    return sum;
  }
  const size_t block = strides[prefix - 1];
  const auto outer = offsets(dims, strides.data(), maps, 0, prefix - 1);
  const size_t last = prefix - 1;
  const int32_t* map = maps[last];
  const float* pa = a;
  for (size_t base : outer) {
    for (size_t i = 0; i < dims[last]; ++i) {
      const float* pb = b + base + static_cast<size_t>(map[i]) * strides[last];
      double s = 0.0;
      for (size_t t = 0; t < block; ++t) s += static_cast<double>(pa[t]) * static_cast<double>(pb[t]);
      sum += s;
      pa += block;
    }
  }
  return sum;
}

void extract_units(const float* src, float* out, const size_t* dims, size_t rank, const int32_t* const* maps, size_t axis,
                   size_t offset, size_t count, size_t inner) {
  size_t total = 1;
  for (size_t k = 0; k < rank; ++k) total *= dims[k];
  // Nothing to copy: an empty tensor must not loop (or allocate offsets) over its other axes.
  if (total == 0 || count == 0 || inner == 0) return;
  const auto strides = strides_of(dims, rank);
  const auto outer = offsets(dims, strides.data(), maps, 0, axis);
  bool after_identity = true;
  for (size_t k = axis + 1; k < rank; ++k)
    if (maps && maps[k]) after_identity = false;
  const size_t after = strides[axis];
  std::vector<size_t> after_offsets;
  if (!after_identity) after_offsets = offsets(dims, strides.data(), maps, axis + 1, rank);
  // Unit c at outer position k goes to out[(c * outer.size() + k) * inner * after]. When the axis
  // is an inner one (a [in, out] weight's output units), the units of one outer position are a
  // short row of the source: the outer positions are visited in chunks whose rows stay in cache
  // while every unit reads from them, instead of one pass over the whole tensor per unit.
  const size_t per = inner * after;
  const size_t chunk = std::max<size_t>(1, (size_t{1} << 15) / (count * per));
  for (size_t k0 = 0; k0 < outer.size(); k0 += chunk) {
    const size_t k1 = std::min(outer.size(), k0 + chunk);
    for (size_t c = 0; c < count; ++c) {
      float* o = out + (c * outer.size() + k0) * per;
      for (size_t k = k0; k < k1; ++k) {
        for (size_t r = 0; r < inner; ++r) {
          const float* s = src + outer[k] + (offset + c * inner + r) * strides[axis];
          if (!after_identity) {
            for (size_t t = 0; t < after; ++t) o[t] = s[after_offsets[t]];
          } else if (after == 1) {
            *o = *s;
          } else {
            std::memcpy(o, s, after * sizeof(float));
          }
          o += after;
        }
      }
    }
  }
}

void add_to_double(double* dst, const float* src, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] += static_cast<double>(src[i]);
}

size_t accumulate_cross(const float* za, const float* zb, size_t outer, size_t len, size_t after, size_t offset, size_t count,
                        size_t inner, double* cross, double* sums, int threads) {
  using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  // No samples: nothing to add, and no loop over the other, possibly huge, sizes.
  if (count == 0 || outer == 0 || inner == 0 || after == 0) return 0;
  // Samples are gathered in column chunks of `width` so that memory stays bounded.
  const size_t width = std::max<size_t>(64, std::min<size_t>(4096, (size_t{1} << 21) / count));
  RowMajor A(count, width), B(count, width);
  Eigen::Map<RowMajor> C(cross, static_cast<Eigen::Index>(count), static_cast<Eigen::Index>(count));
  double* sum_a = sums;
  double* sum_b = sums + count;
  double* sq_a = sums + 2 * count;
  double* sq_b = sums + 3 * count;
  size_t col = 0;
  auto flush = [&]() {
    if (col == 0) return;
    const auto a = A.leftCols(static_cast<Eigen::Index>(col));
    const auto b = B.leftCols(static_cast<Eigen::Index>(col));
    C.noalias() += a * b.transpose();
    for (size_t c = 0; c < count; ++c) {
      const auto ra = a.row(static_cast<Eigen::Index>(c));
      const auto rb = b.row(static_cast<Eigen::Index>(c));
      sum_a[c] += ra.sum();
      sum_b[c] += rb.sum();
      sq_a[c] += ra.squaredNorm();
      sq_b[c] += rb.squaredNorm();
    }
    col = 0;
  };
  const int previous = Eigen::nbThreads();
  Eigen::setNbThreads(threads > 0 ? threads : omp_get_max_threads());
  for (size_t o = 0; o < outer; ++o) {
    for (size_t r = 0; r < inner; ++r) {
      size_t t = 0;
      while (t < after) {
        const size_t n = std::min(after - t, width - col);
        for (size_t c = 0; c < count; ++c) {
          const size_t at = (o * len + offset + c * inner + r) * after + t;
          double* da = A.data() + c * width + col;
          double* db = B.data() + c * width + col;
          for (size_t q = 0; q < n; ++q) {
            da[q] = za[at + q];
            db[q] = zb[at + q];
          }
        }
        col += n;
        t += n;
        if (col == width) flush();
      }
    }
  }
  flush();
  Eigen::setNbThreads(previous);
  return outer * inner * after;
}

}  // namespace llfc

#pragma GCC diagnostic pop
