// Checks on Ogg input before libsndfile sees it. libsndfile 1.2.0 (Debian 12) leaks its
// vorbis_info (5,784 bytes) whenever a Vorbis stream's headers fail to open: a bad version, a
// missing comment or setup header. Checksums cannot stop that (a client computes good ones),
// so the headers themselves are parsed first with libvorbis, whose cleanup we call, and only
// streams whose three headers libvorbis accepts reach libsndfile, which then opens them.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/result.h"

namespace cc {

// Every page whole, with a valid checksum (a truncated or corrupt stream is refused).
Status check_ogg_pages(const uint8_t* data, size_t size);

// If the first logical stream is Vorbis: its identification, comment and setup headers.
Status check_vorbis_headers(const uint8_t* data, size_t size);

}  // namespace cc
