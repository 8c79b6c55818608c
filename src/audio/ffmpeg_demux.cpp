#include "audio/ffmpeg_demux.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>
}

namespace cc {

namespace {

// The decoders a phone, a browser or a camera puts in these containers, by FFmpeg's names;
// any other codec inside them is refused before its decoder opens.
constexpr const char* kCodecWhitelist =
    "h264,hevc,vp8,vp9,libdav1d,av1,mpeg4,"
    "aac,aac_fixed,opus,vorbis,mp3float,mp3,flac,alac,"
    "pcm_s16le,pcm_s16be,pcm_s24le,pcm_s24be,pcm_s32le,pcm_s32be,pcm_f32le,pcm_f32be,pcm_f64le,pcm_u8";

// FFmpeg's log goes nowhere (errors are returned with context instead), and no single
// allocation may exceed 1 GiB, whatever a header claims.
void configure_ffmpeg_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    av_log_set_level(AV_LOG_QUIET);
    av_max_alloc(size_t{1} << 30);
  });
}

// Nothing a container names is opened: MOV data references, Matroska's linked segments.
int refuse_nested_open(AVFormatContext*, AVIOContext**, const char*, int, AVDictionary**) { return AVERROR(EPERM); }

double seconds_of(int64_t ts, AVRational base) { return static_cast<double>(ts) * av_q2d(base); }

}  // namespace

const char* ffmpeg_container_name(const uint8_t* d, size_t n) {
  if (n >= 12 && std::memcmp(d + 4, "ftyp", 4) == 0) return "MP4";
  if (n >= 4 && d[0] == 0x1A && d[1] == 0x45 && d[2] == 0xDF && d[3] == 0xA3) return "Matroska";
  if (n >= 2 && d[0] == 0xFF && (d[1] & 0xF6) == 0xF0) return "AAC";  // ADTS
  return nullptr;
}

std::string av_error_text(int code) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, text, sizeof text);
  return text;
}

void AvFrameFree::operator()(AVFrame* f) const { av_frame_free(&f); }
AvFramePtr make_av_frame() { return AvFramePtr(av_frame_alloc()); }

// The bytes, as FFmpeg's I/O layer reads them.
struct Demuxer::Input {
  const uint8_t* data;
  int64_t size, pos = 0;
  AVIOContext* io = nullptr;

  static int read(void* user, uint8_t* out, int n) {
    auto* in = static_cast<Input*>(user);
    const int64_t take = std::min<int64_t>(n, in->size - in->pos);
    if (take <= 0) return AVERROR_EOF;
    std::memcpy(out, in->data + in->pos, static_cast<size_t>(take));
    in->pos += take;
    return static_cast<int>(take);
  }
  static int64_t seek(void* user, int64_t offset, int whence) {
    auto* in = static_cast<Input*>(user);
    if (whence & AVSEEK_SIZE) return in->size;
    const int64_t to = (whence & ~AVSEEK_FORCE) == SEEK_SET ? offset : (whence & ~AVSEEK_FORCE) == SEEK_CUR ? in->pos + offset : in->size + offset;
    if (to < 0 || to > in->size) return AVERROR(EINVAL);
    return in->pos = to;
  }
};

Demuxer::~Demuxer() {
  if (packet_) av_packet_free(&packet_);
  if (decoder_) avcodec_free_context(&decoder_);
  if (format_) avformat_close_input(&format_);
  if (input_ && input_->io) {
    av_freep(&input_->io->buffer);
    avio_context_free(&input_->io);
  }
}

