// Reading Hugging Face config.json fields. save_pretrained omits keys equal to the class
// default, so every read names the transformers default used when the key is absent.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace cc {

Result<int> config_int(const nlohmann::json& j, const std::string& key, int hf_default);
Result<float> config_float(const nlohmann::json& j, const std::string& key, float hf_default);
Result<double> config_double(const nlohmann::json& j, const std::string& key, double hf_default);
Result<std::string> config_string(const nlohmann::json& j, const std::string& key, const std::string& hf_default);
Result<bool> config_bool(const nlohmann::json& j, const std::string& key, bool hf_default);

// A list of ints such as "depths" (a bare int reads as a one-element list).
Result<std::vector<int>> config_int_list(const nlohmann::json& j, const std::string& key, const std::vector<int>& hf_default);

// One JSON value as an int or a float, refused unless it is a number the type can hold (a float
// past FLT_MAX or an integer past 2^31 would otherwise be converted out of range). `what` names
// it in the error.
Result<int> config_int_value(const nlohmann::json& v, const std::string& what);
Result<float> config_float_value(const nlohmann::json& v, const std::string& what);

// A sub-object such as "text_config"; an absent one is {} (all defaults).
Result<nlohmann::json> config_section(const nlohmann::json& j, const std::string& key);

}  // namespace cc
