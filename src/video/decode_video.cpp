#include "video/decode_video.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>
}

#include "audio/ffmpeg_demux.h"

namespace cc {

namespace {

std::string seconds_text(double s) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", s);
  return text;
}

// The clockwise rotation the ffmpeg CLI's autorotate applies for a stream's display matrix
// (fftools get_rotation: the matrix's angle negated, rounded, into [0, 360)); 0 for none or
// for angles that are not a multiple of 90 degrees, which it would rotate by an arbitrary angle.
int display_rotation(const AVStream* st) {
  const auto* matrix = reinterpret_cast<const int32_t*>(av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, nullptr));
  if (!matrix) return 0;
  double theta = -std::round(av_display_rotation_get(matrix));
  if (!std::isfinite(theta)) return 0;
  theta -= 360 * std::floor(theta / 360 + 0.9 / 360);
  for (int r : {90, 180, 270})
    if (std::fabs(theta - r) < 1.0) return r;
  return 0;
}

// `in` turned `degrees` clockwise (the transpose=clock, hflip+vflip and transpose=cclock filters).
Image rotate(const Image& in, int degrees) {
  const int w = in.width, h = in.height;
  Image out = degrees == 180 ? make_image(w, h) : make_image(h, w);
  for (int oy = 0; oy < out.height; ++oy)
    for (int ox = 0; ox < out.width; ++ox) {
      const int x = degrees == 90 ? oy : degrees == 270 ? w - 1 - oy : w - 1 - ox;
      const int y = degrees == 90 ? h - 1 - ox : degrees == 270 ? ox : h - 1 - oy;
      std::copy_n(in.pixel(x, y), 3, out.rgb.data() + (static_cast<size_t>(oy) * out.width + ox) * 3);
    }
  return out;
}

// Decoded pictures into RGB, as the ffmpeg CLI's scale filter makes them for a PNG: libswscale
// with the CLI's default "bicubic" flags, and the frame's colour matrix and range (vf_scale's
// in_color_matrix=auto).
class RgbConverter {
 public:
  ~RgbConverter() {
    sws_freeContext(sws_);
    av_free(rows_);
  }

  Status convert(const AVFrame* f, Image& out) {
    sws_ = sws_getCachedContext(sws_, f->width, f->height, static_cast<AVPixelFormat>(f->format), f->width, f->height, AV_PIX_FMT_RGB24,
                                SWS_BICUBIC, nullptr, nullptr, nullptr);
    if (!sws_) return error(std::string("cannot convert video frames of pixel format ") + (av_get_pix_fmt_name(static_cast<AVPixelFormat>(f->format)) ?: "?") + " to RGB",
                            ErrorKind::kUnsupported);
    int* inv_table = nullptr;
    int* table = nullptr;
    int src_range = 0, dst_range = 0, brightness = 0, contrast = 0, saturation = 0;
    sws_getColorspaceDetails(sws_, &inv_table, &src_range, &table, &dst_range, &brightness, &contrast, &saturation);
    const int full = f->color_range == AVCOL_RANGE_JPEG ? 1 : f->color_range == AVCOL_RANGE_UNSPECIFIED ? src_range : 0;
    sws_setColorspaceDetails(sws_, sws_getCoefficients(f->colorspace), full, table, dst_range, brightness, contrast, saturation);
    if (out.width != f->width || out.height != f->height) out = make_image(f->width, f->height);
    // libswscale's SIMD paths write past the end of a row (FFmpeg ticket 9254: a fuzzed video
    // corrupted the heap through the image's last row), so it writes into aligned rows with room
    // to spare, which are copied out.
    const size_t row = static_cast<size_t>(f->width) * 3, stride = (row + 63) / 64 * 64 + 64;
    const size_t need = stride * static_cast<size_t>(f->height) + 64;
    if (need > rows_size_) {
      av_free(rows_);
      rows_ = static_cast<uint8_t*>(av_malloc(need));
      rows_size_ = rows_ ? need : 0;
      if (!rows_) return error("out of memory converting a video frame to RGB", ErrorKind::kTooLarge);
    }
    uint8_t* dst[4] = {rows_, nullptr, nullptr, nullptr};
    const int dst_stride[4] = {static_cast<int>(stride), 0, 0, 0};
    if (sws_scale(sws_, f->data, f->linesize, 0, f->height, dst, dst_stride) != f->height)
      return error("a video frame could not be converted to RGB");
    for (int y = 0; y < f->height; ++y) std::memcpy(out.rgb.data() + y * row, rows_ + y * stride, row);
    return Ok{};
  }