Result<std::unique_ptr<Demuxer>> Demuxer::open(const uint8_t* data, size_t size) {
  configure_ffmpeg_once();
  const char* container = ffmpeg_container_name(data, size);
  if (!container) return error("not an MP4, M4A, MOV, WebM, Matroska or AAC file");
  const AVInputFormat* format = av_find_input_format(std::strcmp(container, "MP4") == 0 ? "mov" : std::strcmp(container, "AAC") == 0 ? "aac" : "matroska");
  if (!format) return error(std::string("this build of FFmpeg has no ") + container + " demuxer", ErrorKind::kInternal);

  std::unique_ptr<Demuxer> d(new Demuxer());
  d->input_ = std::make_unique<Input>(Input{data, static_cast<int64_t>(size)});
  constexpr int kIoBuffer = 64 * 1024;
  auto* buffer = static_cast<uint8_t*>(av_malloc(kIoBuffer));
  if (!buffer) return error("out of memory opening media", ErrorKind::kTooLarge);
  d->input_->io = avio_alloc_context(buffer, kIoBuffer, 0, d->input_.get(), &Input::read, nullptr, &Input::seek);
  if (!d->input_->io) {
    av_free(buffer);
    return error("out of memory opening media", ErrorKind::kTooLarge);
  }
  AVFormatContext* ctx = avformat_alloc_context();
  if (!ctx) return error("out of memory opening media", ErrorKind::kTooLarge);
  ctx->pb = d->input_->io;
  ctx->flags |= AVFMT_FLAG_CUSTOM_IO;
  ctx->io_open = refuse_nested_open;
  ctx->max_streams = 64;
  ctx->codec_whitelist = av_strdup(kCodecWhitelist);
  ctx->format_whitelist = av_strdup("mov,matroska,aac");
  if (int rc = avformat_open_input(&ctx, nullptr, format, nullptr); rc < 0)  // frees ctx on failure
    return error(std::string("corrupt or unreadable ") + container + " container: " + av_error_text(rc));
  d->format_ = ctx;
  if (int rc = avformat_find_stream_info(ctx, nullptr); rc < 0)
    return error(std::string("corrupt ") + container + " container (its streams cannot be read): " + av_error_text(rc));
  d->packet_ = av_packet_alloc();
  if (!d->packet_) return error("out of memory opening media", ErrorKind::kTooLarge);
  return d;
}

bool Demuxer::has(StreamKind kind) const {
  const AVMediaType type = kind == StreamKind::kAudio ? AVMEDIA_TYPE_AUDIO : AVMEDIA_TYPE_VIDEO;
  return av_find_best_stream(format_, type, -1, -1, nullptr, 0) >= 0;
}

double Demuxer::duration_seconds() const {
  return format_->duration > 0 ? static_cast<double>(format_->duration) / AV_TIME_BASE : 0;
}

double Demuxer::start_seconds() const {
  return format_->start_time != AV_NOPTS_VALUE ? static_cast<double>(format_->start_time) / AV_TIME_BASE : 0;
}

Status Demuxer::select(StreamKind kind, int threads, int64_t max_pixels) {
  const AVMediaType type = kind == StreamKind::kAudio ? AVMEDIA_TYPE_AUDIO : AVMEDIA_TYPE_VIDEO;
  const char* what = kind == StreamKind::kAudio ? "audio" : "video";
  const AVCodec* codec = nullptr;
  const int index = av_find_best_stream(format_, type, -1, -1, &codec, 0);
  if (index == AVERROR_STREAM_NOT_FOUND) return error(std::string("the file has no ") + what + " stream");
  if (index < 0 || !codec) {
    const AVCodecDescriptor* desc = nullptr;
    for (unsigned i = 0; i < format_->nb_streams && !desc; ++i)
      if (format_->streams[i]->codecpar->codec_type == type) desc = avcodec_descriptor_get(format_->streams[i]->codecpar->codec_id);
    return error(std::string("no decoder for the ") + what + " codec" + (desc ? std::string(" ") + desc->name : std::string()),
                 ErrorKind::kUnsupported);
  }
  stream_ = format_->streams[index];
  const int64_t w = stream_->codecpar->width, h = stream_->codecpar->height;
  if (max_pixels > 0 && w * h > max_pixels)
    return error("video frames are " + std::to_string(w) + "x" + std::to_string(h) + "; the limit is " + std::to_string(max_pixels) + " pixels",
                 ErrorKind::kTooLarge);
  for (unsigned i = 0; i < format_->nb_streams; ++i)
    format_->streams[i]->discard = static_cast<int>(i) == index ? AVDISCARD_DEFAULT : AVDISCARD_ALL;
  decoder_ = avcodec_alloc_context3(codec);
  if (!decoder_) return error("out of memory opening a decoder", ErrorKind::kTooLarge);
  if (int rc = avcodec_parameters_to_context(decoder_, stream_->codecpar); rc < 0)
    return error(std::string("bad ") + what + " stream parameters: " + av_error_text(rc));
  decoder_->pkt_timebase = stream_->time_base;
  decoder_->thread_count = std::max(1, threads);
  if (max_pixels > 0) decoder_->max_pixels = max_pixels;
  AVDictionary* options = nullptr;
  av_dict_set(&options, "codec_whitelist", kCodecWhitelist, 0);
  const int rc = avcodec_open2(decoder_, codec, &options);
  av_dict_free(&options);
  if (rc < 0) return error(std::string("cannot decode the ") + what + " stream (" + codec->name + "): " + av_error_text(rc), ErrorKind::kUnsupported);
  return Ok{};
}

