// The shared kernels against direct reference computations (double precision loops).
#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "core/attention.h"
#include "core/gemm.h"
#include "core/kernels.h"
#include "core/scratch.h"
#include "test_util.h"

namespace cc {
namespace {

std::vector<float> random_vector(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0, 1);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

TEST(ScratchPool, ReusesBuffersAndStaysBounded) {
  float* first = nullptr;
  {
    Scratch a(1000, 2.0f);
    EXPECT_EQ(a.size(), 1000u);
    EXPECT_EQ(a[999], 2.0f);
    first = a.data();
  }
  {
    Scratch b(800);  // a smaller request takes the free block: no new allocation per batch
    EXPECT_EQ(b.data(), first);
  }
  {
    Scratch big(5000, 0.0f);  // bigger than every free block: it replaces one, the pool does not grow
    Scratch other(10);
    EXPECT_NE(big.data(), other.data());
    Scratch moved = std::move(big);
    EXPECT_EQ(moved.size(), 5000u);
    EXPECT_EQ(big.data(), nullptr);
    moved = Scratch(20, 1.0f);
    EXPECT_EQ(moved[19], 1.0f);
  }
}

TEST(Kernels, LinearMatchesNaiveProduct) {
  // Depths and widths with vector and block tails (the packed layout's are 16 and 64), with and
  // without bias, from [out, in] weights and from packed ones.
  for (auto [rows, in, out] : {std::tuple{1, 3, 5}, std::tuple{7, 64, 33}, std::tuple{50, 768, 96}, std::tuple{13, 37, 7},
                               std::tuple{6, 515, 1}, std::tuple{17, 48, 12}, std::tuple{10, 512, 128}, std::tuple{2, 16, 65}}) {
    auto x = random_vector(rows * in, 1), w = random_vector(out * in, 2), b = random_vector(out, 3);
    const std::vector<float> packed = pack_weight(w.data(), in, out);
    for (auto [bias, use_packed] : {std::pair{true, false}, std::pair{false, false}, std::pair{true, true}, std::pair{false, true}}) {
      std::vector<float> y(rows * out, NAN);
      linear(Linear{w.data(), bias ? b.data() : nullptr, in, out, use_packed ? packed.data() : nullptr}, x.data(), rows, y.data());
      double worst = 0;
      for (int r = 0; r < rows; ++r)
        for (int o = 0; o < out; ++o) {
          double acc = bias ? b[o] : 0;
          for (int i = 0; i < in; ++i) acc += static_cast<double>(x[r * in + i]) * w[o * in + i];
          const double err = std::fabs(acc - y[r * out + o]) / (1 + std::fabs(acc));
          worst = std::isnan(err) ? INFINITY : std::max(worst, err);
        }
      EXPECT_LT(worst, 1e-4) << rows << "x" << in << "x" << out << (bias ? " with bias" : "") << (use_packed ? " packed" : "");
    }
  }
}

TEST(Kernels, PackedLayoutIsBlocksOf16InputsBy64Outputs) {
  const int in = 20, out = 70;  // two blocks each way, both padded
  std::vector<float> w(static_cast<size_t>(out) * in);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i + 1);
  const std::vector<float> p = pack_weight(w.data(), in, out);
  EXPECT_EQ(packed_shape(in, out), (std::vector<int64_t>{2, 2, 16, 64}));
  ASSERT_EQ(p.size(), 2u * 2 * 16 * 64);
  for (int nb = 0; nb < 2; ++nb)
    for (int kb = 0; kb < 2; ++kb)
      for (int k = 0; k < 16; ++k)
        for (int n = 0; n < 64; ++n) {
          const int i = kb * 16 + k, o = nb * 64 + n;
          const float want = (i < in && o < out) ? w[static_cast<size_t>(o) * in + i] : 0.0f;
          ASSERT_EQ(p[((nb * 2 + kb) * 16 + k) * 64 + n], want) << "input " << i << " output " << o;
        }
}

TEST(Kernels, AttentionMatchesNaiveWithCausalAndPaddingMasks) {
  const int B = 2, S = 5, H = 3, Dh = 4, D = H * Dh;
  auto q = random_vector(B * S * D, 4), k = random_vector(B * S * D, 5), v = random_vector(B * S * D, 6);
  std::vector<float> out(B * S * D);
  const int lengths[B] = {5, 3};
  attention(q.data(), k.data(), v.data(), out.data(), {B, S, H, Dh}, 0.5f, {true, lengths});
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < S; ++i) {
        const int visible = std::min(i + 1, lengths[b]);
        std::vector<double> p(visible);
        double mx = -1e30, sum = 0;
        for (int j = 0; j < visible; ++j) {
          double s = 0;
          for (int d = 0; d < Dh; ++d) s += q[(b * S + i) * D + h * Dh + d] * k[(b * S + j) * D + h * Dh + d];
          p[j] = s * 0.5;
          mx = std::max(mx, p[j]);
        }
        for (double& x : p) sum += (x = std::exp(x - mx));
        for (int d = 0; d < Dh; ++d) {
          double acc = 0;
          for (int j = 0; j < visible; ++j) acc += p[j] / sum * v[(b * S + j) * D + h * Dh + d];
          EXPECT_NEAR(out[(b * S + i) * D + h * Dh + d], acc, 1e-5);
        }
      }
}

