// SHA-256 (OpenSSL), for naming data files in metadata and for verifying downloads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/result.h"

namespace cc {

std::string sha256_hex(const void* data, size_t size);
Result<std::string> sha256_file(const std::string& path);

}  // namespace cc
