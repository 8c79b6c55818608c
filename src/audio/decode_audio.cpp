#include "audio/decode_audio.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include <sndfile.h>

#include "audio/ogg_check.h"
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

constexpr size_t kBlockFrames = 8192;

}  // namespace

struct AudioReader::Source {
  MemoryFile mem;
  SF_VIRTUAL_IO io{vio_length, vio_seek, vio_read, vio_write, vio_tell};
  SNDFILE* file = nullptr;
};

AudioReader::~AudioReader() {
  if (source_ && source_->file) sf_close(source_->file);
}

Result<std::unique_ptr<AudioReader>> AudioReader::open(const uint8_t* data, size_t size, const AudioLimits& limits) {
  if (size == 0) return error("empty audio data");
  if (const char* what = unsupported_container(data, size))
    return error(std::string("unsupported audio format: ") + what + " (supported: WAV, FLAC, OGG Vorbis, Opus, MP3)");
  if (size >= 4 && std::memcmp(data, "OggS", 4) == 0) {
    CC_CHECK(check_ogg_pages(data, size));
    CC_CHECK(check_vorbis_headers(data, size));
  }
  std::unique_ptr<AudioReader> r(new AudioReader());
  r->source_ = std::make_unique<Source>();
  Source& s = *r->source_;
  s.mem = {data, static_cast<sf_count_t>(size), 0};
  SF_INFO info{};
  s.file = sf_open_virtual(&s.io, SFM_READ, &info, &s.mem);
  if (!s.file) return error(std::string("not audio in a supported format (WAV, FLAC, OGG Vorbis, Opus, MP3): ") + sf_strerror(nullptr));
  if (info.samplerate <= 0 || info.samplerate > limits.max_sample_rate)
    return error("sample rate " + std::to_string(info.samplerate) + " Hz is outside 1.." + std::to_string(limits.max_sample_rate));
  if (info.channels <= 0 || info.channels > limits.max_channels)
    return error(std::to_string(info.channels) + " channels (at most " + std::to_string(limits.max_channels) + ")");
  r->rate_ = info.samplerate;
  r->channels_ = info.channels;
  r->max_frames_ = limits.max_seconds * info.samplerate;
  if (info.frames > 0 && static_cast<double>(info.frames) > r->max_frames_ + 1)
    return error("audio is " + std::to_string(info.frames / static_cast<double>(info.samplerate)) + " s long; the limit is " +
                 std::to_string(limits.max_seconds) + " s");
  r->block_.resize(kBlockFrames * static_cast<size_t>(info.channels));
  return r;
}

Result<size_t> AudioReader::read(double* out, size_t max) {
  const sf_count_t want = static_cast<sf_count_t>(std::min(max, kBlockFrames));
  const sf_count_t got = sf_readf_double(source_->file, block_.data(), want);
  if (got <= 0) {
    if (sf_error(source_->file) != SF_ERR_NO_ERROR) return error(std::string("corrupt or truncated audio: ") + sf_strerror(source_->file));
    if (frames_ == 0) return error("audio has no samples");
    return size_t{0};
  }
  const int ch = channels_;
  for (sf_count_t i = 0; i < got; ++i) {
    double sum = 0;  // numpy's mean over the channel axis: sum, then divide
    for (int c = 0; c < ch; ++c) {
      const double v = block_[static_cast<size_t>(i) * ch + c];
      if (!std::isfinite(v)) return error("audio contains NaN or infinite samples");
      if (std::fabs(v) > kMaxSampleMagnitude) {
        char value[32];
        std::snprintf(value, sizeof value, "%.3g", v);
        return error("audio sample " + std::to_string(frames_ + static_cast<size_t>(i)) + " is " + value +
                     ", far outside full scale (+-1); samples beyond +-1e6 are refused");
      }
      sum += v;
    }
    out[i] = ch == 1 ? sum : sum / ch;
  }
  frames_ += static_cast<size_t>(got);
  if (static_cast<double>(frames_) > max_frames_ + 1)
    return error("audio is longer than the limit of " + std::to_string(max_frames_ / rate_) + " s");
  return static_cast<size_t>(got);
}

Result<Audio> decode_audio(const uint8_t* data, size_t size, const AudioLimits& limits) {
  CC_TRY(auto reader, AudioReader::open(data, size, limits));
  Audio a;
  a.sample_rate = reader->sample_rate();
  for (;;) {
    const size_t at = a.samples.size();
    a.samples.resize(at + kBlockFrames);
    CC_TRY(size_t got, reader->read(a.samples.data() + at, kBlockFrames));
    a.samples.resize(at + got);
    if (got == 0) break;
  }
  return a;
}

Result<Audio> decode_audio_file(const std::string& path, const AudioLimits& limits) {
  CC_TRY(std::vector<uint8_t> bytes, read_file(path));
  auto a = decode_audio(bytes.data(), bytes.size(), limits);
  if (!a.ok()) return a.error().context(path);
  return a;
}

}  // namespace cc
