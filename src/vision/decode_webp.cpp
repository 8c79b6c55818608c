// WebP through libwebp: still images directly, animations through the animation decoder's
// first composited frame. Alpha is dropped from the straight (not premultiplied) RGBA.
#include <memory>
#include <string>

#include <webp/decode.h>
#include <webp/demux.h>

#include "vision/decode_image.h"

namespace cc {

Result<Image> decode_webp(const uint8_t* data, size_t size, const ImageLimits& limits) {
  WebPBitstreamFeatures f;
  if (WebPGetFeatures(data, size, &f) != VP8_STATUS_OK) return error("WebP: not a valid WebP bitstream");
  if (auto ok = check_image_size(f.width, f.height, limits); !ok.ok()) return error("WebP: " + ok.error().message);

  std::vector<uint8_t> rgba;
  int w = f.width, h = f.height;
  if (f.has_animation) {
    WebPAnimDecoderOptions opts;
    WebPAnimDecoderOptionsInit(&opts);
    opts.color_mode = MODE_RGBA;
    opts.use_threads = 0;
    WebPData wd{data, size};
    std::unique_ptr<WebPAnimDecoder, decltype(&WebPAnimDecoderDelete)> dec(WebPAnimDecoderNew(&wd, &opts),
                                                                          WebPAnimDecoderDelete);
    WebPAnimInfo info;
    if (!dec || !WebPAnimDecoderGetInfo(dec.get(), &info)) return error("WebP: cannot decode animation");
    if (auto ok = check_image_size(info.canvas_width, info.canvas_height, limits); !ok.ok())
      return error("WebP: " + ok.error().message);
    uint8_t* frame = nullptr;
    int timestamp = 0;
    if (!WebPAnimDecoderGetNext(dec.get(), &frame, &timestamp)) return error("WebP: cannot decode first frame");
    w = static_cast<int>(info.canvas_width);
    h = static_cast<int>(info.canvas_height);
    rgba.assign(frame, frame + static_cast<size_t>(w) * h * 4);
  } else {
    rgba.resize(static_cast<size_t>(w) * h * 4);
    if (!WebPDecodeRGBAInto(data, size, rgba.data(), rgba.size(), w * 4)) return error("WebP: corrupt or truncated data");
  }
  Image img = make_image(w, h);
  for (size_t i = 0, n = static_cast<size_t>(w) * h; i < n; ++i)
    for (int c = 0; c < 3; ++c) img.rgb[3 * i + c] = rgba[4 * i + c];
  return img;
}

}  // namespace cc
