// A video in the model's space: its sampled frames through the CLIP image path, its soundtrack
// in segments through the audio path, and one pooled vector for the whole.
//
// Segments are consecutive stretches of VideoOptions::segment_seconds (10 s: CLAP's window)
// from the start of the file. A segment's image vector is the normalised mean of the vectors
// of the frames sampled in it; its audio vector embeds its stretch of the soundtrack as a clip
// of its own (exactly as `embed --audio` embeds that cut: same resampling, padding, windows).
//
// The pooled vector, with w = audio_weight:
//   image = normalise(mean of every sampled frame's unit vector)
//   audio = normalise(mean of the segments' unit audio vectors, each weighted by its seconds of sound)
//   pooled = normalise((1 - w) * image + w * audio)
// A video without frames (or a model without images) pools its audio alone; one without a
// soundtrack (or a model without audio) its frames alone. The result says what was missing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "model/batch_embed.h"

namespace cc {

struct PreparedVideo {
  VideoInfo info;
  struct Frame {
    double time = 0, frame_time = 0;  // sample time, and the time of the frame shown then
  };
  std::vector<Frame> frames;
  struct Segment {
    double start = 0, end = 0;
    int first_frame = 0, frames = 0;  // into `frames`
    int audio = -1;                   // into the soundtrack inputs, -1: none
    double audio_seconds = 0;         // of soundtrack in it
  };
  std::vector<Segment> segments;
  std::vector<std::string> notes;  // what the video lacked, or the model could not use
  double decode_seconds = 0;       // frames decoded and converted to RGB
  double prepare_seconds = 0;      // pixel_values and log-mel features
  // The tower inputs: frames' pixel_values, then the segments' audio features.
  std::vector<PreparedInput> inputs;
  size_t frame_inputs = 0;
};

// Decodes and prepares a video (limits and rates from options.video; audio limits and the
// long-audio mode from options as for any clip).
Result<PreparedVideo> prepare_video(const Embedder& model, const uint8_t* data, size_t size, const PrepareOptions& options);

// What one item of a call becomes before the towers: an input, or a video.
using PreparedItem = std::variant<PreparedInput, PreparedVideo>;

// An encoded file of `modality` (image, audio or video) as one item.
Result<PreparedItem> prepare_file(const Embedder& model, Modality modality, const uint8_t* data, size_t size,
                                  const PrepareOptions& options);

struct VideoEmbedding {
  std::vector<float> pooled;
  struct Frame {
    double time = 0, frame_time = 0;
    std::vector<float> vector;
  };
  struct Segment {
    double start = 0, end = 0;
    std::vector<float> image, audio;  // empty when the segment has none
    double audio_seconds = 0;         // of soundtrack behind `audio`
  };
  std::vector<Frame> frames;
  std::vector<Segment> segments;
  std::vector<std::string> notes;
};

// Its fields after the pooled vector in a JSON object (the CLI's line, the server's data item):
//   ,"segments":[{"start","end","image","audio"}]   (null for what a segment lacks)
//   ,"frames":[{"time","frame_time","embedding"}]    (only with `frames`)
//   ,"notes":[...]                                   (what the video lacked)
void append_video_json(std::string& out, const VideoEmbedding& v, bool frames);

// The video's vectors from those of its inputs: vectors[first + i] is input i's.
Result<VideoEmbedding> combine_video(const PreparedVideo& video, const std::vector<std::vector<float>>& vectors, size_t first,
                                     double audio_weight);

// The items of one call (the CLI's inputs, a request's, a bulk batch's files) as the towers
// take them: each item is an input, a video, or nothing (it failed before the towers). The
// towers get the items' inputs in order, then each video's frames and soundtrack, so that
// everything batches together; each item then gets its vector back: its input's, or its
// video's pooled vector (with the segments and frames behind it).
class CallInputs {
 public:
  explicit CallInputs(size_t items) : input_of_(items, kNone) {}
  void add(size_t item, PreparedInput input);
  void add(size_t item, PreparedVideo video);
  void add(size_t item, PreparedItem prepared);
  const std::vector<std::pair<size_t, PreparedVideo>>& videos() const { return videos_; }  // item, video

  // Everything the towers take, in the order item_vectors expects (once: the inputs move out).
  std::vector<PreparedInput> take_tower_inputs();

  struct ItemVectors {
    std::vector<std::vector<float>> vectors;             // per item; empty for an item with nothing
    std::vector<std::optional<VideoEmbedding>> videos;   // per item: a video's, without its pooled vector
  };
  // `tower_vectors`, one per tower input in take_tower_inputs' order, are moved out.
  Result<ItemVectors> item_vectors(std::vector<std::vector<float>>& tower_vectors, double audio_weight) const;

 private:
  static constexpr size_t kNone = SIZE_MAX;
  std::vector<PreparedInput> inputs_;
  std::vector<std::pair<size_t, PreparedVideo>> videos_;
  std::vector<size_t> input_of_;             // per item: its index in inputs_, or kNone
  std::vector<size_t> video_first_;          // where each video's inputs start among the tower inputs
};

}  // namespace cc
