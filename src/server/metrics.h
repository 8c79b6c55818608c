// Prometheus text-format metrics (exposition format 0.0.4), kept under one mutex: counters,
// gauges and histograms keyed by their label sets.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace cc {

class Metrics {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;

  void add(const std::string& name, const Labels& labels, double value = 1);
  void set(const std::string& name, const Labels& labels, double value);
  void observe(const std::string& name, const Labels& labels, double value);  // histograms

  // Declares a metric's help text, type and (histograms) bucket bounds.
  void describe(const std::string& name, const std::string& type, const std::string& help, std::vector<double> buckets = {});

  std::string render() const;

 private:
  struct Histogram {
    std::vector<uint64_t> counts;  // per bucket, then +Inf
    double sum = 0;
    uint64_t count = 0;
  };
  struct Family {
    std::string type, help;
    std::vector<double> buckets;
    std::map<std::string, double> values;  // rendered label set -> value
    std::map<std::string, Histogram> histograms;
  };
  static std::string label_text(const Labels& labels);
  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
};

}  // namespace cc
