// Audio decoding with libsndfile (the library behind Python's soundfile): WAV (PCM 8/16/24/32,
// float 32/64, WAVE_FORMAT_EXTENSIBLE), FLAC, OGG Vorbis, Opus and MP3, from a file or from
// memory; the containers libsndfile lacks (MP4/M4A, WebM/Matroska, raw AAC) through FFmpeg,
// whose samples are the ffmpeg CLI's (audio/ffmpeg_demux.h). The container is sniffed from the
// bytes. Samples are read as float64, as soundfile.read(dtype="float64") does, and downmixed
// to mono by the mean of the channels (librosa.to_mono), a block at a time, so a long clip can
// be resampled and cut into windows without ever being held whole at its own rate.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/memory_budget.h"
#include "core/result.h"

namespace cc {

struct Audio {
  int sample_rate = 0;
  std::vector<double> samples;  // mono

  double seconds() const { return sample_rate > 0 ? static_cast<double>(samples.size()) / sample_rate : 0; }
};

struct AudioLimits {
  double max_seconds = 600;         // longer clips are refused (configurable per call)
  int max_sample_rate = 384'000;    // and so are absurd rates, which would make resampling explode
  int max_channels = 64;
  MemoryBudget* budget = nullptr;   // what a clip's windows hold is taken from it (none: not counted)
};

// The largest sample magnitude accepted: full scale is 1, and a float file's samples may go
// past it, but not by this much. Beyond ~1e38 libsoxr's single-precision filters overflow and
// every vector would be NaN.
constexpr double kMaxSampleMagnitude = 1e6;

// Reads one clip block by block: mono samples at the file's rate, each checked (finite, within
// kMaxSampleMagnitude), the total within the limits.
class AudioReader {
 public:
  static Result<std::unique_ptr<AudioReader>> open(const uint8_t* data, size_t size, const AudioLimits& limits);
  ~AudioReader();
  AudioReader(const AudioReader&) = delete;
  AudioReader& operator=(const AudioReader&) = delete;

  int sample_rate() const { return rate_; }
  // Up to `max` samples into `out`; 0 once the clip has ended (an empty clip is an error).
  Result<size_t> read(double* out, size_t max);

 private:
  struct Source;
  AudioReader() = default;
  static Result<std::unique_ptr<AudioReader>> open_ffmpeg(const uint8_t* data, size_t size, const AudioLimits& limits);
  // Checks the stream's format and declared length (0: unknown) against the limits.
  Status start(int rate, int channels, double seconds, const AudioLimits& limits);
  std::unique_ptr<Source> source_;
  int rate_ = 0, channels_ = 0;
  double max_frames_ = 0;
  size_t frames_ = 0;
  std::vector<double> block_;  // interleaved
};

// The whole clip at its own rate.
Result<Audio> decode_audio(const uint8_t* data, size_t size, const AudioLimits& limits = {});
Result<Audio> decode_audio_file(const std::string& path, const AudioLimits& limits = {});

}  // namespace cc
