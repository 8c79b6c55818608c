#include "audio/resample.h"

#include <cmath>
#include <string>

#include <soxr.h>

namespace cc {

namespace {

// Output held back until the end: libsoxr gives round(n * ratio) samples in all, never more
// than librosa's ceil(n * ratio), but the margin keeps the cut exact however it rounds.
constexpr size_t kHeldBack = 16;

}  // namespace

size_t resampled_length(size_t n, int in_rate, int out_rate) {
  if (in_rate == out_rate) return n;
  return static_cast<size_t>(std::ceil(static_cast<double>(n) * out_rate / in_rate));
}

Result<std::unique_ptr<Resampler>> Resampler::create(int in_rate, int out_rate) {
  if (in_rate <= 0 || out_rate <= 0) return error("resample: rates must be positive");
  std::unique_ptr<Resampler> r(new Resampler());
  r->in_rate_ = in_rate;
  r->out_rate_ = out_rate;
  if (in_rate == out_rate) return r;
  const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT64_I, SOXR_FLOAT64_I);
  const soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
  soxr_error_t err = nullptr;
  r->soxr_ = soxr_create(in_rate, out_rate, 1, &err, &io, &q, nullptr);
  if (err || !r->soxr_) return error(std::string("resample: ") + (err ? err : "libsoxr could not start"), ErrorKind::kInternal);
  return r;
}

Resampler::~Resampler() {
  if (soxr_) soxr_delete(soxr_);
}

void Resampler::emit(std::vector<double>& out, size_t keep_back) {
  if (pending_.size() <= keep_back) return;
  const size_t give = pending_.size() - keep_back;
  out.insert(out.end(), pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(give));
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(give));
  out_total_ += give;
}

// Feeds `n` samples (none, with x null: the end of input) and collects all the output.
Status Resampler::drain(const double* x, size_t n, std::vector<double>& out) {
  double buf[4096];
  for (;;) {
    size_t used = 0, made = 0;
    soxr_error_t err = soxr_process(soxr_, x, n, &used, buf, sizeof buf / sizeof buf[0], &made);
    if (err) return error(std::string("resample: ") + err, ErrorKind::kInternal);
    pending_.insert(pending_.end(), buf, buf + made);
    if (x) {
      x += used;
      n -= used;
      if (n == 0 && made < sizeof buf / sizeof buf[0]) break;
    } else if (made == 0) {
      break;
    }
  }
  emit(out, kHeldBack);
  return Ok{};
}

Status Resampler::push(const double* x, size_t n, std::vector<double>& out) {
  in_total_ += n;
  if (!soxr_) {
    out.insert(out.end(), x, x + n);
    out_total_ += n;
    return Ok{};
  }
  if (n == 0) return Ok{};
  return drain(x, n, out);
}

Status Resampler::finish(std::vector<double>& out) {
  if (!soxr_) return Ok{};
  CC_CHECK(drain(nullptr, 0, out));
  const size_t want = resampled_length(in_total_, in_rate_, out_rate_);  // librosa.util.fix_length: cut or zero-pad
  if (out_total_ > want) return error("resample: gave more samples than librosa's length", ErrorKind::kInternal);
  pending_.resize(want - out_total_, 0.0);
  emit(out, 0);
  return Ok{};
}

Result<std::vector<double>> resample(const std::vector<double>& x, int in_rate, int out_rate) {
  CC_TRY(auto r, Resampler::create(in_rate, out_rate));
  std::vector<double> y;
  y.reserve(resampled_length(x.size(), in_rate, out_rate));
  CC_CHECK(r->push(x.data(), x.size(), y));
  CC_CHECK(r->finish(y));
  return y;
}

}  // namespace cc
