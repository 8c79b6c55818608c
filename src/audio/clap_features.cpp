#include "audio/clap_features.h"

#include <algorithm>
#include <cmath>
#include <complex>

#include "core/config.h"

namespace cc {

namespace {

double hz_to_mel(double f, bool slaney) {
  if (!slaney) return 2595.0 * std::log10(1.0 + f / 700.0);
  const double min_log_hz = 1000.0, min_log_mel = 15.0, logstep = 27.0 / std::log(6.4);
  return f >= min_log_hz ? min_log_mel + std::log(f / min_log_hz) * logstep : 3.0 * f / 200.0;
}

double mel_to_hz(double m, bool slaney) {
  if (!slaney) return 700.0 * (std::pow(10.0, m / 2595.0) - 1.0);
  const double min_log_hz = 1000.0, min_log_mel = 15.0, logstep = std::log(6.4) / 27.0;
  return m >= min_log_mel ? min_log_hz * std::exp(logstep * (m - min_log_mel)) : 200.0 * m / 3.0;
}

// numpy.linspace: start + i * step, with the last value exactly `stop`.
std::vector<double> linspace(double start, double stop, int num) {
  std::vector<double> v(num);
  const double step = (stop - start) / (num - 1);
  for (int i = 0; i < num; ++i) v[i] = start + i * step;
  v[num - 1] = stop;
  return v;
}

}  // namespace

std::vector<double> mel_filter_bank(int num_bins, int num_mel, double fmin, double fmax, int sampling_rate,
                                    bool slaney) {
  const std::vector<double> mel = linspace(hz_to_mel(fmin, slaney), hz_to_mel(fmax, slaney), num_mel + 2);
  std::vector<double> filter_hz(num_mel + 2);
  for (int i = 0; i < num_mel + 2; ++i) filter_hz[i] = mel_to_hz(mel[i], slaney);
  const std::vector<double> fft_hz = linspace(0, sampling_rate / 2, num_bins);  // sampling_rate // 2
  std::vector<double> bank(static_cast<size_t>(num_bins) * num_mel);
  for (int f = 0; f < num_bins; ++f) {
    for (int m = 0; m < num_mel; ++m) {
      const double down = -(filter_hz[m] - fft_hz[f]) / (filter_hz[m + 1] - filter_hz[m]);
      const double up = (filter_hz[m + 2] - fft_hz[f]) / (filter_hz[m + 2] - filter_hz[m + 1]);
      double v = std::max(0.0, std::min(down, up));
      if (slaney) v *= 2.0 / (filter_hz[m + 2] - filter_hz[m]);  // constant energy per channel
      bank[static_cast<size_t>(f) * num_mel + m] = v;
    }
  }
  return bank;
}

Result<ClapFeatureConfig> read_clap_feature_config(const nlohmann::json& j) {
  ClapFeatureConfig c;
  CC_TRY(c.sampling_rate, config_int(j, "sampling_rate", 48000));
  CC_TRY(c.feature_size, config_int(j, "feature_size", 64));
  CC_TRY(c.fft_window_size, config_int(j, "fft_window_size", 1024));
  CC_TRY(c.hop_length, config_int(j, "hop_length", 480));
  CC_TRY(c.max_length_s, config_double(j, "max_length_s", 10));
  CC_TRY(c.frequency_min, config_double(j, "frequency_min", 0));
  CC_TRY(c.frequency_max, config_double(j, "frequency_max", 14000));
  CC_TRY(c.truncation, config_string(j, "truncation", "fusion"));
  CC_TRY(c.padding, config_string(j, "padding", "repeatpad"));
  const int n = c.fft_window_size;
  // Written as what must hold, so that NaN fails it too. The upper bounds lie far beyond any
  // CLAP checkpoint's; they keep a window's sample count inside an int and its filters and
  // buffers small (a fuzzed config with max_length_s 48000 overflowed max_samples()).
  const bool valid = c.sampling_rate > 0 && c.sampling_rate <= 768000 && c.feature_size > 0 && c.feature_size <= 1024 &&
                     c.hop_length > 0 && n >= 4 && n <= 65536 && (n & (n - 1)) == 0 && c.max_length_s > 0 &&
                     c.max_length_s <= 3600 && c.max_length_s * c.sampling_rate <= (1 << 30) && c.max_samples() >= n &&
                     c.hop_length <= c.max_samples() && c.frequency_min >= 0 && c.frequency_max > c.frequency_min &&
                     c.frequency_max <= c.sampling_rate / 2.0;
  if (!valid)
    return error("preprocessor config: inconsistent audio settings (fft_window_size must be a power of two up to 65536, "
                 "sampling_rate at most 768000, feature_size at most 1024, max_length_s at most 3600 s and 2^30 samples)");
  if (c.padding != "repeatpad" && c.padding != "repeat" && c.padding != "pad")
    return error("preprocessor config: unknown padding '" + c.padding + "'");
  if (c.truncation != "rand_trunc" && c.truncation != "fusion")
    return error("preprocessor config: unknown truncation '" + c.truncation + "'");
  return c;
}

Result<LongAudio> parse_long_audio(const std::string& name) {
  if (name == "windows") return LongAudio::kWindows;
  if (name == "first") return LongAudio::kFirst;
  if (name == "center") return LongAudio::kCenter;
  if (name == "fusion") return LongAudio::kFusion;
  return error("unknown long-audio mode '" + name + "' (windows, first, center, fusion)");
}

ClapFeatureExtractor::ClapFeatureExtractor(const ClapFeatureConfig& c) : c_(c), fft_(c.fft_window_size) {
  const int n = c.fft_window_size, bins = n / 2 + 1, mels = c.feature_size;
  const double pi = std::acos(-1.0);
  window_.resize(n);  // np.hanning(n + 1)[:-1]: the periodic Hann window
  for (int i = 0; i < n; ++i) window_[i] = 0.5 - 0.5 * std::cos(2.0 * pi * i / n);
  filters_ = mel_filter_bank(bins, mels, c.frequency_min, c.frequency_max, c.sampling_rate, c.truncation != "fusion");
  filter_first_.assign(mels, bins);
  filter_last_.assign(mels, -1);
  for (int f = 0; f < bins; ++f)
    for (int m = 0; m < mels; ++m)
      if (filters_[static_cast<size_t>(f) * mels + m] != 0.0) {
        filter_first_[m] = std::min(filter_first_[m], f);
        filter_last_[m] = std::max(filter_last_[m], f);
      }
}

std::vector<size_t> ClapFeatureExtractor::window_starts(size_t samples, const LongAudioOptions& opts) const {
  const size_t max_len = static_cast<size_t>(c_.max_samples());
  if (samples <= max_len || opts.mode == LongAudio::kFusion) return {0};
  const size_t last = samples - max_len;
  if (opts.mode == LongAudio::kFirst) return {0};
  if (opts.mode == LongAudio::kCenter) return {last / 2};
  const size_t hop = std::max<size_t>(1, static_cast<size_t>(std::llround(opts.hop_seconds * c_.sampling_rate)));
  std::vector<size_t> starts;
  for (size_t s = 0; s < last; s += hop) starts.push_back(s);
  starts.push_back(last);  // the tail, aligned to the end
  return starts;
}

std::vector<double> ClapFeatureExtractor::pad(const std::vector<double>& wave) const {
  const size_t max_len = static_cast<size_t>(c_.max_samples());
  std::vector<double> w;
  w.reserve(max_len);
  if (!wave.empty() && wave.size() < max_len && c_.padding != "pad") {
    const size_t n_repeat = max_len / wave.size();
    const size_t copies = c_.padding == "repeat" ? n_repeat + 1 : n_repeat;
    for (size_t i = 0; i < copies && w.size() < max_len; ++i)
      w.insert(w.end(), wave.begin(), wave.begin() + std::min(wave.size(), max_len - w.size()));
  } else {
    w.assign(wave.begin(), wave.begin() + std::min(wave.size(), max_len));
  }
  w.resize(max_len, 0.0);
  return w;
}

std::vector<float> fusion_chunks(const std::vector<float>& mel, int total, int chunk, int bins) {
  std::vector<float> out(static_cast<size_t>(4) * chunk * bins);
  // Channel 0: interpolate(mode="bilinear", align_corners=False) to [chunk, bins]; the bin axis
  // keeps its size, so only time is interpolated: src = max((t + 0.5) * in/out - 0.5, 0).
  const float scale = static_cast<float>(total) / static_cast<float>(chunk);
  for (int t = 0; t < chunk; ++t) {
    const float src = std::max(scale * (t + 0.5f) - 0.5f, 0.0f);
    const int i0 = static_cast<int>(src), step = i0 < total - 1 ? 1 : 0;
    const float l1 = src - i0, l0 = 1.0f - l1;
    for (int b = 0; b < bins; ++b)
      out[static_cast<size_t>(t) * bins + b] =
          l0 * mel[static_cast<size_t>(i0) * bins + b] + l1 * mel[static_cast<size_t>(i0 + step) * bins + b];
  }
  // np.array_split(range(total - chunk + 1), 3): the first (n % 3) parts are one longer.
  const int n = total - chunk + 1, base = n / 3, extra = n % 3;
  const int len0 = base + (extra > 0), len1 = base + (extra > 1), len2 = base;
  const int front = 0;
  const int middle = len1 > 0 ? len0 + len1 / 2 : 0;  // HF falls back to 0 for an empty range
  const int back = len2 > 0 ? len0 + len1 + len2 - 1 : 0;
  const int starts[3] = {front, middle, back};
  for (int k = 0; k < 3; ++k)
    std::copy_n(mel.data() + static_cast<size_t>(starts[k]) * bins, static_cast<size_t>(chunk) * bins,
                out.data() + static_cast<size_t>(k + 1) * chunk * bins);
  return out;
}

std::vector<float> ClapFeatureExtractor::log_mel(const double* wave, size_t samples) const {
  const int n = c_.fft_window_size, half = n / 2, bins = half + 1, mels = c_.feature_size;
  const int64_t len = samples ? static_cast<int64_t>(samples) : c_.max_samples();
  // center=True, pad_mode="reflect": mirror without repeating the edge sample.
  auto sample = [&](int64_t i) {
    while (i < 0 || i >= len) i = i < 0 ? -i : 2 * (len - 1) - i;
    return wave[i];
  };
  const int64_t frames = 1 + (len + 2 * half - n) / c_.hop_length;
  std::vector<float> out(static_cast<size_t>(frames) * mels);
#pragma omp parallel
  {
    std::vector<double> buf(n), power(bins);
    std::vector<std::complex<double>> spec(bins), work(half);
#pragma omp for schedule(static)
    for (int64_t t = 0; t < frames; ++t) {
      const int64_t start = t * c_.hop_length - half;
      if (start >= 0 && start + n <= len) {
        for (int i = 0; i < n; ++i) buf[i] = wave[start + i] * window_[i];
      } else {
        for (int i = 0; i < n; ++i) buf[i] = sample(start + i) * window_[i];
      }
      fft_.forward(buf.data(), spec.data(), work.data());
      for (int k = 0; k < bins; ++k) {
        // HF stores each frame's spectrum as complex64, then squares its magnitude in float64
        // (numpy's hypot, squared: within 2 ulp of re² + im²).
        const double re = static_cast<float>(spec[k].real()), im = static_cast<float>(spec[k].imag());
        power[k] = re * re + im * im;
      }
      for (int m = 0; m < mels; ++m) {
        double e = 0;
        for (int f = filter_first_[m]; f <= filter_last_[m]; ++f) e += filters_[static_cast<size_t>(f) * mels + m] * power[f];
        out[static_cast<size_t>(t) * mels + m] = static_cast<float>(10.0 * std::log10(std::max(e, 1e-10)));
      }
    }
  }
  return out;
}

}  // namespace cc
