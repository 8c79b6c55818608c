#include "model/video_embed.h"

#include <chrono>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "core/embeddings.h"

namespace cc {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// normalise(sum of weights[i] * rows[i]); empty when there are no rows.
std::vector<float> weighted_unit_mean(const std::vector<const std::vector<float>*>& rows, const std::vector<double>& weights) {
  if (rows.empty()) return {};
  std::vector<double> sum(rows[0]->size(), 0.0);
  for (size_t r = 0; r < rows.size(); ++r)
    for (size_t i = 0; i < sum.size(); ++i) sum[i] += weights[r] * (*rows[r])[i];
  double norm = 0;
  for (double x : sum) norm += x * x;
  norm = std::sqrt(norm);
  std::vector<float> out(sum.size());
  for (size_t i = 0; i < sum.size(); ++i) out[i] = static_cast<float>(norm > 0 ? sum[i] / norm : 0.0);
  return out;
}

void append_seconds(std::string& out, double s) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6f", s);
  out += text;
}

void append_vector_or_null(std::string& out, const std::vector<float>& v) {
  if (v.empty()) out += "null";
  else append_json_floats(out, v.data(), v.size());
}

}  // namespace

Result<PreparedVideo> prepare_video(const Embedder& model, const uint8_t* data, size_t size, const PrepareOptions& options) {
  const VideoOptions& vo = options.video;
  if (!(vo.fps > 0 && vo.fps <= 120)) return error("the video frame rate must be in (0, 120] frames per second");
  if (!(vo.segment_seconds >= 0.1)) return error("video segments must be at least 0.1 s long");
  if (!(vo.audio_weight >= 0 && vo.audio_weight <= 1)) return error("the soundtrack's weight must be in [0, 1]");
  const Capabilities caps = model.info().caps;
  if (!caps.image && !caps.audio)
    return error("model " + model.info().dir + " (" + capabilities_string(caps) + ") embeds neither images nor audio, so no video",
                 ErrorKind::kUnsupported);
  if (caps.audio) CC_CHECK(model.check_audio_options(options.long_audio));

  PreparedVideo v;
  MemoryBudget::Hold held(vo.limits.budget);  // the tower inputs made so far
  auto keep = [&](PreparedInput in) -> Status {
    CC_CHECK(held.add(in.bytes(), "the video's frames and soundtrack features"));
    v.inputs.push_back(std::move(in));
    return Ok{};
  };

  // Frames (none are decoded for a model without images: only the streams are read).
  const auto t0 = std::chrono::steady_clock::now();
  FrameSink sink;
  if (caps.image)
    sink = [&](double time, double frame_time, const Image& rgb) -> Status {
      const auto t1 = std::chrono::steady_clock::now();
      CC_TRY(PreparedInput in, prepare_image(model, rgb));
      CC_CHECK(keep(std::move(in)));
      v.frames.push_back({time, frame_time});
      v.prepare_seconds += seconds_since(t1);
      return Ok{};
    };
  CC_TRY(v.info, sample_video_frames(data, size, vo.fps, vo.threads, vo.limits, sink));
  v.decode_seconds = seconds_since(t0) - v.prepare_seconds;
  v.frame_inputs = v.inputs.size();
  if (!v.info.has_video) v.notes.push_back("no video stream: pooled from the soundtrack alone");
  else if (!caps.image) v.notes.push_back("model embeds no images: the frames are not used");

  // The soundtrack, a segment at a time.
  std::vector<double> audio_lengths;  // seconds, per soundtrack input
  std::vector<int> audio_segment;     // its segment
  double audio_seconds = 0;
  if (v.info.has_audio && caps.audio) {
    CC_TRY(auto reader, AudioReader::open(data, size, options.audio));
    const int rate = reader->sample_rate();
    const size_t segment = std::max<size_t>(1, static_cast<size_t>(std::llround(vo.segment_seconds * rate)));
    Audio piece{rate, {}};
    std::vector<double> block(8192);
    size_t total = 0;
    auto finish_piece = [&]() -> Status {
      if (piece.samples.empty()) return Ok{};
      const auto t1 = std::chrono::steady_clock::now();
      CC_TRY(PreparedInput in, prepare_audio(model, piece, options.long_audio));
      v.prepare_seconds += seconds_since(t1);
      audio_segment.push_back(static_cast<int>((total - piece.samples.size()) / segment));
      audio_lengths.push_back(piece.seconds());
      piece.samples.clear();
      return keep(std::move(in));
    };
    for (;;) {
      CC_TRY(size_t n, reader->read(block.data(), block.size()));
      if (n == 0) break;
      for (size_t i = 0; i < n;) {
        const size_t take = std::min(n - i, segment - piece.samples.size());
        piece.samples.insert(piece.samples.end(), block.begin() + static_cast<ptrdiff_t>(i), block.begin() + static_cast<ptrdiff_t>(i + take));
        i += take, total += take;
        if (piece.samples.size() == segment) CC_CHECK(finish_piece());
      }
    }
    CC_CHECK(finish_piece());
    audio_seconds = static_cast<double>(total) / rate;
  } else if (!v.info.has_audio) {
    v.notes.push_back("no soundtrack: pooled from the frames alone");
  } else {
    v.notes.push_back("model embeds no audio: the soundtrack is not used");
  }
  if (v.inputs.empty()) return error("the video has neither frames nor a soundtrack this model embeds");

  // Segments: every stretch of segment_seconds up to the end of whichever lasts longer.
  const double end = std::max(v.frames.empty() ? 0 : v.info.video_end, audio_seconds);
  const int count = std::max(1, static_cast<int>(std::ceil(end / vo.segment_seconds - 1e-9)));
  v.segments.resize(static_cast<size_t>(count));
  for (int s = 0; s < count; ++s) {
    v.segments[s].start = s * vo.segment_seconds;
    v.segments[s].end = std::min((s + 1) * vo.segment_seconds, end);
  }
  for (size_t f = 0; f < v.frames.size(); ++f) {
    auto& seg = v.segments[std::min<size_t>(static_cast<size_t>(v.frames[f].time / vo.segment_seconds), v.segments.size() - 1)];
    if (seg.frames == 0) seg.first_frame = static_cast<int>(f);
    ++seg.frames;
  }
  for (size_t a = 0; a < audio_segment.size(); ++a) {
    auto& seg = v.segments[std::min<size_t>(static_cast<size_t>(audio_segment[a]), v.segments.size() - 1)];
    seg.audio = static_cast<int>(a);
    seg.audio_seconds = audio_lengths[a];
  }
  held.release();  // the caller accounts for the inputs from here on
  return v;
}

