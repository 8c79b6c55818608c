#include "audio/decode_audio.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include <sndfile.h>
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
}

#include "audio/ffmpeg_demux.h"
#include "audio/ogg_check.h"
#include "core/file.h"

namespace cc {

// The bytes libsndfile reads through the callbacks below. Not in the anonymous namespace:
// AudioReader::Source, which has external linkage, holds one (-Wsubobject-linkage).
struct SndfileMemory {
  const uint8_t* data;
  sf_count_t size, pos;
};

namespace {

sf_count_t vio_length(void* user) { return static_cast<SndfileMemory*>(user)->size; }
sf_count_t vio_tell(void* user) { return static_cast<SndfileMemory*>(user)->pos; }
sf_count_t vio_seek(sf_count_t offset, int whence, void* user) {
  auto* m = static_cast<SndfileMemory*>(user);
  sf_count_t to = whence == SEEK_SET ? offset : whence == SEEK_CUR ? m->pos + offset : m->size + offset;
  if (to < 0 || to > m->size) return -1;
  return m->pos = to;
}
sf_count_t vio_read(void* out, sf_count_t n, void* user) {
  auto* m = static_cast<SndfileMemory*>(user);
  const sf_count_t take = std::max<sf_count_t>(0, std::min(n, m->size - m->pos));
  std::memcpy(out, m->data + m->pos, static_cast<size_t>(take));
  m->pos += take;
  return take;
}
sf_count_t vio_write(const void*, sf_count_t, void*) { return 0; }

constexpr size_t kBlockFrames = 8192;
constexpr const char* kFormats = "WAV, FLAC, OGG Vorbis, Opus, MP3, M4A/AAC, MP4, WebM, Matroska";

// Sample `i` of channel `c` of a decoded frame, as a double at full scale 1: what the ffmpeg
// CLI's float output holds for the float formats (AAC, Opus, Vorbis, MP3 decode to float), and
// libsndfile's normalisation for the integer ones.
double sample_of(const AVFrame* f, int i, int c, int channels) {
  const auto fmt = static_cast<AVSampleFormat>(f->format);
  const bool planar = av_sample_fmt_is_planar(fmt);
  const uint8_t* base = planar ? f->extended_data[c] : f->extended_data[0];
  const size_t at = planar ? static_cast<size_t>(i) : static_cast<size_t>(i) * channels + c;
  switch (av_get_packed_sample_fmt(fmt)) {
    case AV_SAMPLE_FMT_FLT: return reinterpret_cast<const float*>(base)[at];
    case AV_SAMPLE_FMT_DBL: return reinterpret_cast<const double*>(base)[at];
    case AV_SAMPLE_FMT_S16: return reinterpret_cast<const int16_t*>(base)[at] / 32768.0;
    case AV_SAMPLE_FMT_S32: return reinterpret_cast<const int32_t*>(base)[at] / 2147483648.0;
    case AV_SAMPLE_FMT_S64: return static_cast<double>(reinterpret_cast<const int64_t*>(base)[at]) / 9223372036854775808.0;
    case AV_SAMPLE_FMT_U8: return (base[at] - 128) / 128.0;
    default: return 0;
  }
}

}  // namespace

// libsndfile for the formats it reads (soundfile's, so parity with Python holds), FFmpeg for
// the containers it does not: MP4/M4A, WebM/Matroska, raw AAC.
struct AudioReader::Source {
  SndfileMemory mem;
  SF_VIRTUAL_IO io{vio_length, vio_seek, vio_read, vio_write, vio_tell};
  SNDFILE* file = nullptr;

  std::unique_ptr<Demuxer> demuxer;
  AvFramePtr frame;
  int frame_pos = 0, frame_len = 0;  // samples of `frame` already read, and its length

