#include "core/safetensors.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace cc {

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

float half_to_float(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: renormalise
      exp = 127 - 15 + 1;
      while (!(mant & 0x400u)) {
        mant <<= 1;
        --exp;
      }
      bits = sign | (exp << 23) | ((mant & 0x3ffu) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);  // inf or NaN
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float bfloat16_to_float(uint16_t b) {
  uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

static size_t dtype_size(const std::string& dtype) {
  if (dtype == "F64" || dtype == "I64" || dtype == "U64") return 8;
  if (dtype == "F32" || dtype == "I32" || dtype == "U32") return 4;
  if (dtype == "F16" || dtype == "BF16" || dtype == "I16" || dtype == "U16") return 2;
  if (dtype == "I8" || dtype == "U8" || dtype == "BOOL" || dtype == "F8_E4M3" || dtype == "F8_E5M2") return 1;
  return 0;
}

Result<SafeTensors> SafeTensors::open(const std::string& path) { return open(path, {""}); }

Result<SafeTensors> SafeTensors::open(const std::string& path, const std::vector<std::string>& prefixes) {
  CC_TRY(size_t size, MappedFile::file_size(path));
  if (size < 8) return error(path + ": not a safetensors file (shorter than its 8-byte header length)");
  CC_TRY(auto head, MappedFile::open_range(path, 0, 8));
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | head->data()[i];
  if (header_len > size - 8 || header_len > (100u << 20))
    return error(path + ": not a safetensors file (header length " + std::to_string(header_len) +
                 " exceeds the file)");
  CC_TRY(auto header, MappedFile::open_range(path, 8, header_len));
  const char* hdr = reinterpret_cast<const char*>(header->data());
  auto j = nlohmann::json::parse(hdr, hdr + header_len, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return error(path + ": safetensors header is not a JSON object");

  SafeTensors st;
  const size_t data_offset = 8 + header_len;
  const size_t data_size = size - data_offset;
  for (auto& item : j.items()) {
    const std::string& name = item.key();  // not a structured binding: lambdas below capture it (clang < 16)
    const auto& info = item.value();
    if (name == "__metadata__") {
      if (info.is_object())
        for (auto& [key, value] : info.items())
          if (value.is_string()) st.metadata_[key] = value.get<std::string>();
      continue;
    }
    if (std::none_of(prefixes.begin(), prefixes.end(), [&](const std::string& p) { return name.rfind(p, 0) == 0; }))
      continue;
    auto bad = [&](const std::string& why) { return error(path + ": tensor '" + name + "': " + why); };
    if (!info.is_object() || !info.contains("dtype") || !info.contains("shape") || !info.contains("data_offsets"))
      return bad("header entry lacks dtype, shape or data_offsets");
    const auto& dt = info["dtype"];
    const auto& sh = info["shape"];
    const auto& off = info["data_offsets"];
    if (!dt.is_string() || !sh.is_array() || !off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
        !off[1].is_number_unsigned())
      return bad("malformed header entry");
    Entry e;
    e.dtype = dt.get<std::string>();
    size_t esize = dtype_size(e.dtype);
    if (esize == 0) return bad("unknown dtype " + e.dtype);
    uint64_t numel = 1;
    for (auto& d : sh) {
      if (!d.is_number_unsigned()) return bad("shape entries must be non-negative integers");
      uint64_t v = d.get<uint64_t>();
      if (v != 0 && numel > std::numeric_limits<uint64_t>::max() / 8 / v) return bad("shape overflows");
      numel *= v;
      e.shape.push_back(static_cast<int64_t>(v));
    }
    e.begin = off[0].get<uint64_t>();
    e.end = off[1].get<uint64_t>();
    if (e.begin > e.end || e.end > data_size) return bad("data offsets lie outside the file (truncated?)");
    if (e.end - e.begin != numel * esize)
      return bad("data size " + std::to_string(e.end - e.begin) + " does not match shape " + shape_string(e.shape) +
                 " of " + e.dtype);
    st.entries_.emplace(name, std::move(e));
  }
  // Map only the span of the data section that the selected tensors occupy.
  size_t lo = data_size, hi = 0;
  for (const auto& [name, e] : st.entries_) {
    lo = std::min(lo, e.begin);
    hi = std::max(hi, e.end);
  }
  if (hi < lo) lo = hi = 0;
  CC_TRY(st.file_, MappedFile::open_range(path, data_offset + lo, hi - lo));
  for (auto& [name, e] : st.entries_) {
    e.begin -= lo;
    e.end -= lo;
  }
  return st;
}

std::vector<std::string> SafeTensors::names() const {
  std::vector<std::string> out;
  for (auto& [name, e] : entries_) out.push_back(name);
  return out;
}

std::string SafeTensors::dtype(const std::string& name) const {
  auto it = entries_.find(name);
  return it == entries_.end() ? "" : it->second.dtype;
}

Result<SafeTensors::Raw> SafeTensors::raw(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) return error(path() + ": missing tensor '" + name + "'");
  const Entry& e = it->second;
  return Raw{e.dtype, e.shape, file_->data() + e.begin, e.end - e.begin};
}

Result<Tensor> SafeTensors::get(const std::string& name) {
  auto it = entries_.find(name);
  if (it == entries_.end()) return error(path() + ": missing tensor '" + name + "'");
  const Entry& e = it->second;
  Tensor t;
  t.shape = e.shape;
  const uint8_t* raw = file_->data() + e.begin;
  const size_t n = static_cast<size_t>(t.numel());

  if (auto c = converted_index_.find(name); c != converted_index_.end()) {
    t.data = c->second;
    return t;
  }
  if (e.dtype == "F32" && reinterpret_cast<uintptr_t>(raw) % alignof(float) == 0) {
    t.data = reinterpret_cast<const float*>(raw);  // in place: the weights are never copied
    return t;
  }
  std::vector<float> buf(n);
  if (e.dtype == "F32") {
    std::memcpy(buf.data(), raw, n * 4);  // misaligned data section: the one case fp32 is copied
  } else if (e.dtype == "F16" || e.dtype == "BF16") {
    const bool half = e.dtype == "F16";
    for (size_t i = 0; i < n; ++i) {
      uint16_t v = static_cast<uint16_t>(raw[2 * i] | (raw[2 * i + 1] << 8));
      buf[i] = half ? half_to_float(v) : bfloat16_to_float(v);
    }
  } else {
    return error(path() + ": tensor '" + name + "' has dtype " + e.dtype + "; expected F32, F16 or BF16");
  }
  copied_bytes_ += n * sizeof(float);
  converted_.push_back(std::move(buf));
  t.data = converted_.back().data();
  converted_index_[name] = t.data;
  return t;
}

Status SafeTensors::check(const std::string& name, const std::vector<int64_t>& shape) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) return error(path() + ": missing tensor '" + name + "'");
  if (it->second.shape != shape)
    return error(path() + ": tensor '" + name + "' has shape " + shape_string(it->second.shape) + ", expected " +
                 shape_string(shape));
  return Ok{};
}

