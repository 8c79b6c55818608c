// The projection's training math: gradients against finite differences, the closed form,
// metrics on a hand-checked case, and training that beats identity, repeatably.
#include <cmath>
#include <random>

#include "eval/retrieval.h"
#include "train/adam.h"
#include "train/least_squares.h"
#include "train/losses.h"
#include "train/trainer.h"
#include "test_util.h"

namespace cc {
namespace {

std::vector<double> gaussian(size_t n, uint64_t seed, double scale = 1.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> d(0, scale);
  std::vector<double> v(n);
  for (double& x : v) x = d(rng);
  return v;
}

void normalize_rows(std::vector<double>& v, int d) {
  for (size_t r = 0; r * d < v.size(); ++r) {
    double s = 0;
    for (int i = 0; i < d; ++i) s += v[r * d + i] * v[r * d + i];
    for (int i = 0; i < d; ++i) v[r * d + i] /= std::sqrt(s);
  }
}

TEST(ProjectionLosses, GradientsMatchFiniteDifferences) {
  const int d = 6, n = 5;
  Projection p = Projection::identity(d, true);
  p.w = gaussian(d * d, 1, 0.5);
  p.b = gaussian(d, 2, 0.1);
  const auto x = gaussian(n * d, 3), t = gaussian(n * d, 4);
  for (const bool nce : {false, true}) {
    auto loss = [&](const Projection& q) {
      return nce ? info_nce_loss(q, x, t, n, 0.07, nullptr) : cosine_loss(q, x, t, n, nullptr);
    };
    Gradient g = zero_gradient(p);
    if (nce) info_nce_loss(p, x, t, n, 0.07, &g);
    else cosine_loss(p, x, t, n, &g);
    double worst = 0;
    for (int which = 0; which < 2; ++which) {
      auto& params = which == 0 ? p.w : p.b;
      const auto& grad = which == 0 ? g.w : g.b;
      for (size_t i = 0; i < params.size(); ++i) {
        const double keep = params[i], h = 1e-6;
        params[i] = keep + h;
        const double up = loss(p);
        params[i] = keep - h;
        const double down = loss(p);
        params[i] = keep;
        const double numeric = (up - down) / (2 * h);
        worst = std::max(worst, std::fabs(numeric - grad[i]) / (1e-6 + std::fabs(numeric) + std::fabs(grad[i])));
      }
    }
    EXPECT_LT(worst, 1e-5) << (nce ? "InfoNCE" : "cosine");
  }
}

TEST(ProjectionLosses, LeastSquaresRecoversAnExactMap) {
  const int d = 8, n = 200;
  const auto w0 = gaussian(d * d, 5), b0 = gaussian(d, 6), x = gaussian(n * d, 7);
  Projection truth = Projection::identity(d, true);
  truth.w = w0;
  truth.b = b0;
  std::vector<double> t;
  truth.apply(x, n, t);
  auto p = least_squares_projection(x, t, n, d, d, true);
  ASSERT_TRUE(p.ok()) << p.error().message;
  for (size_t i = 0; i < w0.size(); ++i) EXPECT_NEAR(p->w[i], w0[i], 2e-2);
  for (int i = 0; i < d; ++i) EXPECT_NEAR(p->b[i], b0[i], 2e-2);
}

TEST(Retrieval, MetricsOnAHandCheckedCase) {
  // Two queries, three gallery items in 2-D. Query 0 ranks items 0, 1, 2; query 1 ranks 2, 1, 0.
  const std::vector<double> q = {1, 0, 0, 1}, g = {1, 0, 0.8, 0.6, 0, 1};
  const auto m = retrieval(q, g, 2, {{1}, {2}});
  EXPECT_EQ(m.queries, 2);
  EXPECT_DOUBLE_EQ(m.r1, 0.5);           // query 1 finds item 2 first
  EXPECT_DOUBLE_EQ(m.r5, 1.0);
  EXPECT_DOUBLE_EQ(m.map10, (0.5 + 1.0) / 2);  // query 0: relevant at rank 2 -> AP 1/2
  EXPECT_DOUBLE_EQ(zero_shot_accuracy(q, g, 2, {0, 2}), 1.0);
}

// Source vectors whose targets are a fixed rotation of them, plus noise: a projection exists.
PairedVectors synthetic(int64_t n, int d, uint64_t seed, int captions_per_item) {
  PairedVectors p;
  p.in = p.out = d;
  const auto rot = gaussian(d * d, 99);
  Projection r = Projection::identity(d, false);
  r.w = rot;
  const int64_t items = n / captions_per_item;
  auto src = gaussian(items * d, seed);
  normalize_rows(src, d);
  std::vector<double> mapped;
  r.apply(src, items, mapped);
  const auto noise = gaussian(n * d, seed + 1, 0.15);
  for (int64_t i = 0; i < items * captions_per_item; ++i) {
    const int64_t item = i / captions_per_item;
    p.x.insert(p.x.end(), src.begin() + item * d, src.begin() + (item + 1) * d);
    for (int k = 0; k < d; ++k) p.t.push_back(mapped[item * d + k] + noise[i * d + k]);
    p.group.push_back(static_cast<int>(item));
  }
  normalize_rows(p.t, d);
  p.n = items * captions_per_item;
  return p;
}

TEST(Trainer, BothModesBeatIdentityOnHeldOutPairsAndAreRepeatable) {
  const auto bridge = synthetic(400, 16, 11, 1), audio = synthetic(400, 16, 21, 2);
  for (const std::string mode : {"text-bridge", "audio-caption", "both"}) {
    TrainOptions o;
    o.mode = mode;
    o.epochs = 15;
    o.batch = 64;
    o.lr = 1e-2;
    o.seed = 3;
    auto r = train_projection(bridge, audio, o);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->candidates.size(), 4u);
    EXPECT_GT(r->validation.cosine, r->identity.cosine + 0.2) << mode;
    EXPECT_LT(r->validation.loss, r->identity.loss) << mode;
    EXPECT_GT(r->validation.from_text.r1, r->identity.from_text.r1) << mode;
    auto again = train_projection(bridge, audio, o);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->projection.w, r->projection.w) << mode << ": same seed, same weights";
    EXPECT_EQ(again->projection.b, r->projection.b);
    o.seed = 4;
    auto other = train_projection(bridge, audio, o);
    ASSERT_TRUE(other.ok());
    EXPECT_NE(other->projection.w, r->projection.w) << mode;
  }
}

TEST(Trainer, RefusesSplitsThatLeaveNothing) {
  const auto data = synthetic(50, 4, 1, 1);
  for (double f : {0.0, 1.0, -0.5, 0.001}) {
    TrainOptions o;
    o.mode = "text-bridge";
    o.val_fraction = f;
    auto r = train_projection(data, {}, o);
    EXPECT_FALSE(r.ok()) << f;
  }
  TrainOptions o;
  o.mode = "audio-caption";
  EXPECT_FALSE(train_projection(data, {}, o).ok());  // no pairs
  o.mode = "sideways";
  EXPECT_FALSE(train_projection(data, data, o).ok());
}

}  // namespace
}  // namespace cc
