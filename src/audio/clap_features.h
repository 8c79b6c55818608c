// ClapFeatureExtractor as configured by preprocessor_config.json: the log-mel spectrogram of
// `_np_extract_fbank_features` and the padding of `_get_input_mel`, with deterministic
// choices where HF crops long audio at random. What the tower embeds for a whole clip
// (`windows` inputs of channels() x frames() x feature_size: one log-mel per window, or for a
// fused checkpoint the four channels of _get_input_mel's fusion path) is built by ClipWindows
// (clap_windows.h) as the clip streams in.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "audio/fft.h"
#include "core/result.h"

namespace cc {

struct ClapFeatureConfig {  // defaults: transformers' ClapFeatureExtractor
  int sampling_rate = 48000;
  int feature_size = 64;       // mel bins
  int fft_window_size = 1024;
  int hop_length = 480;
  double max_length_s = 10;
  double frequency_min = 0, frequency_max = 14000;
  std::string truncation = "fusion";  // "fusion" uses the HTK bank, anything else Slaney
  std::string padding = "repeatpad";  // "repeatpad", "repeat" or "pad"

  int max_samples() const { return static_cast<int>(max_length_s * sampling_rate); }
  int frames() const { return max_samples() / hop_length + 1; }  // 1001 for 10 s at 48 kHz, hop 480
};

Result<ClapFeatureConfig> read_clap_feature_config(const nlohmann::json& j);

// What to do with audio longer than max_length_s. HF's rand_trunc crops at random; these
// are repeatable.
enum class LongAudio {
  kWindows,  // consecutive windows every hop_seconds, the last one aligned to the end; vectors averaged
  kFirst,    // the first max_length_s
  kCenter,   // the middle max_length_s
  kFusion,   // fused checkpoints: the whole clip shrunk, plus front/middle/back chunks at fixed positions
};
Result<LongAudio> parse_long_audio(const std::string& name);

struct LongAudioOptions {
  LongAudio mode = LongAudio::kWindows;
  double hop_seconds = 10;
};

class ClapFeatureExtractor {
 public:
  explicit ClapFeatureExtractor(const ClapFeatureConfig& c);

  // Where the max_length_s windows of a clip (already at sampling_rate) start: {0} for clips
  // up to max_length_s (which `pad` then fills out), several starts in windows mode.
  std::vector<size_t> window_starts(size_t samples, const LongAudioOptions& opts) const;

  // A clip shorter than max_length_s, repeated and zero-padded as the config says (_get_input_mel).
  std::vector<double> pad(const std::vector<double>& wave) const;

  // log-mel spectrogram of `samples` samples (max_samples() unless given), [frames, feature_size],
  // float32 as HF returns it.
  std::vector<float> log_mel(const double* wave, size_t samples = 0) const;

  bool fused() const { return c_.truncation == "fusion"; }
  int channels() const { return fused() ? 4 : 1; }

  const ClapFeatureConfig& config() const { return c_; }
  const std::vector<double>& mel_filters() const { return filters_; }  // [bins, mel], as HF's

 private:
  ClapFeatureConfig c_;
  RealFft fft_;
  std::vector<double> window_;
  std::vector<double> filters_;
  std::vector<int> filter_first_, filter_last_;  // nonzero bin range of each filter
};

// _random_mel_fusion with fixed choices: channel 0 the whole mel shrunk to chunk_frames
// (bilinear, as torch.nn.functional.interpolate), then the first, middle and last candidate of
// HF's front/middle/back ranges. mel: [total_frames, bins] -> [4, chunk_frames, bins].
std::vector<float> fusion_chunks(const std::vector<float>& mel, int total_frames, int chunk_frames, int bins);

// audio_utils.mel_filter_bank: triangular filters, [num_bins, num_mel] row-major.
std::vector<double> mel_filter_bank(int num_bins, int num_mel, double fmin, double fmax, int sampling_rate,
                                    bool slaney);

}  // namespace cc