Result<Tensor> SafeTensors::get(const std::string& name, const std::vector<int64_t>& shape) {
  CC_CHECK(check(name, shape));
  return get(name);
}

Status write_safetensors(const std::string& path, const std::vector<TensorView>& tensors,
                         const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  auto bytes_of = [](const TensorView& t) {
    size_t n = 1;
    for (int64_t d : t.shape) n *= static_cast<size_t>(d);
    return t.bytes ? t.bytes : n * 4;
  };
  size_t offset = 0;
  for (const auto& t : tensors) {
    header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes_of(t)}}};
    offset += bytes_of(t);
  }
  std::string h = header.dump();
  h.resize((h.size() + 7) / 8 * 8, ' ');  // keeps the data 8-byte aligned
  std::string head(8, '\0');
  for (int i = 0; i < 8; ++i) head[i] = static_cast<char>((static_cast<uint64_t>(h.size()) >> (8 * i)) & 0xFF);
  head += h;
  return write_file_atomic(path, [&](FILE* f) {
    if (std::fwrite(head.data(), 1, head.size(), f) != head.size()) return false;
    for (const auto& t : tensors) {
      const size_t n = bytes_of(t);
      if (n && std::fwrite(t.data, 1, n, f) != n) return false;
    }
    return true;
  });
}

Status write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                         const std::map<std::string, std::string>& metadata) {
  std::vector<TensorView> views;
  for (const auto& t : tensors) {
    int64_t n = 1;
    for (int64_t d : t.shape) n *= d;
    if (n != static_cast<int64_t>(t.data.size())) return error(path + ": tensor '" + t.name + "' has the wrong size");
    views.push_back({t.name, t.shape, t.data.data()});
  }
  return write_safetensors(path, views, metadata);
}

}  // namespace cc
