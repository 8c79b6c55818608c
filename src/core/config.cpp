#include "core/config.h"

namespace cc {

Result<int> config_int(const nlohmann::json& j, const std::string& key, int hf_default) {
  if (!j.contains(key) || j[key].is_null()) return hf_default;
  const auto& v = j[key];
  if (!v.is_number_integer() || v.get<int64_t>() < -(1LL << 31) || v.get<int64_t>() >= (1LL << 31))
    return error("config key '" + key + "' must be an integer, got " + v.dump());
  return v.get<int>();
}

Result<double> config_double(const nlohmann::json& j, const std::string& key, double hf_default) {
  if (!j.contains(key) || j[key].is_null()) return hf_default;
  if (!j[key].is_number()) return error("config key '" + key + "' must be a number, got " + j[key].dump());
  return j[key].get<double>();
}

Result<float> config_float(const nlohmann::json& j, const std::string& key, float hf_default) {
  CC_TRY(double v, config_double(j, key, hf_default));
  return static_cast<float>(v);
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
  if (v.is_number_integer()) return std::vector<int>{v.get<int>()};
  if (!v.is_array()) return error("config key '" + key + "' must be a list of integers, got " + v.dump());
  for (const auto& x : v) {
    if (!x.is_number_integer()) return error("config key '" + key + "' must be a list of integers, got " + v.dump());
    out.push_back(x.get<int>());
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
