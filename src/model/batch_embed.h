// Many inputs of mixed modalities through one model: each is prepared on its own (tokens,
// pixel_values, log-mel windows: where a bad input fails, alone), then each modality goes
// through its tower in batches, and the vectors come back in input order. `clipclap embed`,
// its --manifest runs and the Python package all embed through this.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/embedder.h"
#include "video/decode_video.h"

namespace cc {

// A video is not a tower's input: it becomes image and audio inputs (model/video_embed.h).
enum class Modality { kText, kImage, kAudio, kVideo };
const char* modality_name(Modality m);  // "text", "image", "audio", "video"

struct PreparedInput {
  Modality modality = Modality::kText;
  std::vector<int32_t> ids;   // text
  std::vector<float> pixels;  // image: one pixel_values
  ClipFeatures audio;         // audio

  size_t bytes() const { return ids.capacity() * sizeof(int32_t) + pixels.capacity() * sizeof(float) + audio.mel.capacity() * sizeof(float); }
};

struct PrepareOptions {
  ImageLimits image;
  AudioLimits audio;
  LongAudioOptions long_audio;
  VideoOptions video;
};

// `truncate`: as Embedder::tokenize.
Result<PreparedInput> prepare_text(const Embedder& model, const std::string& text, bool truncate = true);
// Encoded media (a file's bytes), sniffed from its content.
Result<PreparedInput> prepare_encoded(const Embedder& model, Modality modality, const uint8_t* data, size_t size,
                                      const PrepareOptions& options);
Result<PreparedInput> prepare_image(const Embedder& model, const Image& image);
Result<PreparedInput> prepare_audio(const Embedder& model, const Audio& clip, const LongAudioOptions& options);

// One vector per input, in order; the audio features are moved out of `inputs`. `progress`
// gets the count done after each batch.
Result<std::vector<std::vector<float>>> embed_prepared(const Embedder& model, std::vector<PreparedInput>& inputs, int batch,
                                                       const std::function<void(size_t done)>& progress = {});

}  // namespace cc
