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

// A sub-object such as "text_config"; an absent one is {} (all defaults).
Result<nlohmann::json> config_section(const nlohmann::json& j, const std::string& key);

}  // namespace cc
