// Fuzz target: FFmpeg's demuxers (MP4/MOV, Matroska/WebM, AAC) and decoders as clipclap drives
// them: frames sampled (keyframe seeks, skipped frames, RGB conversion, rotation) and the
// soundtrack read through the audio reader, with small limits so each input runs fast.
// FFmpeg itself is Debian's build, not instrumented: coverage guides through clipclap's side,
// and ASan catches what crashes or leaks on FFmpeg's.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "audio/decode_audio.h"
#include "video/decode_video.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cc::MemoryBudget budget(64 << 20);
  cc::VideoLimits limits;
  limits.max_seconds = 30;
  limits.max_frames = 16;
  limits.max_pixels = 256 * 256;
  limits.max_decoded_bytes = 16 << 20;
  limits.budget = &budget;
  uint64_t checksum = 0;
  auto info = cc::sample_video_frames(data, size, size % 2 ? 1.0 : 5.0, 1, limits, [&](double, double, const cc::Image& rgb) {
    for (uint8_t b : rgb.rgb) checksum += b;
    return cc::Status(cc::Ok{});
  });
  if (info.ok() && checksum == 1) return 0;  // (keeps the pixels read)
  cc::AudioLimits audio;
  audio.max_seconds = 30;
  audio.budget = &budget;
  auto reader = cc::AudioReader::open(data, size, audio);
  if (!reader.ok()) return 0;
  std::vector<double> block(4096);
  for (;;) {
    auto n = reader.value()->read(block.data(), block.size());
    if (!n.ok() || n.value() == 0) break;
  }
  return 0;
}