 private:
  SwsContext* sws_ = nullptr;
  uint8_t* rows_ = nullptr;  // av_malloc'd: aligned as libswscale wants
  size_t rows_size_ = 0;
};

// Which packets the decoder may skip: those whose frames nothing refers to (AVDISCARD_NONREF)
// and that lie well before the next sample time, so they cannot be the frame shown at it.
struct SkipPolicy {
  double fps, margin;
  static int filter(double t, void* user) {
    const auto* p = static_cast<const SkipPolicy*>(user);
    const double next_sample = std::ceil(t * p->fps - 1e-9) / p->fps;
    return next_sample - t > p->margin ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
  }
};

}  // namespace

bool has_video_stream(const uint8_t* data, size_t size) {
  if (!ffmpeg_container_name(data, size)) return false;
  auto demuxer = Demuxer::open(data, size);
  return demuxer.ok() && demuxer.value()->has(StreamKind::kVideo);
}

Result<VideoInfo> sample_video_frames(const uint8_t* data, size_t size, double fps, int threads, const VideoLimits& limits,
                                      const FrameSink& sink) {
  if (!(fps > 0)) return error("the frame rate to sample at must be positive");
  CC_TRY(std::unique_ptr<Demuxer> demuxer, Demuxer::open(data, size));
  VideoInfo info;
  info.has_video = demuxer->has(StreamKind::kVideo);
  info.has_audio = demuxer->has(StreamKind::kAudio);
  info.duration = demuxer->duration_seconds();
  if (info.duration > limits.max_seconds)
    return error("the video is " + seconds_text(info.duration) + " s long; the limit is " + seconds_text(limits.max_seconds) + " s",
                 ErrorKind::kTooLarge);
  if (!info.has_video || !sink) return info;
  if (info.duration > 0 && std::ceil(info.duration * fps) > limits.max_frames)
    return error("the video would give " + std::to_string(static_cast<int64_t>(std::ceil(info.duration * fps))) + " frames at " +
                     seconds_text(fps) + " per second; the limit is " + std::to_string(limits.max_frames),
                 ErrorKind::kTooLarge);

  CC_CHECK(demuxer->select(StreamKind::kVideo, threads, limits.max_pixels));
  const AVStream* st = demuxer->stream();
  const int64_t declared = static_cast<int64_t>(st->codecpar->width) * st->codecpar->height;
  // What decoding holds: the decoder's reference pictures (1.5 bytes a pixel in 4:2:0; H.264's
  // levels up to 5.2 bound them to 70 MB or 16 pictures, and at least 4 are counted), one more
  // per thread and the one being output, then the RGB frame and its rotated copy.
  info.rotation = display_rotation(st);
  const int64_t pixels = std::max<int64_t>(declared, 1);
  const int64_t picture = pixels * 3 / 2 + 1;
  const int64_t references = std::clamp<int64_t>((70'778'880 + picture - 1) / picture, 4, 16);
  const int64_t holds = picture * (references + threads + 1) + pixels * 3 * (info.rotation ? 2 : 1);
  CC_TRY(MemoryBudget::Hold hold, MemoryBudget::take(limits.budget, static_cast<size_t>(holds),
                                                     "decoding " + std::to_string(st->codecpar->width) + "x" + std::to_string(st->codecpar->height) + " video"));

  const double rate = st->avg_frame_rate.num > 0 && st->avg_frame_rate.den > 0 ? av_q2d(st->avg_frame_rate) : 30;
  SkipPolicy skip{fps, std::max(3 / rate, 0.1)};
  demuxer->set_packet_filter(&SkipPolicy::filter, &skip);
  const AVRational base = st->time_base;
  const double start = demuxer->start_seconds();

  RgbConverter converter;
  Image rgb, upright;
  double converted_time = -1;  // the frame time `upright` holds
  auto emit = [&](const AVFrame* f, double frame_time, double time) -> Status {
    if (info.frames_sampled >= limits.max_frames)
      return error("the video gives more than " + std::to_string(limits.max_frames) + " frames at " + seconds_text(fps) + " per second",
                   ErrorKind::kTooLarge);
    if (frame_time != converted_time) {  // a frame shown at several sample times is converted once
      CC_CHECK(converter.convert(f, info.rotation ? rgb : upright));
      if (info.rotation) upright = rotate(rgb, info.rotation);
      converted_time = frame_time;
    }
    info.width = upright.width, info.height = upright.height;
    ++info.frames_sampled;
    return sink(time, frame_time, upright);
  };

  const double reorder = st->codecpar->video_delay / rate;
  // Matroska reads its index (Cues) on the first seek only: seek to the start, so that the
  // keyframes ahead are known from there on. (A file without an index simply is not sought in.)
  if (std::strcmp(ffmpeg_container_name(data, size), "Matroska") == 0) (void)demuxer->seek(0);
  double sought = -1;  // the last sample time sought
  AvFramePtr frame = make_av_frame(), held = make_av_frame();
  double held_time = 0, held_end = 0;
  bool holding = false;
  int64_t next = 0;  // the next sample: time next / fps
  int64_t decoded_bytes = 0;
  for (;;) {
    CC_TRY(bool got, demuxer->next_frame(frame.get()));
    if (!got) break;
    ++info.frames_decoded;
    if (static_cast<int64_t>(frame->width) * frame->height > limits.max_pixels)  // the decoder's own max_pixels should stop this first
      return error("a video frame is " + std::to_string(frame->width) + "x" + std::to_string(frame->height) + "; the limit is " +
                       std::to_string(limits.max_pixels) + " pixels",
                   ErrorKind::kTooLarge);
    decoded_bytes += std::max(0, av_image_get_buffer_size(static_cast<AVPixelFormat>(frame->format), frame->width, frame->height, 1));
    if (decoded_bytes > limits.max_decoded_bytes)
      return error("the video decodes to more than " + std::to_string(limits.max_decoded_bytes >> 20) + " MiB of pictures", ErrorKind::kTooLarge);
    const int64_t ts = frame->best_effort_timestamp;
    if (ts == AV_NOPTS_VALUE) continue;  // a frame with no time cannot be placed
    const double t = ts * av_q2d(base) - start;
    if (t > limits.max_seconds)
      return error("the video runs past the limit of " + seconds_text(limits.max_seconds) + " s", ErrorKind::kTooLarge);
    // Every sample time before this frame's is shown the held frame (or this one, when it is
    // the first).
    while (static_cast<double>(next) / fps < t) {
      if (holding) CC_CHECK(emit(held.get(), held_time, static_cast<double>(next) / fps));
      else CC_CHECK(emit(frame.get(), t, static_cast<double>(next) / fps));
      ++next;
    }
    av_frame_unref(held.get());
    av_frame_move_ref(held.get(), frame.get());
    holding = true;
    held_time = t;
    held_end = t + (held->pkt_duration > 0 ? held->pkt_duration * av_q2d(base) : 1 / rate);
    // The next sample lies past a keyframe ahead of what is decoding: go there. The index
    // gives decoding times (MP4's), which a keyframe's display time follows by the codec's
    // reordering delay, so the keyframe looked for is one shown by the sample time; the seek
    // itself, like the ffmpeg CLI's, lands on the keyframe shown by that time. Each sample
    // time is sought at most once.
    const double sample = static_cast<double>(next) / fps;
    if (sample > sought && demuxer->keyframe_before(sample - reorder) > held_end + 1e-6) {
      CC_CHECK(demuxer->seek(sample));
      sought = sample;
    }
  }
  // The last frame is shown until it ends.
  for (; holding && static_cast<double>(next) / fps < held_end; ++next) CC_CHECK(emit(held.get(), held_time, static_cast<double>(next) / fps));
  if (holding) info.video_end = held_end;
  if (info.frames_decoded == 0) info.has_video = false;
  return info;
}

}  // namespace cc
