// Fuzz target: audio decoding (libsndfile behind the Ogg/Vorbis checks), mixing, streaming
// resampling and the window cutter, with short windows so that each input runs fast.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "audio/clap_windows.h"
#include "audio/decode_audio.h"
#include "audio/resample.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const cc::ClapFeatureExtractor features([] {
    cc::ClapFeatureConfig c;
    c.sampling_rate = 16000;
    c.max_length_s = 0.1;  // 1,600 samples
    c.fft_window_size = 256;
    c.hop_length = 160;
    c.frequency_max = 8000;
    c.truncation = "rand_trunc";
    return c;
  }());
  cc::MemoryBudget budget(64 << 20);
  cc::AudioLimits limits;
  limits.max_seconds = 5;
  limits.budget = &budget;
  auto reader = cc::AudioReader::open(data, size, limits);
  if (!reader.ok()) return 0;
  auto resampler = cc::Resampler::create(reader.value()->sample_rate(), 16000);
  if (!resampler.ok()) return 0;
  cc::ClipWindows windows(features, {size % 2 ? cc::LongAudio::kWindows : cc::LongAudio::kFirst, 0.05}, std::nullopt, &budget);
  std::vector<double> block(4096), out;
  for (;;) {
    auto n = reader.value()->read(block.data(), block.size());
    if (!n.ok()) return 0;
    out.clear();
    if (n.value() == 0) {
      if (resampler.value()->finish(out).ok() && windows.push(out.data(), out.size()).ok()) (void)windows.finish();
      return 0;
    }
    if (!resampler.value()->push(block.data(), n.value(), out).ok() || !windows.push(out.data(), out.size()).ok()) return 0;
  }
}
