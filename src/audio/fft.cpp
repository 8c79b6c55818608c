#include "audio/fft.h"

#include <cmath>

namespace cc {

namespace {

// Written out: std::complex's operator* goes through __muldc3 (C99 inf/NaN rules), which was
// most of the spectrogram's time. Inputs here are always finite.
inline std::complex<double> mul(std::complex<double> a, std::complex<double> b) {
  return {a.real() * b.real() - a.imag() * b.imag(), a.real() * b.imag() + a.imag() * b.real()};
}

}  // namespace

RealFft::RealFft(int n) : n_(n) {
  const int h = n / 2;
  const double pi = std::acos(-1.0);
  twiddle_half_.resize(h / 2);
  for (int k = 0; k < h / 2; ++k) twiddle_half_[k] = std::polar(1.0, -2 * pi * k / h);
  twiddle_split_.resize(h);
  for (int k = 0; k < h; ++k) twiddle_split_[k] = std::polar(1.0, -2 * pi * k / n);
  int bits = 0;
  while ((1 << bits) < h) ++bits;
  bit_reverse_.resize(h);
  for (int i = 0; i < h; ++i) {
    int r = 0;
    for (int b = 0; b < bits; ++b) r |= ((i >> b) & 1) << (bits - 1 - b);
    bit_reverse_[i] = r;
  }
}

void RealFft::forward(const double* in, std::complex<double>* out, std::complex<double>* z) const {
  const int h = n_ / 2;
  // Pack even/odd samples as one complex sequence z[m] = x[2m] + i x[2m+1].
  for (int m = 0; m < h; ++m) z[bit_reverse_[m]] = {in[2 * m], in[2 * m + 1]};
  for (int len = 2; len <= h; len <<= 1) {
    const int step = h / len;
    for (int start = 0; start < h; start += len) {
      for (int k = 0; k < len / 2; ++k) {
        const std::complex<double> t = mul(twiddle_half_[k * step], z[start + k + len / 2]);
        z[start + k + len / 2] = z[start + k] - t;
        z[start + k] += t;
      }
    }
  }
  // X[k] = E[k] + e^{-2πik/n} O[k], with E and O recovered from Z.
  for (int k = 0; k <= h; ++k) {
    const std::complex<double> zk = z[k % h], zc = std::conj(z[(h - k) % h]);
    const std::complex<double> even = 0.5 * (zk + zc), diff = zk - zc;
    const std::complex<double> odd(0.5 * diff.imag(), -0.5 * diff.real());  // -i/2 * (zk - zc)
    const std::complex<double> w = k < h ? twiddle_split_[k] : std::complex<double>(-1, 0);
    out[k] = even + mul(w, odd);
  }
}

}  // namespace cc
