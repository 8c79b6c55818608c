// FFmpeg's demuxers and decoders over bytes in memory, locked down for hostile input. Only the
// containers clipclap takes through FFmpeg are allowed (the MP4/MOV family, Matroska/WebM, raw
// AAC), only the codecs it expects in them, and nothing a file names is ever opened (MOV
// references, Matroska's linked segments). A Demuxer reads one stream; the others are
// discarded by the demuxer itself, so a video's frames and its soundtrack are read by two
// Demuxers over the same bytes, each at its own pace (frames may be sought, sound never is).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/result.h"

extern "C" {
struct AVCodecContext;
struct AVFormatContext;
struct AVFrame;
struct AVPacket;
struct AVStream;
}

namespace cc {

// The containers that go to FFmpeg, sniffed from the bytes; nullptr for anything else.
const char* ffmpeg_container_name(const uint8_t* data, size_t size);

// FFmpeg's message for an AVERROR code.
std::string av_error_text(int code);

enum class StreamKind { kAudio, kVideo };

struct AvFrameFree { void operator()(AVFrame* f) const; };
using AvFramePtr = std::unique_ptr<AVFrame, AvFrameFree>;
AvFramePtr make_av_frame();

class Demuxer {
 public:
  // Opens the container; the bytes must outlive the Demuxer.
  static Result<std::unique_ptr<Demuxer>> open(const uint8_t* data, size_t size);
  ~Demuxer();
  Demuxer(const Demuxer&) = delete;
  Demuxer& operator=(const Demuxer&) = delete;

  // Whether the container has a decodable stream of that kind.
  bool has(StreamKind kind) const;
  // The container's duration in seconds (0 when it does not say).
  double duration_seconds() const;
  // Where the file's timeline starts, in seconds: frame times are given from there, as the
  // ffmpeg CLI gives them.
  double start_seconds() const;

  // Chooses the best stream of that kind (FFmpeg's av_find_best_stream) and opens its decoder
  // with `threads` threads, refusing pictures over `max_pixels` (0: no limit); every other
  // stream is discarded from here on.
  Status select(StreamKind kind, int threads, int64_t max_pixels = 0);
  AVStream* stream() const { return stream_; }
  AVCodecContext* decoder() const { return decoder_; }

  // The next decoded frame of the selected stream into `frame`; false at the end.
  Result<bool> next_frame(AVFrame* frame);
  // The keyframe at or before `seconds` in the container's index (-1: none known). Index times
  // are decoding times (which precede display times when frames are reordered).
  double keyframe_before(double seconds) const;
  // Seeks the selected stream to the keyframe shown at or before `seconds` (a display time,
  // as the ffmpeg CLI's -ss) and flushes the decoder.
  Status seek(double seconds);
  // Before each packet is decoded, `filter` gets its time in seconds (on the file's timeline)
  // and returns the decoder's skip_frame for it (an AVDiscard): frames nobody will look at
  // need not be decoded when nothing refers to them.
  void set_packet_filter(int (*filter)(double seconds, void* user), void* user) { filter_ = filter, filter_user_ = user; }

 private:
  struct Input;
  Demuxer() = default;
  std::unique_ptr<Input> input_;
  AVFormatContext* format_ = nullptr;
  AVStream* stream_ = nullptr;
  AVCodecContext* decoder_ = nullptr;
  AVPacket* packet_ = nullptr;
  bool draining_ = false;
  int (*filter_)(double, void*) = nullptr;
  void* filter_user_ = nullptr;
};

}  // namespace cc
