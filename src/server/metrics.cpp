#include "server/metrics.h"

#include <charconv>
#include <cstdio>

namespace cc {

namespace {
std::string number(double v) {
  char buf[40];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);  // the shortest text that reads back as v
  return std::string(buf, r.ptr);
}
std::string escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}
}  // namespace

std::string Metrics::label_text(const Labels& labels) {
  std::string s;
  for (const auto& [k, v] : labels) s += (s.empty() ? "" : ",") + k + "=\"" + escape(v) + "\"";
  return s;
}

void Metrics::describe(const std::string& name, const std::string& type, const std::string& help, std::vector<double> buckets) {
  std::lock_guard<std::mutex> lock(mu_);
  Family& f = families_[name];
  f.type = type, f.help = help, f.buckets = std::move(buckets);
}

void Metrics::add(const std::string& name, const Labels& labels, double value) {
  std::lock_guard<std::mutex> lock(mu_);
  families_[name].values[label_text(labels)] += value;
}

void Metrics::set(const std::string& name, const Labels& labels, double value) {
  std::lock_guard<std::mutex> lock(mu_);
  families_[name].values[label_text(labels)] = value;
}

void Metrics::observe(const std::string& name, const Labels& labels, double value) {
  std::lock_guard<std::mutex> lock(mu_);
  Family& f = families_[name];
  Histogram& h = f.histograms[label_text(labels)];
  if (h.counts.empty()) h.counts.assign(f.buckets.size() + 1, 0);
  size_t b = 0;
  while (b < f.buckets.size() && value > f.buckets[b]) ++b;
  ++h.counts[b];
  h.sum += value;
  ++h.count;
}

std::string Metrics::render() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    out += "# HELP " + name + " " + f.help + "\n# TYPE " + name + " " + f.type + "\n";
    for (const auto& [labels, v] : f.values) out += name + (labels.empty() ? "" : "{" + labels + "}") + " " + number(v) + "\n";
    for (const auto& [labels, h] : f.histograms) {
      const std::string sep = labels.empty() ? "" : ",";
      uint64_t cumulative = 0;
      for (size_t b = 0; b <= f.buckets.size(); ++b) {
        cumulative += h.counts[b];
        const std::string le = b < f.buckets.size() ? number(f.buckets[b]) : "+Inf";
        out += name + "_bucket{" + labels + sep + "le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
      }
      out += name + "_sum" + (labels.empty() ? "" : "{" + labels + "}") + " " + number(h.sum) + "\n";
      out += name + "_count" + (labels.empty() ? "" : "{" + labels + "}") + " " + std::to_string(h.count) + "\n";
    }
  }
  return out;
}

}  // namespace cc
