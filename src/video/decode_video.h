// Video frames through FFmpeg (MP4/MOV, WebM/Matroska), sampled at a fixed rate: at each
// sample time t = k / fps the frame shown at t (the last with a time <= t; the first frame for
// times before it), for every t before the video ends. Each sampled frame is converted to RGB as
// the ffmpeg CLI converts it for a PNG (libswscale, bicubic flags, the frame's own colour matrix
// and range) and turned upright as its autorotate does (90/180/270-degree display matrices), so
// it equals `ffmpeg -ss t -i video -frames:v 1 frame.png` decoded by Pillow.
//
// Only what is sampled is decoded where the codec allows: when the next sample lies past a
// keyframe ahead, the demuxer seeks to that keyframe; frames that nothing refers to and that
// lie far from any sample time are skipped by the decoder.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

#include "core/memory_budget.h"
#include "core/result.h"
#include "vision/image.h"

namespace cc {

struct VideoLimits {
  double max_seconds = 600;                          // the container's duration, and every frame's time
  int max_frames = 3600;                             // frames sampled
  int64_t max_pixels = 8192LL * 4320;                // of one frame (8K)
  int64_t max_decoded_bytes = int64_t{16} << 30;     // every picture the decoder makes, sampled or not
  MemoryBudget* budget = nullptr;                    // the decoder's pictures and the RGB frame are taken from it
};

// How a video is read and pooled (model/video_embed.h): frames every 1/fps seconds; the
// soundtrack cut into segments of segment_seconds (CLAP's window by default), each embedded
// as a clip; the pooled vector weighs the soundtrack by audio_weight.
struct VideoOptions {
  double fps = 1;
  double segment_seconds = 10;
  double audio_weight = 0.5;
  int threads = 1;  // the video decoder's
  VideoLimits limits;
};

struct VideoInfo {
  bool has_video = false, has_audio = false;
  double duration = 0;       // seconds, as the container says (0: unknown)
  double video_end = 0;      // when the last frame decoded stops being shown
  int width = 0, height = 0;  // of the frames handed on (upright)
  int rotation = 0;          // degrees clockwise applied to make them upright
  int frames_decoded = 0;    // pictures the decoder made
  int frames_sampled = 0;
};

// A sampled frame: its sample time, the time of the frame shown then (both in seconds from the
// start of the file), and its upright RGB pixels.
using FrameSink = std::function<Status(double time, double frame_time, const Image& rgb)>;

// Whether the bytes are a container FFmpeg opens here with a video stream in it (a video, not
// an audio file in the same container: an M4A, a WebM of Opus).
bool has_video_stream(const uint8_t* data, size_t size);

// Reads what the file holds (streams, duration) and hands each sampled frame to `sink` (none:
// only the streams are read). `threads`: the video decoder's.
Result<VideoInfo> sample_video_frames(const uint8_t* data, size_t size, double fps, int threads, const VideoLimits& limits,
                                      const FrameSink& sink);

}  // namespace cc
