// Host emulation test of the CUDA backend: device.cc (chunking, masks, resident ranges,
// uploads, downloads, the final reductions, the cuBLAS call) and the kernel bodies of
// kernel_bodies.h, run against the fake runtime and fake cuBLAS, compared with the CPU kernels.
// What it cannot check: the real GPU (scheduling, warp shuffles, the driver, real cuBLAS).
// Built and run by run.sh; exits non-zero on the first failed expectation.
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cuda/device.h"
#include "fake_runtime.h"
#include "feature_stats.h"
#include "interpolate.h"

namespace {

int g_checks = 0;

#define EXPECT(cond, ...)                                                  \
  do {                                                                     \
    ++g_checks;                                                            \
    if (!(cond)) {                                                         \
      std::fprintf(stderr, "%s:%d: expected %s: ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                   \
      std::fprintf(stderr, "\n");                                          \
      std::exit(1);                                                        \
    }                                                                      \
  } while (0)

std::mt19937_64 rng(12345);

std::vector<float> random_floats(size_t n, float scale = 3.0f, bool specials = true) {
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = normal(rng);
  // Values that stress rounding: zeros of both signs, tiny, huge, subnormal.
  const float special[] = {0.0f, -0.0f, 1e-38f, -3e38f, 1.4e-45f, 16777217.0f, 0.1f};
  for (size_t i = 0; specials && i < n && i < 7; ++i) v[(i * 7919) % n] = special[i];
  return v;
}

std::vector<double> random_alphas(size_t k) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> v(k);
  for (auto& x : v) x = u(rng);
  if (k > 0) v[0] = 0.0;
  if (k > 1) v[1] = 1.0;
  if (k > 2) v[2] = 0.5;
  if (k > 3) v[3] = 1.0 / 3.0;
  return v;
}

// Random segments tiling [0, n): lengths 0…max, random kinds.
std::vector<llfc::Segment> random_segments(size_t n, size_t max_len) {
  std::vector<llfc::Segment> s;
  std::uniform_int_distribution<size_t> len(0, max_len);
  std::bernoulli_distribution coin(0.5);
  size_t at = 0;
  while (at < n) {
    const size_t l = std::min(n - at, len(rng));
    s.push_back({at, l, coin(rng)});
    at += l;
  }
  return s;
}

void compare_interpolation(const float* a, const float* b, size_t n, const std::vector<double>& alphas,
                           const std::vector<llfc::Segment>* segments, const float* base,
                           const char* what) {
  const size_t k = alphas.size();
  std::vector<std::vector<float>> cpu(k, std::vector<float>(n, 7.0f)), gpu(k, std::vector<float>(n, 9.0f));
  std::vector<float*> cpu_p, gpu_p;
  for (size_t i = 0; i < k; ++i) {
    cpu_p.push_back(cpu[i].data());
    gpu_p.push_back(gpu[i].data());
  }
  const llfc::Segment* seg = segments && !segments->empty() ? segments->data() : nullptr;
  const size_t nseg = seg ? segments->size() : 0;
  llfc::interpolate(a, b, n, alphas.data(), k, cpu_p.data(), seg, nseg, base);
  llfc::cuda::interpolate(a, b, n, alphas.data(), k, gpu_p.data(), seg, nseg, base);
  for (size_t i = 0; i < k; ++i) {
    size_t first_diff = n;
    for (size_t j = 0; j < n; ++j) {
      if (std::memcmp(&cpu[i][j], &gpu[i][j], 4) != 0) {
        first_diff = j;
        break;
      }
    }
    EXPECT(first_diff == n, "%s: n=%zu alpha[%zu]=%.17g differs at %zu: cpu %a gpu %a", what, n, i, alphas[i],
           first_diff, first_diff < n ? cpu[i][first_diff] : 0.0f, first_diff < n ? gpu[i][first_diff] : 0.0f);
  }
}

bool close(double x, double y, double rel, double abs_floor) {
  if (std::isnan(x) || std::isnan(y)) return std::isnan(x) && std::isnan(y);
  return std::fabs(x - y) <= rel * std::max(std::fabs(x), std::fabs(y)) + abs_floor;
}

void test_interpolation() {
  const size_t sizes[] = {1, 3, 4, 5, 1023, 1024, 1025, 4099, 70001};
  const size_t chunks[] = {1024, 5000, size_t(1) << 26};
  for (size_t chunk : chunks) {
    llfc::cuda::set_chunk_elements(chunk);
    for (size_t n : sizes) {
      for (size_t k : {size_t(1), size_t(2), size_t(5), size_t(12)}) {
        auto a = random_floats(n), b = random_floats(n, 100.0f), base = random_floats(n);
        auto alphas = random_alphas(k);
        compare_interpolation(a.data(), b.data(), n, alphas, nullptr, nullptr, "plain");
        auto segments = random_segments(n, std::max<size_t>(1, n / 7));
        compare_interpolation(a.data(), b.data(), n, alphas, &segments, base.data(), "masked");
        std::vector<llfc::Segment> one_copy = {{0, n, false}};
        compare_interpolation(a.data(), b.data(), n, alphas, &one_copy, base.data(), "all copied");
        std::vector<llfc::Segment> one_interp = {{0, 0, false}, {0, n, true}};
        compare_interpolation(a.data(), b.data(), n, alphas, &one_interp, base.data(), "all interpolated");
        // Unaligned views (scalar path) of the same buffers.
        if (n > 2) {
          compare_interpolation(a.data() + 1, b.data() + 2, n - 2, alphas, nullptr, nullptr, "unaligned");
        }
      }
    }
  }
  llfc::cuda::set_chunk_elements(size_t(1) << 26);
}

void test_resident() {
  llfc::cuda::set_chunk_elements(6000);  // several chunks
  const size_t n = 20011;
  auto a = random_floats(n), b = random_floats(n), base = random_floats(n);
  auto alphas = random_alphas(4);
  EXPECT(llfc::cuda::make_resident(a.data(), n), "a new range");
  EXPECT(llfc::cuda::make_resident(b.data(), n), "a new range");
  EXPECT(llfc::cuda::is_resident(a.data()) && llfc::cuda::resident_bytes() == 2 * n * 4, "%zu", llfc::cuda::resident_bytes());

  fake::counters().h2d_bytes = 0;
  compare_interpolation(a.data(), b.data(), n, alphas, nullptr, nullptr, "resident");
  // Only the weights are uploaded: a and b come from the resident copies.
  EXPECT(fake::counters().h2d_bytes < 1024, "uploaded %zu bytes for resident arenas", fake::counters().h2d_bytes);

  // A tensor inside a resident arena, unaligned: read from the arena's copy.
  fake::counters().h2d_bytes = 0;
  compare_interpolation(a.data() + 3, b.data() + 3, 777, alphas, nullptr, nullptr, "inside resident");
  EXPECT(fake::counters().h2d_bytes < 1024, "uploaded %zu bytes", fake::counters().h2d_bytes);

  // Masked, base not resident: only the base is uploaded.
  auto segments = random_segments(n, 500);
  fake::counters().h2d_bytes = 0;
  compare_interpolation(a.data(), b.data(), n, alphas, &segments, base.data(), "resident masked");
  EXPECT(fake::counters().h2d_bytes <= n * 4 + 64 * 1024, "uploaded %zu bytes", fake::counters().h2d_bytes);

  // The device copy is a snapshot until refreshed.
  const std::vector<float> old_a = a;
  for (size_t i = 100; i < 200; ++i) a[i] += 1.0f;
  {
    std::vector<float> out(n);
    float* o = out.data();
    llfc::cuda::interpolate(a.data(), b.data(), n, alphas.data(), 1, &o, nullptr, 0, nullptr);
    std::vector<float> expected(n);
    float* e = expected.data();
    llfc::interpolate(old_a.data(), b.data(), n, alphas.data(), 1, &e, nullptr, 0, nullptr);
    EXPECT(std::memcmp(out.data(), expected.data(), n * 4) == 0, "stale copy used until refreshed");
  }
  EXPECT(!llfc::cuda::make_resident(a.data() + 100, 100), "refreshing a part is not a new range");
  compare_interpolation(a.data(), b.data(), n, alphas, nullptr, nullptr, "refreshed");

  // A range overlapping a resident one replaces it.
  EXPECT(llfc::cuda::make_resident(a.data() + 10, n - 20) == false, "contained: refresh");
  std::vector<float> big(2 * n);
  EXPECT(llfc::cuda::make_resident(big.data(), n), "new");
  EXPECT(llfc::cuda::make_resident(big.data() + n / 2, n), "overlapping: replaced");
  EXPECT(!llfc::cuda::is_resident(big.data()) && llfc::cuda::is_resident(big.data() + n / 2), "replaced");

  EXPECT(llfc::cuda::release(a.data()), "released");
  EXPECT(!llfc::cuda::release(a.data()), "already released");
  compare_interpolation(a.data(), b.data(), n, alphas, nullptr, nullptr, "after release");
  EXPECT(llfc::cuda::release_all() == 2, "b and big remained");
  EXPECT(llfc::cuda::resident_bytes() == 0 && fake::live_allocations() == 0, "all freed: %zu live",
         fake::live_allocations());
  llfc::cuda::set_chunk_elements(size_t(1) << 26);
}

void compare_cosine(const std::vector<const float*>& as, const std::vector<double>& alphas, const float* fa,
                    const float* fb, size_t n, size_t d, const char* what) {
  const size_t slots = alphas.size() * llfc::kCosineSlots;
  std::vector<double> cpu(slots, 0.25), gpu(slots, 0.25);
  llfc::cosine_accumulate(as.data(), alphas.data(), alphas.size(), fa, fb, n, d, cpu.data());
  llfc::cuda::cosine_accumulate(as.data(), alphas.data(), alphas.size(), fa, fb, n, d, gpu.data());
  for (size_t s = 0; s < slots; ++s) {
    // The distance is 1 − cos: near a = m its absolute error is ~1e-16 per sample.
    const double floor = (s % llfc::kCosineSlots == llfc::kSumDistance ||
                          s % llfc::kCosineSlots == llfc::kSumDistanceSq)
                             ? 1e-13 * static_cast<double>(n)
                             : 0.0;
    EXPECT(close(cpu[s], gpu[s], 1e-12, floor), "%s: n=%zu d=%zu slot %zu: cpu %.17g gpu %.17g", what, n, d, s,
           cpu[s], gpu[s]);
  }
}

void test_cosine() {
  for (size_t chunk : {size_t(1024), size_t(1) << 26}) {
    llfc::cuda::set_chunk_elements(chunk);
    for (size_t n : {1, 2, 7, 64}) {
      for (size_t d : {1, 5, 255, 256, 1000}) {
        for (size_t k : {1, 3, 11}) {
          auto fa = random_floats(n * d), fb = random_floats(n * d);
          std::vector<std::vector<float>> a(k);
          std::vector<const float*> ap;
          for (auto& x : a) {
            x = random_floats(n * d);
            ap.push_back(x.data());
          }
          if (n > 1) {  // a sample of zeros is skipped
            std::fill(a[0].begin() + d, a[0].begin() + 2 * d, 0.0f);
            std::fill(fa.begin() + d, fa.begin() + 2 * d, 0.0f);
            std::fill(fb.begin() + d, fb.begin() + 2 * d, 0.0f);
          }
          compare_cosine(ap, random_alphas(k), fa.data(), fb.data(), n, d, "cosine");
          compare_cosine({fa.data()}, {1.0}, fa.data(), fb.data(), n, d, "baseline");
          // a = m exactly at α = 0: distances ~0.
          compare_cosine({fa.data(), fb.data()}, {0.0, 1.0}, fa.data(), fb.data(), n, d, "endpoints");
        }
      }
    }
  }
  // Resident features.
  const size_t n = 50, d = 300;
  auto fa = random_floats(n * d), fb = random_floats(n * d), a = random_floats(n * d);
  llfc::cuda::make_resident(fa.data(), n * d);
  llfc::cuda::make_resident(fb.data(), n * d);
  fake::counters().h2d_bytes = 0;
  compare_cosine({a.data()}, {0.3}, fa.data(), fb.data(), n, d, "resident");
  EXPECT(fake::counters().h2d_bytes <= n * d * 4 + 1024, "uploaded %zu bytes", fake::counters().h2d_bytes);
  llfc::cuda::release_all();
  llfc::cuda::set_chunk_elements(size_t(1) << 26);
}

void test_sum_squares() {
  for (size_t chunk : {size_t(1024), size_t(1) << 26}) {
    llfc::cuda::set_chunk_elements(chunk);
    for (size_t n : {1, 3, 2047, 2048, 2049, 100000, 3000001}) {
      auto x = random_floats(n), y = random_floats(n);
      double cpu[3] = {1, 2, 3}, gpu[3] = {1, 2, 3};
      llfc::sum_squares(x.data(), y.data(), n, cpu);
      llfc::cuda::sum_squares(x.data(), y.data(), n, gpu);
      for (int i = 0; i < 3; ++i) {
        EXPECT(close(cpu[i], gpu[i], 1e-12, 0), "n=%zu chunk=%zu [%d] cpu %.17g gpu %.17g", n, chunk, i, cpu[i], gpu[i]);
      }
    }
  }
  llfc::cuda::set_chunk_elements(size_t(1) << 26);
}

void test_gemm() {
  std::string error;
  const std::string lib = llfc::cuda::cublas(&error);
  EXPECT(!lib.empty(), "the fake cuBLAS loads (LLFC_CUBLAS): %s", error.c_str());
  for (auto [n, m, k] : std::vector<std::array<size_t, 3>>{{1, 1, 1}, {3, 5, 7}, {64, 17, 33}, {10, 1, 100}, {1, 9, 4}}) {
    auto a = random_floats(n * k, 1.0f, false), b = random_floats(m * k, 1.0f, false);
    std::vector<float> c(n * m, 123.0f);
    EXPECT(llfc::cuda::gemm_abt(a.data(), b.data(), c.data(), n, m, k), "ran");
    for (size_t i = 0; i < n; ++i) {
      for (size_t j = 0; j < m; ++j) {
        double ref = 0, mag = 0;
        for (size_t l = 0; l < k; ++l) {
          ref += static_cast<double>(a[i * k + l]) * b[j * k + l];
          mag += std::fabs(static_cast<double>(a[i * k + l]) * b[j * k + l]);
        }
        EXPECT(std::fabs(c[i * m + j] - ref) <= 1e-5 * mag + 1e-30, "gemm %zux%zux%zu c[%zu,%zu] = %g, expected %g", n,
               m, k, i, j, c[i * m + j], ref);
      }
    }
  }
  std::vector<float> c(6, 5.0f);
  EXPECT(llfc::cuda::gemm_abt(nullptr, nullptr, c.data(), 2, 3, 0), "k = 0");
  for (float v : c) EXPECT(v == 0.0f, "k = 0 gives zeros");
  // Weights inside a resident arena are not uploaded again.
  auto arena = random_floats(1000);
  llfc::cuda::make_resident(arena.data(), arena.size());
  std::vector<float> out(10 * 10);
  fake::counters().h2d_bytes = 0;
  EXPECT(llfc::cuda::gemm_abt(arena.data() + 1, arena.data() + 501, out.data(), 10, 10, 30), "ran");
  EXPECT(fake::counters().h2d_bytes == 0, "uploaded %zu bytes", fake::counters().h2d_bytes);
  llfc::cuda::release_all();
}

}  // namespace

int main() {
  const auto& s = llfc::cuda::status();
  EXPECT(s.available && s.name == "Emulated GPU", "the fake device is found: %s", s.reason.c_str());
  test_interpolation();
  test_resident();
  test_cosine();
  test_sum_squares();
  test_gemm();
  std::printf("CUDA host emulation: %d expectations held (%zu kernel launches)\n", g_checks, fake::counters().launches);
  return 0;
}
