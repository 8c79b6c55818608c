#include "core/flags.h"

#include <algorithm>
#include <cstdlib>

namespace cc {

Flag help_flag() { return {"help", "", "show this text"}; }

Flag precision_flag() {
  return {"precision", "P", "fp32 (exact to transformers), bf16 or int8 (faster, cosine to fp32 >= 0.9995 / 0.995; README \"Precision\")",
          "fp32"};
}

Result<Args> Args::parse(const std::vector<Flag>& flags, int argc, char** argv) {
  Args a;
  a.flags_ = flags;
  for (int i = 0; i < argc; ++i) {
    std::string tok = argv[i];
    if (tok.rfind("--", 0) != 0) return error("unexpected argument '" + tok + "' (options start with --; see --help)");
    std::string name = tok.substr(2), value;
    const auto eq = name.find('=');
    const bool inline_value = eq != std::string::npos;
    if (inline_value) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    auto f = std::find_if(flags.begin(), flags.end(), [&](const Flag& x) { return x.name == name; });
    if (f == flags.end()) return error("unknown option --" + name + " (see --help)");
    if (f->value_name.empty()) {
      if (inline_value) return error("option --" + name + " takes no value");
      value.assign(1, '1');  // not `= "1"`: GCC 12 warns falsely (-Wrestrict) on that assignment here
    } else if (!inline_value) {
      if (i + 1 >= argc) return error("option --" + name + " needs a value " + f->value_name);
      value = argv[++i];
    }
    if (!f->repeatable && a.has(name)) return error("option --" + name + " given twice");
    a.items_.emplace_back(name, value);
  }
  return a;
}

bool Args::has(const std::string& name) const {
  return std::any_of(items_.begin(), items_.end(), [&](const auto& kv) { return kv.first == name; });
}

std::string Args::get(const std::string& name, const std::string& fallback) const {
  for (const auto& [k, v] : items_)
    if (k == name) return v;
  return fallback;
}

std::string Args::value(const std::string& name) const {
  if (has(name)) return get(name);
  for (const Flag& f : flags_)
    if (f.name == name) return f.default_value;
  return "";
}

std::vector<std::string> Args::all(const std::string& name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : items_)
    if (k == name) out.push_back(v);
  return out;
}

static Result<int> parse_int(const std::string& name, const std::string& s, int min, int max) {
  char* end = nullptr;
  const long v = std::strtol(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || v < min || v > max)
    return error("--" + name + " must be a whole number from " + std::to_string(min) + " to " + std::to_string(max) +
                 ", got '" + s + "'");
  return static_cast<int>(v);
}

Result<int> Args::get_int(const std::string& name, int min, int max) const { return parse_int(name, value(name), min, max); }

Result<double> Args::get_double(const std::string& name, double min, double max) const {
  const std::string s = value(name);
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || !(v >= min && v <= max))
    return error("--" + name + " must be a number from " + std::to_string(min) + " to " + std::to_string(max) + ", got '" + s + "'");
  return v;
}

std::vector<std::string> Args::get_list(const std::string& name, const std::string& fallback) const {
  std::vector<std::string> out;
  const std::string s = get(name, fallback);
  if (s.empty()) return out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t comma = std::min(s.find(',', start), s.size());
    out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

Result<std::vector<int>> Args::get_int_list(const std::string& name, const std::string& fallback) const {
  std::vector<std::string> items = get_list(name, fallback);
  if (items.empty()) items.push_back("");  // an empty list is an error, as an empty number is
  std::vector<int> out;
  for (const auto& item : items) {
    CC_TRY(int v, parse_int(name, item, 1, 1 << 20));
    out.push_back(v);
  }
  return out;
}

std::string usage(const std::string& synopsis, const std::string& description, const std::vector<Flag>& flags) {
  std::string s = "usage: " + synopsis + "\n\n" + description + "\n\noptions:\n";
  for (const Flag& f : flags) {
    std::string left = "  --" + f.name + (f.value_name.empty() ? "" : " " + f.value_name);
    if (left.size() < 28) left.resize(28, ' ');
    else left += "\n" + std::string(28, ' ');
    s += left + f.help;
    if (f.repeatable) s += " (repeatable)";
    if (!f.default_value.empty()) s += " [default: " + f.default_value + "]";
    s += "\n";
  }
  return s;
}

}  // namespace cc
