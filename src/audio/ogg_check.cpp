#include "audio/ogg_check.h"

#include <array>
#include <cstring>
#include <string>

#include <ogg/ogg.h>
#include <vorbis/codec.h>

namespace cc {

Status check_ogg_pages(const uint8_t* d, size_t n) {
  // Ogg's CRC-32: polynomial 0x04C11DB7, MSB first, no reflection, the CRC field counting as zero.
  static const auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t r = i << 24;
      for (int k = 0; k < 8; ++k) r = (r & 0x80000000u) ? (r << 1) ^ 0x04C11DB7u : r << 1;
      t[i] = r;
    }
    return t;
  }();
  size_t at = 0;
  for (int page = 0; at < n; ++page) {
    if (n - at < 27 || std::memcmp(d + at, "OggS", 4) != 0 || d[at + 4] != 0)
      return error("corrupt or truncated Ogg stream (page " + std::to_string(page) + ")");
    const size_t segments = d[at + 26];
    if (n - at < 27 + segments) return error("truncated Ogg stream (page " + std::to_string(page) + ")");
    size_t body = 0;
    for (size_t s = 0; s < segments; ++s) body += d[at + 27 + s];
    const size_t size = 27 + segments + body;
    if (n - at < size) return error("truncated Ogg stream (page " + std::to_string(page) + ")");
    uint32_t crc = 0;
    for (size_t i = 0; i < size; ++i) {
      const uint8_t byte = (i >= 22 && i < 26) ? 0 : d[at + i];
      crc = (crc << 8) ^ table[((crc >> 24) ^ byte) & 0xFF];
    }
    const uint32_t stored = d[at + 22] | (d[at + 23] << 8) | (d[at + 24] << 16) | (static_cast<uint32_t>(d[at + 25]) << 24);
    if (crc != stored) return error("corrupt Ogg stream (checksum of page " + std::to_string(page) + ")");
    at += size;
  }
  return Ok{};
}

namespace {

// libogg and libvorbis state, cleared however the check ends.
struct VorbisProbe {
  ogg_sync_state sync;
  ogg_stream_state stream;
  vorbis_info info;
  vorbis_comment comment;
  bool stream_ready = false;
  VorbisProbe() {
    ogg_sync_init(&sync);
    vorbis_info_init(&info);
    vorbis_comment_init(&comment);
  }
  ~VorbisProbe() {
    vorbis_comment_clear(&comment);
    vorbis_info_clear(&info);
    if (stream_ready) ogg_stream_clear(&stream);
    ogg_sync_clear(&sync);
  }
};

}  // namespace

Status check_vorbis_headers(const uint8_t* data, size_t size) {
  VorbisProbe p;
  char* buffer = ogg_sync_buffer(&p.sync, static_cast<long>(size));
  if (!buffer) return error("corrupt Ogg stream", ErrorKind::kInvalidInput);
  std::memcpy(buffer, data, size);
  ogg_sync_wrote(&p.sync, static_cast<long>(size));
  int headers = 0;
  ogg_page page;
  while (headers < 3 && ogg_sync_pageout(&p.sync, &page) == 1) {
    if (!p.stream_ready) {
      if (!ogg_page_bos(&page)) return error("corrupt Ogg stream (no beginning-of-stream page)");
      ogg_stream_init(&p.stream, ogg_page_serialno(&page));
      p.stream_ready = true;
    }
    if (ogg_page_serialno(&page) != p.stream.serialno) continue;  // another logical stream
    if (ogg_stream_pagein(&p.stream, &page) != 0) return error("corrupt Ogg stream (page out of sequence)");
    ogg_packet packet;
    while (headers < 3 && ogg_stream_packetout(&p.stream, &packet) == 1) {
      if (headers == 0 && (packet.bytes < 7 || packet.packet[0] != 1 || std::memcmp(packet.packet + 1, "vorbis", 6) != 0))
        return Ok{};  // not Vorbis (Opus, FLAC): libsndfile's own checks apply
      if (vorbis_synthesis_headerin(&p.info, &p.comment, &packet) != 0)
        return error("corrupt Ogg Vorbis stream (" + std::string(headers == 0 ? "identification" : headers == 1 ? "comment" : "setup") +
                     " header)");
      ++headers;
    }
  }
  if (headers == 0 && !p.stream_ready) return error("corrupt Ogg stream (no pages)");
  if (headers < 3) return error("truncated Ogg Vorbis stream (" + std::to_string(headers) + " of its 3 headers)");
  return Ok{};
}

}  // namespace cc
