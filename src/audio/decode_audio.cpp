#include "audio/decode_audio.h"

#include <algorithm>
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