void CallInputs::add(size_t item, PreparedInput input) {
  input_of_.at(item) = inputs_.size();
  inputs_.push_back(std::move(input));
}

void CallInputs::add(size_t item, PreparedVideo video) { videos_.emplace_back(item, std::move(video)); }

void CallInputs::add(size_t item, PreparedItem prepared) {
  std::visit([&](auto& p) { add(item, std::move(p)); }, prepared);
}

Result<PreparedItem> prepare_file(const Embedder& model, Modality modality, const uint8_t* data, size_t size,
                                  const PrepareOptions& options) {
  if (modality == Modality::kVideo) {
    CC_TRY(PreparedVideo video, prepare_video(model, data, size, options));
    return PreparedItem(std::move(video));
  }
  CC_TRY(PreparedInput input, prepare_encoded(model, modality, data, size, options));
  return PreparedItem(std::move(input));
}

std::vector<PreparedInput> CallInputs::take_tower_inputs() {
  std::vector<PreparedInput> all = std::move(inputs_);
  video_first_.clear();
  for (auto& [item, video] : videos_) {
    video_first_.push_back(all.size());
    for (auto& in : video.inputs) all.push_back(std::move(in));
    video.inputs.clear();
  }
  return all;
}

Result<CallInputs::ItemVectors> CallInputs::item_vectors(std::vector<std::vector<float>>& tower_vectors, double audio_weight) const {
  ItemVectors out;
  out.vectors.resize(input_of_.size());
  out.videos.resize(input_of_.size());
  for (size_t item = 0; item < input_of_.size(); ++item) {
    if (input_of_[item] == kNone) continue;
    if (input_of_[item] >= tower_vectors.size()) return error("an input's vector is missing", ErrorKind::kInternal);
    out.vectors[item] = std::move(tower_vectors[input_of_[item]]);
  }
  for (size_t k = 0; k < videos_.size(); ++k) {
    if (k >= video_first_.size()) return error("a video's inputs were not taken", ErrorKind::kInternal);
    CC_TRY(VideoEmbedding v, combine_video(videos_[k].second, tower_vectors, video_first_[k], audio_weight));
    out.vectors[videos_[k].first] = std::move(v.pooled);
    out.videos[videos_[k].first] = std::move(v);
  }
  return out;
}

