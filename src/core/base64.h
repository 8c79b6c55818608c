// Base64 (RFC 4648, standard alphabet with padding): media in JSON requests, vectors in
// OpenAI's encoding_format "base64", and file contents in the hub's commit API.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace cc {

std::string base64_encode(const void* data, size_t size);
// Strict: rejects characters outside the alphabet and bad padding. Whitespace is skipped
// (PEM-style line breaks).
Result<std::vector<uint8_t>> base64_decode(std::string_view text);

}  // namespace cc
