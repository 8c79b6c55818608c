#include "audio/decode_audio.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include <sndfile.h>

#include "core/file.h"

namespace cc {

namespace {

struct MemoryFile {
  const uint8_t* data;
  sf_count_t size, pos;
};

sf_count_t vio_length(void* user) { return static_cast<MemoryFile*>(user)->size; }
sf_count_t vio_tell(void* user) { return static_cast<MemoryFile*>(user)->pos; }
sf_count_t vio_seek(sf_count_t offset, int whence, void* user) {
  auto* m = static_cast<MemoryFile*>(user);
  sf_count_t to = whence == SEEK_SET ? offset : whence == SEEK_CUR ? m->pos + offset : m->size + offset;
  if (to < 0 || to > m->size) return -1;
  return m->pos = to;
}
sf_count_t vio_read(void* out, sf_count_t n, void* user) {
  auto* m = static_cast<MemoryFile*>(user);
  const sf_count_t take = std::max<sf_count_t>(0, std::min(n, m->size - m->pos));
  std::memcpy(out, m->data + m->pos, static_cast<size_t>(take));
  m->pos += take;
  return take;
}
sf_count_t vio_write(const void*, sf_count_t, void*) { return 0; }

// Ogg pages carry a CRC-32 (polynomial 0x04C11DB7, MSB first, no reflection). libsndfile
// 1.2.0 (Debian 12) leaks its vorbis_info when a corrupt Vorbis header makes the open fail,
// so Ogg input is checked page by page first: corrupt or truncated streams never reach it.
Status check_ogg_pages(const uint8_t* d, size_t n) {
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
      const uint8_t byte = (i >= 22 && i < 26) ? 0 : d[at + i];  // the CRC field counts as zero
      crc = (crc << 8) ^ table[((crc >> 24) ^ byte) & 0xFF];
    }
    const uint32_t stored = d[at + 22] | (d[at + 23] << 8) | (d[at + 24] << 16) | (static_cast<uint32_t>(d[at + 25]) << 24);
    if (crc != stored) return error("corrupt Ogg stream (checksum of page " + std::to_string(page) + ")");
    at += size;
  }
  return Ok{};
}

// Containers libsndfile cannot read, named so the error can say what they are.
const char* unsupported_container(const uint8_t* d, size_t n) {
  if (n >= 12 && std::memcmp(d + 4, "ftyp", 4) == 0) return "MP4/M4A (AAC)";
  if (n >= 4 && d[0] == 0x1A && d[1] == 0x45 && d[2] == 0xDF && d[3] == 0xA3) return "WebM/Matroska";
  if (n >= 4 && std::memcmp(d, "ADIF", 4) == 0) return "AAC (ADIF)";
  if (n >= 2 && d[0] == 0xFF && (d[1] & 0xF6) == 0xF0) return "AAC (ADTS)";
  return nullptr;
}

}  // namespace

Result<Audio> decode_audio(const uint8_t* data, size_t size, const AudioLimits& limits) {
  if (size == 0) return error("empty audio data");
  if (const char* what = unsupported_container(data, size))
    return error(std::string("unsupported audio format: ") + what + " (supported: WAV, FLAC, OGG Vorbis, Opus, MP3)");
  if (size >= 4 && std::memcmp(data, "OggS", 4) == 0) CC_CHECK(check_ogg_pages(data, size));
  MemoryFile mem{data, static_cast<sf_count_t>(size), 0};
  SF_VIRTUAL_IO io{vio_length, vio_seek, vio_read, vio_write, vio_tell};
  SF_INFO info{};
  SNDFILE* f = sf_open_virtual(&io, SFM_READ, &info, &mem);
  if (!f) return error(std::string("not audio in a supported format (WAV, FLAC, OGG Vorbis, Opus, MP3): ") + sf_strerror(nullptr));
  struct Closer {
    SNDFILE* f;
    ~Closer() { sf_close(f); }
  } closer{f};

  if (info.samplerate <= 0 || info.samplerate > limits.max_sample_rate)
    return error("sample rate " + std::to_string(info.samplerate) + " Hz is outside 1.." +
                 std::to_string(limits.max_sample_rate));
  if (info.channels <= 0 || info.channels > limits.max_channels)
    return error(std::to_string(info.channels) + " channels (at most " + std::to_string(limits.max_channels) + ")");
  const double max_frames = limits.max_seconds * info.samplerate;
  if (info.frames > 0 && static_cast<double>(info.frames) > max_frames + 1)
    return error("audio is " + std::to_string(info.frames / static_cast<double>(info.samplerate)) +
                 " s long; the limit is " + std::to_string(limits.max_seconds) + " s");

  // Read in blocks: some formats (MP3, Opus) do not know their length up front.
  Audio a;
  a.sample_rate = info.samplerate;
  if (info.frames > 0) a.samples.reserve(static_cast<size_t>(info.frames));
  const int ch = info.channels;
  constexpr sf_count_t kBlock = 65536;
  std::vector<double> block(static_cast<size_t>(kBlock) * ch);
  for (;;) {
    const sf_count_t got = sf_readf_double(f, block.data(), kBlock);
    if (got <= 0) break;
    const size_t at = a.samples.size();
    a.samples.resize(at + static_cast<size_t>(got));
    double* out = a.samples.data() + at;
    if (ch == 1) {
      std::memcpy(out, block.data(), static_cast<size_t>(got) * sizeof(double));
    } else {
      for (sf_count_t i = 0; i < got; ++i) {
        double sum = 0;  // numpy's mean over the channel axis: sum, then divide
        for (int c = 0; c < ch; ++c) sum += block[static_cast<size_t>(i) * ch + c];
        out[i] = sum / ch;
      }
    }
    if (static_cast<double>(a.samples.size()) > max_frames + 1)
      return error("audio is longer than the limit of " + std::to_string(limits.max_seconds) + " s");
  }
  if (sf_error(f) != SF_ERR_NO_ERROR) return error(std::string("corrupt or truncated audio: ") + sf_strerror(f));
  if (a.samples.empty()) return error("audio has no samples");
  if (!std::all_of(a.samples.begin(), a.samples.end(), [](double v) { return std::isfinite(v); }))
    return error("audio contains NaN or infinite samples");
  return a;
}

Result<Audio> decode_audio_file(const std::string& path, const AudioLimits& limits) {
  CC_TRY(std::vector<uint8_t> bytes, read_file(path));
  auto a = decode_audio(bytes.data(), bytes.size(), limits);
  if (!a.ok()) return a.error().context(path);
  return a;
}

}  // namespace cc