TEST(Kernels, LayerNormAndActivations) {
  std::vector<float> x = {1, 2, 3, 4}, g = {1, 1, 2, 1}, b = {0, 0, 0, 1}, y(4);
  layer_norm(LayerNorm{g.data(), b.data(), 4, 1e-5f}, x.data(), 1, y.data());
  const double sd = std::sqrt(1.25 + 1e-5);
  EXPECT_NEAR(y[0], -1.5 / sd, 1e-6);
  EXPECT_NEAR(y[2], 2 * 0.5 / sd, 1e-6);
  EXPECT_NEAR(y[3], 1.5 / sd + 1, 1e-6);
  std::vector<float> a = {-1.0f, 0.5f};
  quick_gelu(a.data(), 2);
  EXPECT_NEAR(a[0], -1.0 / (1 + std::exp(1.702)), 1e-6);
  std::vector<float> c = {-1.0f, 0.5f};
  gelu(c.data(), 2);
  EXPECT_NEAR(c[1], 0.5 * 0.5 * (1 + std::erf(0.5 / std::sqrt(2.0))), 1e-6);
  EXPECT_FALSE(parse_activation("swish").ok());
  std::vector<float> n = {3, 4, 0, 0};
  l2_normalize_rows(n.data(), 2, 2);
  EXPECT_FLOAT_EQ(n[0], 0.6f);
  EXPECT_EQ(n[2], 0.0f);  // zero rows stay zero, not NaN
}

TEST(Kernels, SoftmaxMatchesDoublePrecisionAtEveryLengthAndOffset) {
  // Lengths around the 16-lane blocks and the towers' rows (CLIP's 50 and 77, HTSAT's 64).
  for (int n : {1, 2, 7, 15, 16, 17, 31, 50, 64, 77, 200}) {
    for (float offset : {0.0f, 1000.0f, -1000.0f}) {
      std::vector<float> x = random_vector(static_cast<size_t>(n), static_cast<unsigned>(n));
      for (float& v : x) v = 4 * v + offset;
      if (n > 2) x[1] = -INFINITY;  // a masked key
      std::vector<double> want(x.begin(), x.end());
      const double m = *std::max_element(want.begin(), want.end());
      double sum = 0;
      for (double& v : want) sum += (v = std::exp(v - m));
      softmax(x.data(), n);
      double got_sum = 0;
      for (int i = 0; i < n; ++i) {
        EXPECT_NEAR(x[i], want[i] / sum, 1e-6) << "n " << n << " offset " << offset << " i " << i;
        got_sum += x[i];
      }
      EXPECT_NEAR(got_sum, 1.0, 1e-5) << "n " << n;
      if (n > 2) {
        EXPECT_EQ(x[1], 0.0f);
      }
    }
  }
}

}  // namespace
}  // namespace cc
