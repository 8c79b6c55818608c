// Audio decoding with libsndfile (the library behind Python's soundfile): WAV (PCM 8/16/24/32,
// float 32/64, WAVE_FORMAT_EXTENSIBLE), FLAC, OGG Vorbis, Opus and MP3, from a file or from
// memory. Samples are read as float64, as soundfile.read(dtype="float64") does, and downmixed
// to mono by the mean of the channels (librosa.to_mono).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

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
};

Result<Audio> decode_audio(const uint8_t* data, size_t size, const AudioLimits& limits = {});
Result<Audio> decode_audio_file(const std::string& path, const AudioLimits& limits = {});

}  // namespace cc
