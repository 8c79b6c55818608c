// Shared by the tests: fixture paths and vector comparisons.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/file.h"

namespace cc::test {

inline std::string fixture(const std::string& rel) { return std::string(CLIPCLAP_FIXTURES) + "/" + rel; }

inline nlohmann::json fixture_json(const std::string& rel) {
  auto j = read_json(fixture(rel));
  EXPECT_TRUE(j.ok()) << (j.ok() ? "" : j.error().message);
  return j.ok() ? j.value() : nlohmann::json();
}

inline double cosine(const float* a, const std::vector<float>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    ab += static_cast<double>(a[i]) * b[i];
    aa += static_cast<double>(a[i]) * a[i];
    bb += static_cast<double>(b[i]) * b[i];
  }
  return ab / std::sqrt(aa * bb);
}

inline double max_abs_diff(const float* a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < b.size(); ++i) m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
  return m;
}

// The parity bar for every embedding we produce against transformers.
constexpr double kMinCosine = 0.99999;
constexpr double kMaxAbsDiff = 1e-4;

}  // namespace cc::test
