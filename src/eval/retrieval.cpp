#include "eval/retrieval.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace cc {

namespace {

std::vector<double> normalized(const std::vector<double>& v, int d) {
  std::vector<double> out(v);
  for (size_t r = 0; r * d < out.size(); ++r) {
    double s = 0;
    for (int i = 0; i < d; ++i) s += out[r * d + i] * out[r * d + i];
    const double inv = 1.0 / std::max(std::sqrt(s), 1e-12);
    for (int i = 0; i < d; ++i) out[r * d + i] *= inv;
  }
  return out;
}

}  // namespace

RetrievalMetrics retrieval(const std::vector<double>& queries, const std::vector<double>& gallery, int d,
                           const std::vector<std::vector<int>>& relevant) {
  const auto q = normalized(queries, d), g = normalized(gallery, d);
  const int nq = static_cast<int>(q.size() / d), ng = static_cast<int>(g.size() / d);
  RetrievalMetrics m;
  m.queries = nq;
  if (nq == 0) return m;
  for (int a = 0; a < nq; ++a) {
    std::vector<double> score(ng);
    for (int c = 0; c < ng; ++c) {
      double s = 0;
      for (int i = 0; i < d; ++i) s += q[static_cast<size_t>(a) * d + i] * g[static_cast<size_t>(c) * d + i];
      score[c] = s;
    }
    std::vector<int> order(ng);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int x, int y) { return score[x] > score[y]; });
    const auto& rel = relevant[a];
    auto is_rel = [&](int c) { return std::find(rel.begin(), rel.end(), c) != rel.end(); };
    int first = ng;  // rank of the first relevant item
    double hits = 0, ap = 0;
    for (int k = 0; k < ng; ++k) {
      if (!is_rel(order[k])) continue;
      first = std::min(first, k);
      if (k < 10) ap += ++hits / (k + 1);
    }
    m.r1 += first < 1;
    m.r5 += first < 5;
    m.r10 += first < 10;
    m.map10 += rel.empty() ? 0 : ap / std::min<size_t>(rel.size(), 10);
  }
  m.r1 /= nq, m.r5 /= nq, m.r10 /= nq, m.map10 /= nq;
  return m;
}

double zero_shot_accuracy(const std::vector<double>& items, const std::vector<double>& labels, int d,
                          const std::vector<int>& truth) {
  std::vector<std::vector<int>> relevant;
  for (int t : truth) relevant.push_back({t});
  return retrieval(items, labels, d, relevant).r1;
}

nlohmann::json retrieval_json(const RetrievalMetrics& m) {
  return {{"queries", m.queries}, {"R@1", m.r1}, {"R@5", m.r5}, {"R@10", m.r10}, {"mAP@10", m.map10}};
}

}  // namespace cc
