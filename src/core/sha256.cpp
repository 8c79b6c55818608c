#include "core/sha256.h"

#include <openssl/evp.h>

#include <new>

#include "core/file.h"

namespace cc {

std::string sha256_hex(const void* data, size_t size) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  // EVP_Digest fails only when OpenSSL cannot allocate its context: as `new` does then.
  if (EVP_Digest(data, size, digest, &length, EVP_sha256(), nullptr) != 1) throw std::bad_alloc();
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

Result<std::string> sha256_file(const std::string& path) {
  CC_TRY(auto file, MappedFile::open(path));
  return sha256_hex(file->data(), file->size());
}

}  // namespace cc
