// Uncompressed BMP, read by hand with every offset checked: 1/4/8-bit palette, 16-bit
// (5-5-5 or 5-6-5), 24-bit and 32-bit (plain or 8-bit bitfields). Alpha is dropped, as
// Pillow's convert("RGB") drops it. RLE and JPEG/PNG-in-BMP are refused.
#include <bit>
#include <string>

#include "vision/decode_image.h"

namespace cc {

namespace {

uint32_t le16(const uint8_t* p) { return p[0] | (p[1] << 8); }
uint32_t le32(const uint8_t* p) { return p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24); }

// One colour channel of a bitfields pixel, scaled to 8 bits as Pillow's unpackers do
// (v * 255 / max, rounded down).
uint8_t channel(uint32_t pixel, uint32_t mask) {
  if (mask == 0) return 0;
  const int shift = std::countr_zero(mask);
  const uint32_t max = mask >> shift;
  return static_cast<uint8_t>(((pixel & mask) >> shift) * 255 / max);
}

}  // namespace

Status decode_bmp(const uint8_t* d, size_t n, const ImageLimits& limits, ImageSink& sink) {
  if (n < 26) return error("BMP: file is truncated (no complete header)");
  const uint32_t data_offset = le32(d + 10);
  const uint32_t header_size = le32(d + 14);
  if (header_size != 12 && (header_size < 40 || header_size > 124)) return error("BMP: unsupported header size " + std::to_string(header_size));
  if (n < 14 + static_cast<size_t>(header_size)) return error("BMP: file is truncated (header)");

  int64_t width, height;
  uint32_t bpp, compression = 0, colors_used = 0;
  if (header_size == 12) {  // OS/2 BITMAPCOREHEADER
    width = le16(d + 18);
    height = static_cast<int16_t>(le16(d + 20));
    bpp = le16(d + 24);
  } else {
    width = static_cast<int32_t>(le32(d + 18));
    height = static_cast<int32_t>(le32(d + 22));
    bpp = le16(d + 28);
    compression = le32(d + 30);
    colors_used = le32(d + 46);
  }
  const bool top_down = height < 0;
  if (top_down) height = -height;
  if (auto ok = check_image_size(width, height, limits); !ok.ok()) return error("BMP: " + ok.error().message);

  // Bitfield masks: inside a v2+ header, or right after a 40-byte one.
  uint32_t masks[3] = {0, 0, 0};
  size_t palette_at = 14 + header_size;
  if (compression == 3 || compression == 6) {  // BI_BITFIELDS, BI_ALPHABITFIELDS
    size_t at = 14 + 40;
    if (header_size == 40) palette_at += compression == 6 ? 16 : 12;
    if (n < at + 12) return error("BMP: file is truncated (bitfields)");
    for (int i = 0; i < 3; ++i) masks[i] = le32(d + at + 4 * i);
  } else if (compression != 0) {
    return error("BMP: compression type " + std::to_string(compression) + " (RLE or embedded) is not supported");
  } else if (bpp == 16) {
    masks[0] = 0x7C00, masks[1] = 0x03E0, masks[2] = 0x001F;
  } else if (bpp == 32) {
    masks[0] = 0xFF0000, masks[1] = 0x00FF00, masks[2] = 0x0000FF;
  }
  if (bpp != 1 && bpp != 4 && bpp != 8 && bpp != 16 && bpp != 24 && bpp != 32)
    return error("BMP: " + std::to_string(bpp) + " bits per pixel is not supported");
  if ((compression == 3 || compression == 6) && bpp != 16 && bpp != 32)
    return error("BMP: bitfields with " + std::to_string(bpp) + " bits per pixel");

  std::vector<uint8_t> palette;  // RGB triples
  if (bpp <= 8) {
    const size_t entry = header_size == 12 ? 3 : 4;
    size_t count = colors_used ? colors_used : (1u << bpp);
    if (count > 256) return error("BMP: palette of " + std::to_string(count) + " colours");
    if (palette_at + count * entry > n) return error("BMP: file is truncated (palette)");
    for (size_t i = 0; i < count; ++i) {
      const uint8_t* e = d + palette_at + i * entry;
      palette.insert(palette.end(), {e[2], e[1], e[0]});
    }
  }

  const size_t stride = ((static_cast<size_t>(width) * bpp + 31) / 32) * 4;
  if (data_offset > n || stride * static_cast<size_t>(height) > n - data_offset) return error("BMP: file is truncated (pixel data)");

  CC_TRY(auto hold, MemoryBudget::take(limits.budget, static_cast<size_t>(width) * 3,
                                       "decoding a " + std::to_string(width) + "x" + std::to_string(height) + " BMP"));
  CC_CHECK(sink.begin(static_cast<int>(width), static_cast<int>(height)));
  std::vector<uint8_t> rgb(static_cast<size_t>(width) * 3);
  for (int64_t y = 0; y < height; ++y) {
    const uint8_t* row = d + data_offset + stride * static_cast<size_t>(top_down ? y : height - 1 - y);
    uint8_t* out = rgb.data();
    for (int64_t x = 0; x < width; ++x, out += 3) {
      if (bpp <= 8) {
        const size_t bit = static_cast<size_t>(x) * bpp;
        const uint32_t index = (row[bit / 8] >> (8 - bpp - bit % 8)) & ((1u << bpp) - 1);
        for (int c = 0; c < 3; ++c) out[c] = index * 3 + c < palette.size() ? palette[index * 3 + c] : 0;
      } else if (bpp == 24) {
        out[0] = row[3 * x + 2], out[1] = row[3 * x + 1], out[2] = row[3 * x];
      } else {
        const uint32_t pixel = bpp == 16 ? le16(row + 2 * x) : le32(row + 4 * x);
        for (int c = 0; c < 3; ++c) out[c] = channel(pixel, masks[c]);
      }
    }
    sink.row(rgb.data());
  }
  return Ok{};
}

}  // namespace cc
