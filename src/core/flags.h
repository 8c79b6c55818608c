// Flags: parsed in order (so `embed` can keep the order of mixed --text and --image inputs).
// One table gives each flag its help text and its default, for --help, for the parsed values
// and for the Python package's keyword arguments (which arrive here as flags too).
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
  // The value given, else the table's default.
  std::string value(const std::string& name) const;
  std::vector<std::string> all(const std::string& name) const;
  const std::vector<std::pair<std::string, std::string>>& in_order() const { return items_; }
  // Numbers: the value given, else the table's default, within [min, max].
  Result<int> get_int(const std::string& name, int min, int max) const;
  Result<double> get_double(const std::string& name, double min, double max) const;
  std::vector<std::string> get_list(const std::string& name, const std::string& fallback = "") const;  // "a,b,c"; "" -> {}
  Result<std::vector<int>> get_int_list(const std::string& name, const std::string& fallback) const;

 private:
  std::vector<Flag> flags_;
  std::vector<std::pair<std::string, std::string>> items_;
};

// --help, which every command takes. (Functions, not globals: the commands' tables are globals
// of other files, and C++ does not order their initialisation.)
Flag help_flag();

// --precision as embed and bench take it (serve and pack give it their own help text).
Flag precision_flag();

std::string usage(const std::string& synopsis, const std::string& description, const std::vector<Flag>& flags);

}  // namespace cc
