#include "model/batch_embed.h"

namespace cc {

const char* modality_name(Modality m) {
  switch (m) {
    case Modality::kText: return "text";
    case Modality::kImage: return "image";
    case Modality::kAudio: return "audio";
    case Modality::kVideo: return "video";
  }
  return "?";
}

Result<PreparedInput> prepare_text(const Embedder& model, const std::string& text, bool truncate) {
  PreparedInput in{Modality::kText, {}, {}, {}};
  CC_TRY(in.ids, model.tokenize(text, truncate));
  return in;
}

Result<PreparedInput> prepare_encoded(const Embedder& model, Modality modality, const uint8_t* data, size_t size,
                                      const PrepareOptions& options) {
  PreparedInput in{modality, {}, {}, {}};
  if (modality == Modality::kImage) {
    CC_TRY(in.pixels, model.pixel_values(data, size, options.image));
  } else if (modality == Modality::kAudio) {
    CC_CHECK(model.check_audio_options(options.long_audio));  // before decoding
    CC_TRY(in.audio, model.audio_features(data, size, options.audio, options.long_audio));
  } else {
    return error(std::string(modality_name(modality)) + " is not prepared as one input", ErrorKind::kInternal);
  }
  return in;
}

Result<PreparedInput> prepare_image(const Embedder& model, const Image& image) {
  PreparedInput in{Modality::kImage, {}, {}, {}};
  CC_TRY(in.pixels, model.pixel_values(image));
  return in;
}

Result<PreparedInput> prepare_audio(const Embedder& model, const Audio& clip, const LongAudioOptions& options) {
  PreparedInput in{Modality::kAudio, {}, {}, {}};
  CC_CHECK(model.check_audio_options(options));
  CC_TRY(in.audio, model.audio_features(clip, options));
  return in;
}

Result<std::vector<std::vector<float>>> embed_prepared(const Embedder& model, std::vector<PreparedInput>& inputs, int batch,
                                                       const std::function<void(size_t)>& progress) {
  for (const auto& in : inputs)
    if (in.modality == Modality::kVideo) return error("a video goes in as its frames and soundtrack (CallInputs)", ErrorKind::kInternal);
  std::vector<std::vector<float>> vectors(inputs.size());
  size_t done = 0;
  for (const Modality modality : {Modality::kText, Modality::kImage, Modality::kAudio}) {
    std::vector<size_t> group;
    for (size_t i = 0; i < inputs.size(); ++i)
      if (inputs[i].modality == modality) group.push_back(i);
    for (size_t start = 0; start < group.size(); start += static_cast<size_t>(batch)) {
      const size_t end = std::min(group.size(), start + static_cast<size_t>(batch));
      Result<Embeddings> e = Embeddings{};
      if (modality == Modality::kText) {
        std::vector<std::vector<int32_t>> ids;
        for (size_t k = start; k < end; ++k) ids.push_back(inputs[group[k]].ids);
        e = model.embed_token_ids(ids);
      } else if (modality == Modality::kImage) {
        std::vector<float> pixels;
        for (size_t k = start; k < end; ++k) pixels.insert(pixels.end(), inputs[group[k]].pixels.begin(), inputs[group[k]].pixels.end());
        e = model.embed_pixel_values(pixels, static_cast<int>(end - start));
      } else {
        std::vector<ClipFeatures> clips;
        for (size_t k = start; k < end; ++k) clips.push_back(std::move(inputs[group[k]].audio));
        e = model.embed_audio_features(clips);
      }
      if (!e.ok()) return e.error();
      for (size_t k = start; k < end; ++k) vectors[group[k]].assign(e->row(k - start), e->row(k - start) + e->dim);
      done += end - start;
      if (progress) progress(done);
    }
  }
  return vectors;
}

}  // namespace cc
