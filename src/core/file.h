// Whole-file reads, read-only memory maps, and writes that never leave a partial file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace cc {

Result<std::vector<uint8_t>> read_file(const std::string& path);
Result<nlohmann::json> read_json(const std::string& path);

// A read-only mapping of a whole file. Weights are read from it in place, never copied.
class MappedFile {
 public:
  static Result<std::shared_ptr<MappedFile>> open(const std::string& path);
  // Maps only bytes [offset, offset + length) of the file; data() points at `offset`.
  static Result<std::shared_ptr<MappedFile>> open_range(const std::string& path, size_t offset, size_t length);
  // The file's size without mapping it.
  static Result<size_t> file_size(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Drops this process's pages of the mapping (they stay in the page cache and fault back in
  // when read again): after the linear weights were copied into the GEMM's form, the pages
  // read to make them would otherwise count in RSS for good.
  void release_pages() const;

 private:
  MappedFile() = default;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  void* map_base_ = nullptr;  // page-aligned start of the mapping
  size_t map_size_ = 0;
  std::string path_;
};

// A temporary beside `path` for this process: "<path>.tmp-<pid>". Any "<path>.tmp-<pid>" or
// "<path>.<part>.tmp-<pid>" left there by processes that died before they could clean up
// (killed mid-write) are removed first.
std::string temporary_beside(const std::string& path);

// Writes to "<path>.tmp-<pid>" then renames, so a failed command leaves no partial output.
Status write_file_atomic(const std::string& path, const void* data, size_t size);
// The same, streaming: `write` fills the temporary file and returns false on failure.
Status write_file_atomic(const std::string& path, const std::function<bool(FILE*)>& write);

// A file's size and modification time ("" if it cannot be read): what tells a derived file
// (a cache entry, packed weights) that its source has changed since.
std::string file_stamp(const std::string& path);

bool is_directory(const std::string& path);
bool is_file(const std::string& path);
std::string join_path(const std::string& dir, const std::string& name);

}  // namespace cc
