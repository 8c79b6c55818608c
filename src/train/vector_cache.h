// Encoded vectors kept on disk, keyed by model and input, so that a second training run with
// new hyperparameters does not encode again. One file per vector, named by a SHA-256 of the
// key; the file repeats the key, so a stale or colliding entry is never used.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace cc {

class VectorCache {
 public:
  // `model_key` names the model and what it encodes (see model_cache_key); an empty `dir`
  // disables the cache.
  VectorCache(std::string dir, std::string model_key);

  std::optional<std::vector<float>> get(const std::string& input_key) const;
  void put(const std::string& input_key, const std::vector<float>& v) const;  // best effort

 private:
  std::string path_for(const std::string& full_key) const;
  std::string dir_, model_key_;
};

// The model directory's real path, its weights' size and modification time, and the tower.
std::string model_cache_key(const std::string& model_dir, const std::string& tower);
// An input file's path, size and modification time (so an edited file is encoded again).
std::string file_cache_key(const std::string& path);

}  // namespace cc
