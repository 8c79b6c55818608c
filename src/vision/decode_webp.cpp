// WebP through libwebp: still images directly, animations through the animation decoder's
// first composited frame. Alpha is dropped from the straight (not premultiplied) RGBA.
#include <memory>
#include <string>

#include <webp/decode.h>
#include <webp/demux.h>

#include "vision/decode_image.h"

namespace cc {

Status decode_webp(const uint8_t* data, size_t size, const ImageLimits& limits, ImageSink& sink) {
  WebPBitstreamFeatures f;
  if (WebPGetFeatures(data, size, &f) != VP8_STATUS_OK) return error("WebP: not a valid WebP bitstream");
  if (auto ok = check_image_size(f.width, f.height, limits); !ok.ok()) return error("WebP: " + ok.error().message);

  // libwebp decodes whole frames: the frame (and for animations the decoder's two canvases) is
  // held while its rows are handed on.
  if (f.has_animation) {
    WebPAnimDecoderOptions opts;
    WebPAnimDecoderOptionsInit(&opts);
    opts.color_mode = MODE_RGBA;
    opts.use_threads = 0;
    WebPData wd{data, size};
    WebPAnimInfo info;
    {
      std::unique_ptr<WebPDemuxer, decltype(&WebPDemuxDelete)> demux(WebPDemux(&wd), WebPDemuxDelete);
      if (!demux) return error("WebP: cannot decode animation");
      info.canvas_width = WebPDemuxGetI(demux.get(), WEBP_FF_CANVAS_WIDTH);
      info.canvas_height = WebPDemuxGetI(demux.get(), WEBP_FF_CANVAS_HEIGHT);
    }
    if (auto ok = check_image_size(info.canvas_width, info.canvas_height, limits); !ok.ok())
      return error("WebP: " + ok.error().message);
    const int w = static_cast<int>(info.canvas_width), h = static_cast<int>(info.canvas_height);
    CC_TRY(auto hold, MemoryBudget::take(limits.budget, static_cast<size_t>(w) * h * 4 * 2 + static_cast<size_t>(w) * 3,
                                         "decoding a " + std::to_string(w) + "x" + std::to_string(h) + " animated WebP"));
    std::unique_ptr<WebPAnimDecoder, decltype(&WebPAnimDecoderDelete)> dec(WebPAnimDecoderNew(&wd, &opts),
                                                                          WebPAnimDecoderDelete);
    if (!dec || !WebPAnimDecoderGetInfo(dec.get(), &info)) return error("WebP: cannot decode animation");
    uint8_t* frame = nullptr;
    int timestamp = 0;
    if (!WebPAnimDecoderGetNext(dec.get(), &frame, &timestamp)) return error("WebP: cannot decode first frame");
    CC_CHECK(sink.begin(w, h));
    std::vector<uint8_t> row(static_cast<size_t>(w) * 3);
    for (int y = 0; y < h; ++y) {
      const uint8_t* in = frame + static_cast<size_t>(y) * w * 4;  // straight RGBA: alpha dropped
      for (int x = 0; x < w; ++x)
        for (int c = 0; c < 3; ++c) row[3 * x + c] = in[4 * x + c];
      sink.row(row.data());
    }
    return Ok{};
  }
  const int w = f.width, h = f.height;
  CC_TRY(auto hold, MemoryBudget::take(limits.budget, static_cast<size_t>(w) * h * 3,
                                       "decoding a " + std::to_string(w) + "x" + std::to_string(h) + " WebP"));
  std::vector<uint8_t> rgb(static_cast<size_t>(w) * h * 3);
  if (!WebPDecodeRGBInto(data, size, rgb.data(), rgb.size(), w * 3)) return error("WebP: corrupt or truncated data");
  CC_CHECK(sink.begin(w, h));
  for (int y = 0; y < h; ++y) sink.row(rgb.data() + static_cast<size_t>(y) * w * 3);
  return Ok{};
}

}  // namespace cc
