// Retrieval and zero-shot metrics in a shared space: every query against every gallery item by
// cosine, ranked best first (ties by gallery order, so results are repeatable).
#pragma once

#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

namespace cc {

struct RetrievalMetrics {
  int queries = 0;
  double r1 = 0, r5 = 0, r10 = 0, map10 = 0;  // recall@K: a relevant item in the top K; mAP over the top 10
};

// queries [nq, d] and gallery [ng, d] need not be normalised; relevant[q] lists gallery indices.
RetrievalMetrics retrieval(const std::vector<double>& queries, const std::vector<double>& gallery, int d,
                           const std::vector<std::vector<int>>& relevant);

// {"queries", "R@1", "R@5", "R@10", "mAP@10"}, as eval and the training metadata report them.
nlohmann::json retrieval_json(const RetrievalMetrics& m);

// Fraction of items whose most similar label vector is their own label.
double zero_shot_accuracy(const std::vector<double>& items, const std::vector<double>& labels, int d,
                          const std::vector<int>& truth);

}  // namespace cc
