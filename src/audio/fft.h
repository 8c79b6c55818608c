// The real FFT the spectrogram needs: power-of-two sizes, float64, via an N/2-point complex
// FFT (radix-2, precomputed twiddles) and the usual split into the N/2+1 one-sided bins.
#pragma once

#include <complex>
#include <vector>

namespace cc {

class RealFft {
 public:
  explicit RealFft(int n);  // n: a power of two, at least 4

  // out[k] for k = 0..n/2, as numpy.fft.rfft. `work` holds n/2 values between calls.
  void forward(const double* in, std::complex<double>* out, std::complex<double>* work) const;
  int size() const { return n_; }

 private:
  int n_;
  std::vector<std::complex<double>> twiddle_half_;  // for the n/2-point complex FFT
  std::vector<std::complex<double>> twiddle_split_;  // e^{-2πik/n}, k < n/2
  std::vector<int> bit_reverse_;
};

}  // namespace cc
