// Command-line flags: parsed in order (so `embed` can keep the order of mixed --text and
// --image inputs), with the --help text generated from the same table.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/result.h"

namespace cc {

struct Flag {
  std::string name;        // without the leading "--"
  std::string value_name;  // empty for a boolean switch
  std::string help;
  std::string default_value = {};
  bool repeatable = false;
};

class Args {
 public:
  static Result<Args> parse(const std::vector<Flag>& flags, int argc, char** argv);

  bool has(const std::string& name) const;
  std::string get(const std::string& name, const std::string& fallback = "") const;
  std::vector<std::string> all(const std::string& name) const;
  const std::vector<std::pair<std::string, std::string>>& in_order() const { return items_; }
  Result<int> get_int(const std::string& name, int fallback, int min, int max) const;
  Result<double> get_double(const std::string& name, double fallback, double min, double max) const;
  std::vector<std::string> get_list(const std::string& name, const std::string& fallback = "") const;  // "a,b,c"; "" -> {}
  Result<std::vector<int>> get_int_list(const std::string& name, const std::string& fallback) const;

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

// --precision as embed and bench take it (serve and pack give it their own help text).
extern const Flag kPrecisionFlag;

std::string usage(const std::string& synopsis, const std::string& description, const std::vector<Flag>& flags);

}  // namespace cc
