#include "train/vector_cache.h"

#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "core/file.h"
#include "core/sha256.h"

namespace cc {

VectorCache::VectorCache(std::string dir, std::string model_key) : dir_(std::move(dir)), model_key_(std::move(model_key)) {}

std::string VectorCache::path_for(const std::string& full_key) const {
  const std::string h = sha256_hex(full_key.data(), full_key.size());
  return join_path(join_path(dir_, h.substr(0, 2)), h.substr(2) + ".vec");
}

std::optional<std::vector<float>> VectorCache::get(const std::string& input_key) const {
  if (dir_.empty()) return std::nullopt;
  const std::string key = model_key_ + '\n' + input_key;
  auto bytes = read_file(path_for(key));
  if (!bytes.ok() || bytes->size() < key.size() + 1) return std::nullopt;
  if (std::memcmp(bytes->data(), key.data(), key.size()) != 0 || (*bytes)[key.size()] != 0) return std::nullopt;
  const size_t floats = (bytes->size() - key.size() - 1) / sizeof(float);
  std::vector<float> v(floats);
  std::memcpy(v.data(), bytes->data() + key.size() + 1, floats * sizeof(float));
  return v;
}

void VectorCache::put(const std::string& input_key, const std::vector<float>& v) const {
  if (dir_.empty()) return;
  const std::string key = model_key_ + '\n' + input_key, path = path_for(key);
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  std::string bytes = key + '\0';
  bytes.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
  (void)write_file_atomic(path, bytes.data(), bytes.size());
}

static std::string stat_key(const std::string& path) {
  const std::string stamp = file_stamp(path);
  return stamp.empty() ? path : path + '|' + stamp;
}

std::string model_cache_key(const std::string& model_dir, const std::string& tower) {
  char real[PATH_MAX];
  const std::string dir = realpath(model_dir.c_str(), real) ? real : model_dir;
  return stat_key(join_path(dir, "model.safetensors")) + '|' + tower;
}

std::string file_cache_key(const std::string& path) {
  char real[PATH_MAX];
  return stat_key(realpath(path.c_str(), real) ? real : path);
}

}  // namespace cc