  // Up to `max` interleaved frames into `out` from FFmpeg's decoder.
  Result<size_t> read_ffmpeg(double* out, size_t max, int rate, int channels) {
    size_t n = 0;
    while (n < max) {
      if (frame_pos == frame_len) {
        CC_TRY(bool more, demuxer->next_frame(frame.get()));
        if (!more) break;
        if (frame->sample_rate != rate || frame->ch_layout.nb_channels != channels)
          return error("the audio changes its sample rate or channel count midway (" + std::to_string(rate) + " Hz x" +
                       std::to_string(channels) + " -> " + std::to_string(frame->sample_rate) + " Hz x" +
                       std::to_string(frame->ch_layout.nb_channels) + ")");
        frame_pos = 0, frame_len = frame->nb_samples;
        continue;
      }
      const size_t take = std::min(max - n, static_cast<size_t>(frame_len - frame_pos));
      for (size_t i = 0; i < take; ++i)
        for (int c = 0; c < channels; ++c) out[(n + i) * channels + c] = sample_of(frame.get(), frame_pos + static_cast<int>(i), c, channels);
      n += take;
      frame_pos += static_cast<int>(take);
    }
    return n;
  }
};

AudioReader::~AudioReader() {
  if (source_ && source_->file) sf_close(source_->file);
}

Result<std::unique_ptr<AudioReader>> AudioReader::open(const uint8_t* data, size_t size, const AudioLimits& limits) {
  if (size == 0) return error("empty audio data");
  if (ffmpeg_container_name(data, size)) return open_ffmpeg(data, size, limits);
  if (size >= 4 && std::memcmp(data, "ADIF", 4) == 0) return error(std::string("unsupported audio format: AAC in ADIF (supported: ") + kFormats + ")");
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
  if (!s.file) return error(std::string("not audio in a supported format (") + kFormats + "): " + sf_strerror(nullptr));
  CC_CHECK(r->start(info.samplerate, info.channels, info.frames > 0 && info.samplerate > 0 ? info.frames / static_cast<double>(info.samplerate) : 0, limits));
  return r;
}

Result<std::unique_ptr<AudioReader>> AudioReader::open_ffmpeg(const uint8_t* data, size_t size, const AudioLimits& limits) {
  std::unique_ptr<AudioReader> r(new AudioReader());
  r->source_ = std::make_unique<Source>();
  Source& s = *r->source_;
  CC_TRY(s.demuxer, Demuxer::open(data, size));
  CC_CHECK(s.demuxer->select(StreamKind::kAudio, 1));
  s.frame = make_av_frame();
  const AVCodecParameters* p = s.demuxer->stream()->codecpar;
  CC_CHECK(r->start(p->sample_rate, p->ch_layout.nb_channels, s.demuxer->duration_seconds(), limits));
  return r;
}

Status AudioReader::start(int rate, int channels, double seconds, const AudioLimits& limits) {
  if (rate <= 0 || rate > limits.max_sample_rate)
    return error("sample rate " + std::to_string(rate) + " Hz is outside 1.." + std::to_string(limits.max_sample_rate));
  if (channels <= 0 || channels > limits.max_channels)
    return error(std::to_string(channels) + " channels (at most " + std::to_string(limits.max_channels) + ")");
  rate_ = rate;
  channels_ = channels;
  max_frames_ = limits.max_seconds * rate;
  if (seconds > limits.max_seconds + 1.0 / rate)
    return error("audio is " + std::to_string(seconds) + " s long; the limit is " + std::to_string(limits.max_seconds) + " s", ErrorKind::kTooLarge);
  block_.resize(kBlockFrames * static_cast<size_t>(channels));
  return Ok{};
}

Result<size_t> AudioReader::read(double* out, size_t max) {
  const sf_count_t want = static_cast<sf_count_t>(std::min(max, kBlockFrames));
  sf_count_t got = 0;
  if (source_->demuxer) {
    CC_TRY(size_t n, source_->read_ffmpeg(block_.data(), static_cast<size_t>(want), rate_, channels_));
    got = static_cast<sf_count_t>(n);
  } else {
    got = sf_readf_double(source_->file, block_.data(), want);
    if (got <= 0 && sf_error(source_->file) != SF_ERR_NO_ERROR) return error(std::string("corrupt or truncated audio: ") + sf_strerror(source_->file));
  }
  if (got <= 0) {
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
    return error("audio is longer than the limit of " + std::to_string(max_frames_ / rate_) + " s", ErrorKind::kTooLarge);
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
