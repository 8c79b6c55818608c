// Reads Hugging Face safetensors files: fp32 tensors are used in place from a memory map
// (no copy); fp16 and bf16 tensors are converted to fp32 once, when first requested.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/file.h"
#include "core/result.h"

namespace cc {

class GemmWeights;

// A read-only fp32 view. Owned by the SafeTensors it came from, which must outlive it.
struct Tensor {
  const float* data = nullptr;
  std::vector<int64_t> shape;

  int64_t numel() const;
  int64_t dim(size_t i) const { return shape.at(i); }
};

std::string shape_string(const std::vector<int64_t>& shape);

class SafeTensors {
 public:
  static Result<SafeTensors> open(const std::string& path);
  // Only tensors whose names start with one of `prefixes`; only the bytes that hold them are
  // mapped (serving CLAP's audio tower never maps its text tower).
  static Result<SafeTensors> open(const std::string& path, const std::vector<std::string>& prefixes);
  size_t mapped_bytes() const { return file_->size(); }
  void release_pages() const { file_->release_pages(); }  // MappedFile::release_pages

  bool contains(const std::string& name) const { return entries_.count(name) != 0; }
  std::vector<std::string> names() const;
  std::string dtype(const std::string& name) const;  // "F32", "I64", ...; empty if absent

  // A tensor's stored bytes, any dtype, for copying it unchanged into another file.
  struct Raw {
    std::string dtype;
    std::vector<int64_t> shape;
    const void* data = nullptr;
    size_t bytes = 0;
  };
  Result<Raw> raw(const std::string& name) const;
  const std::string& path() const { return file_->path(); }

  // The named tensor as fp32. Fails, naming the tensor, if it is absent or (with `shape`)
  // has another shape, or its dtype is not F32, F16 or BF16.
  Result<Tensor> get(const std::string& name);
  Result<Tensor> get(const std::string& name, const std::vector<int64_t>& shape);
  // The same checks as get(name, shape), reading and converting nothing.
  Status check(const std::string& name, const std::vector<int64_t>& shape) const;

  // Bytes copied so far: only converted (non-fp32) or misaligned tensors are copied.
  size_t copied_bytes() const { return copied_bytes_; }

  // The header's "__metadata__" strings.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // The linear weights in the form the GEMM reads (core/gemm_weights.h), mapped from a pack
  // file beside this one or made at load; null when the GEMM reads them as they are here.
  GemmWeights* gemm_weights() const { return gemm_weights_.get(); }
  void set_gemm_weights(std::shared_ptr<GemmWeights> w) { gemm_weights_ = std::move(w); }
  std::shared_ptr<GemmWeights> take_gemm_weights() { return std::move(gemm_weights_); }  // and read the checkpoint as it is

 private:
  struct Entry {
    std::string dtype;
    std::vector<int64_t> shape;
    size_t begin = 0, end = 0;  // byte range within file_ (the mapped part of the data section)
  };

  std::shared_ptr<MappedFile> file_;
  std::map<std::string, Entry> entries_;
  std::map<std::string, std::string> metadata_;
  std::shared_ptr<GemmWeights> gemm_weights_;
  std::map<std::string, const float*> converted_index_;
  std::deque<std::vector<float>> converted_;  // deque: element addresses stay stable
  size_t copied_bytes_ = 0;
};

// Writes fp32 tensors as a safetensors file (atomically: no partial file on failure).
struct NamedTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> data;
};
Status write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                         const std::map<std::string, std::string>& metadata = {});
// The same from borrowed data of any dtype (a bundle streams tensors from mapped checkpoints).
struct TensorView {
  std::string name;
  std::vector<int64_t> shape;
  const void* data;
  std::string dtype = "F32";
  size_t bytes = 0;  // 0: numel * 4 (F32)
};
Status write_safetensors(const std::string& path, const std::vector<TensorView>& tensors,
                         const std::map<std::string, std::string>& metadata = {});

float half_to_float(uint16_t h);
float bfloat16_to_float(uint16_t b);

}  // namespace cc