Result<VideoEmbedding> combine_video(const PreparedVideo& video, const std::vector<std::vector<float>>& vectors, size_t first,
                                     double audio_weight) {
  size_t audio_inputs = 0;
  for (const auto& s : video.segments) audio_inputs += s.audio >= 0;
  if (first + video.frames.size() + audio_inputs > vectors.size()) return error("a video's vectors are missing", ErrorKind::kInternal);
  auto frame_vector = [&](size_t f) -> const std::vector<float>& { return vectors[first + f]; };
  auto audio_vector = [&](int a) -> const std::vector<float>& { return vectors[first + video.frames.size() + static_cast<size_t>(a)]; };

  VideoEmbedding out;
  out.notes = video.notes;
  std::vector<const std::vector<float>*> frames, sounds;
  std::vector<double> frame_weights, sound_weights;
  for (size_t f = 0; f < video.frames.size(); ++f) {
    out.frames.push_back({video.frames[f].time, video.frames[f].frame_time, frame_vector(f)});
    frames.push_back(&frame_vector(f));
    frame_weights.push_back(1);
  }
  for (const auto& s : video.segments) {
    VideoEmbedding::Segment seg{s.start, s.end, {}, {}, s.audio_seconds};
    std::vector<const std::vector<float>*> in_segment;
    for (int f = s.first_frame; f < s.first_frame + s.frames; ++f) in_segment.push_back(&frame_vector(static_cast<size_t>(f)));
    seg.image = weighted_unit_mean(in_segment, std::vector<double>(in_segment.size(), 1.0));
    if (s.audio >= 0) {
      seg.audio = audio_vector(s.audio);
      sounds.push_back(&audio_vector(s.audio));
      sound_weights.push_back(s.audio_seconds);
    }
    if (!seg.image.empty() || !seg.audio.empty()) out.segments.push_back(std::move(seg));
  }
  const std::vector<float> image = weighted_unit_mean(frames, frame_weights);
  const std::vector<float> audio = weighted_unit_mean(sounds, sound_weights);
  if (image.empty()) out.pooled = audio;
  else if (audio.empty()) out.pooled = image;
  else out.pooled = weighted_unit_mean({&image, &audio}, {1 - audio_weight, audio_weight});
  return out;
}

void append_video_json(std::string& out, const VideoEmbedding& v, bool frames) {
  out += ",\"segments\":[";
  for (size_t i = 0; i < v.segments.size(); ++i) {
    const auto& s = v.segments[i];
    out += i ? ",{\"start\":" : "{\"start\":";
    append_seconds(out, s.start);
    out += ",\"end\":";
    append_seconds(out, s.end);
    out += ",\"image\":";
    append_vector_or_null(out, s.image);
    out += ",\"audio\":";
    append_vector_or_null(out, s.audio);
    out += "}";
  }
  out += "]";
  if (frames) {
    out += ",\"frames\":[";
    for (size_t i = 0; i < v.frames.size(); ++i) {
      out += i ? ",{\"time\":" : "{\"time\":";
      append_seconds(out, v.frames[i].time);
      out += ",\"frame_time\":";
      append_seconds(out, v.frames[i].frame_time);
      out += ",\"embedding\":";
      append_json_floats(out, v.frames[i].vector.data(), v.frames[i].vector.size());
      out += "}";
    }
    out += "]";
  }
  out += ",\"notes\":" + nlohmann::json(v.notes).dump();
}

}  // namespace cc
