#include "core/config.h"

#include <cmath>
#include <limits>

namespace cc {

Result<int> config_int_value(const nlohmann::json& v, const std::string& what) {
  // An unsigned value past INT64_MAX would wrap when read as int64_t: checked as unsigned first.
  const bool fits = v.is_number_unsigned() ? v.get<uint64_t>() < (1ULL << 31)
                                           : v.is_number_integer() && v.get<int64_t>() >= -(1LL << 31) && v.get<int64_t>() < (1LL << 31);
  if (!fits) return error("config key '" + what + "' must be an integer, got " + v.dump());
  return static_cast<int>(v.get<int64_t>());
}

Result<float> config_float_value(const nlohmann::json& v, const std::string& what) {
  if (!v.is_number() || !(std::fabs(v.get<double>()) <= std::numeric_limits<float>::max()))
    return error("config key '" + what + "' must be a number within float range, got " + v.dump());
  return static_cast<float>(v.get<double>());
}

Result<int> config_int(const nlohmann::json& j, const std::string& key, int hf_default) {
  if (!j.contains(key) || j[key].is_null()) return hf_default;
  return config_int_value(j[key], key);
}

Result<double> config_double(const nlohmann::json& j, const std::string& key, double hf_default) {
  if (!j.contains(key) || j[key].is_null()) return hf_default;
  if (!j[key].is_number()) return error("config key '" + key + "' must be a number, got " + j[key].dump());
  return j[key].get<double>();
}

Result<float> config_float(const nlohmann::json& j, const std::string& key, float hf_default) {
  if (!j.contains(key) || j[key].is_null()) return hf_default;
  return config_float_value(j[key], key);
}

Result<std::string> config_string(const nlohmann::json& j, const std::string& key, const std::string& hf_default) {
  if (!j.contains(key) || j[key].is_null()) return hf_default;
  if (!j[key].is_string()) return error("config key '" + key + "' must be a string, got " + j[key].dump());
  return j[key].get<std::string>();
}

Result<bool> config_bool(const nlohmann::json& j, const std::string& key, bool hf_default) {
  if (!j.contains(key) || j[key].is_null()) return hf_default;
  if (!j[key].is_boolean()) return error("config key '" + key + "' must be true or false, got " + j[key].dump());
  return j[key].get<bool>();
}

Result<std::vector<int>> config_int_list(const nlohmann::json& j, const std::string& key,
                                        const std::vector<int>& hf_default) {
  if (!j.contains(key) || j[key].is_null()) return hf_default;
  const auto& v = j[key];
  std::vector<int> out;
  if (v.is_number()) {
    CC_TRY(int x, config_int_value(v, key));
    return std::vector<int>{x};
  }
  if (!v.is_array()) return error("config key '" + key + "' must be a list of integers, got " + v.dump());
  for (const auto& x : v) {
    CC_TRY(int i, config_int_value(x, key));
    out.push_back(i);
  }
  return out;
}

Result<nlohmann::json> config_section(const nlohmann::json& j, const std::string& key) {
  if (!j.is_object()) return error("config is not a JSON object");
  if (!j.contains(key) || j[key].is_null()) return nlohmann::json::object();
  if (!j[key].is_object()) return error("config key '" + key + "' must be an object");
  return j[key];
}

}  // namespace cc