Result<bool> Demuxer::next_frame(AVFrame* frame) {
  const char* what = stream_->codecpar->codec_type == AVMEDIA_TYPE_AUDIO ? "audio" : "video";
  for (;;) {
    int rc = avcodec_receive_frame(decoder_, frame);
    if (rc == 0) return true;
    if (rc == AVERROR_EOF) return false;
    if (rc != AVERROR(EAGAIN)) return error(std::string("corrupt ") + what + ": " + av_error_text(rc));
    if (draining_) return false;
    rc = av_read_frame(format_, packet_);
    if (rc == AVERROR_EOF) {
      draining_ = true;
      rc = avcodec_send_packet(decoder_, nullptr);
      if (rc < 0 && rc != AVERROR_EOF) return error(std::string("corrupt ") + what + ": " + av_error_text(rc));
      continue;
    }
    if (rc < 0) return error(std::string("corrupt or truncated container: ") + av_error_text(rc));
    if (packet_->stream_index != stream_->index) {
      av_packet_unref(packet_);
      continue;
    }
    if (filter_) {
      const int64_t ts = packet_->pts != AV_NOPTS_VALUE ? packet_->pts : packet_->dts;
      decoder_->skip_frame = ts == AV_NOPTS_VALUE ? AVDISCARD_DEFAULT
                                                  : static_cast<AVDiscard>(filter_(seconds_of(ts, stream_->time_base) - start_seconds(), filter_user_));
    }
    rc = avcodec_send_packet(decoder_, packet_);
    av_packet_unref(packet_);
    if (rc < 0 && rc != AVERROR(EAGAIN)) return error(std::string("corrupt ") + what + ": " + av_error_text(rc));
  }
}

double Demuxer::keyframe_before(double seconds) const {
  // A microsecond of slack: a keyframe exactly at `seconds` must not be lost to rounding.
  const int64_t ts = static_cast<int64_t>(std::floor((seconds + start_seconds() + 1e-6) / av_q2d(stream_->time_base)));
  const AVIndexEntry* e = avformat_index_get_entry_from_timestamp(stream_, ts, AVSEEK_FLAG_BACKWARD);
  return e ? seconds_of(e->timestamp, stream_->time_base) - start_seconds() : -1;
}

Status Demuxer::seek(double seconds) {
  const int64_t ts = static_cast<int64_t>(std::floor((seconds + start_seconds() + 1e-6) / av_q2d(stream_->time_base)));
  if (int rc = av_seek_frame(format_, stream_->index, ts, AVSEEK_FLAG_BACKWARD); rc < 0)
    return error("cannot seek in the video: " + av_error_text(rc));
  avcodec_flush_buffers(decoder_);
  draining_ = false;
  return Ok{};
}

}  // namespace cc
