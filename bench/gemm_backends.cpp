// The measurement behind the GEMM back end: y = x·Wᵀ with W in PyTorch's [out, in] layout,
// read in place, on the towers' real shapes; OpenBLAS sgemm against oneDNN's matmul (what
// src/core/gemm.cpp uses), and oneDNN on the same weights packed (`clipclap pack`, BA16a64b).
// "cold" cycles through a 200 MB pool of weights, as a forward pass does; GB/s is the rate at
// which the cold products read their weights. Build with -DCLIPCLAP_GEMM_COMPARE=ON; run with
// the thread count of interest:
//   OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 build/release/gemm_backends
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "core/gemm.h"

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

template <class Fn>
double gflops(Fn&& fn, double flops_per_call, int calls_per_rep) {
  fn(0);
  std::vector<double> t;
  for (int r = 0; r < 7; ++r) {
    const double t0 = now();
    for (int i = 0; i < calls_per_rep; ++i) fn(i);
    t.push_back(now() - t0);
  }
  std::sort(t.begin(), t.end());
  return flops_per_call * calls_per_rep / t[3] / 1e9;
}

}  // namespace

int main() {
  struct Shape {
    int m, k, n;
    const char* what;
  };
  const Shape shapes[] = {{50, 768, 768, "ViT b1 q/k/v/out"}, {50, 768, 3072, "ViT b1 fc1"}, {50, 3072, 768, "ViT b1 fc2"},
                          {400, 768, 3072, "ViT b8 fc1"},     {400, 3072, 768, "ViT b8 fc2"}, {10, 512, 512, "text b1 q/k/v/out"},
                          {10, 512, 2048, "text b1 fc1"},     {10, 2048, 512, "text b1 fc2"}, {96, 512, 2048, "text b8 fc1"},
                          {4096, 128, 512, "HTSAT stage 1 fc1"}};
  std::printf("%-20s %5s %5s %5s   %14s %14s   %14s %14s %14s   %s\n", "shape", "M", "K", "N", "OpenBLAS hot",
              "oneDNN hot", "OpenBLAS cold", "oneDNN cold", "packed cold", "weights GB/s cold: oneDNN, packed");
  for (const Shape& s : shapes) {
    const size_t per = static_cast<size_t>(s.k) * s.n;
    const int pool = std::max<int>(4, static_cast<int>((200u << 20) / (per * 4)));
    std::vector<float> w(per * pool, 0.01f), x(static_cast<size_t>(s.m) * s.k, 0.5f), y(static_cast<size_t>(s.m) * s.n);
    const double flops = 2.0 * s.m * s.n * s.k;
    auto blas = [&](int i) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s.m, s.n, s.k, 1.f, x.data(), s.k, w.data() + per * (i % pool),
                  s.k, 0.f, y.data(), s.n);
    };
    auto dnnl = [&](int i) { cc::linear(cc::Linear{w.data() + per * (i % pool), nullptr, s.k, s.n}, x.data(), s.m, y.data()); };
    std::vector<std::vector<float>> packed;
    for (int i = 0; i < pool; ++i) packed.push_back(cc::pack_weight(w.data() + per * i, s.k, s.n));
    auto dnnl_packed = [&](int i) {
      cc::linear(cc::Linear{nullptr, nullptr, s.k, s.n, packed[i % pool].data()}, x.data(), s.m, y.data());
    };
    const int hot = std::max(3, static_cast<int>(2e9 / flops));
    auto hot_blas = [&](int) { blas(0); };
    auto hot_dnnl = [&](int) { dnnl(0); };
    const double cold_dnnl = gflops(dnnl, flops, pool), cold_packed = gflops(dnnl_packed, flops, pool);
    const double bytes_per_flop = 4.0 * per / flops;
    std::printf("%-20s %5d %5d %5d   %9.1f GF/s %9.1f GF/s   %9.1f GF/s %9.1f GF/s %9.1f GF/s   %.1f, %.1f\n", s.what, s.m,
                s.k, s.n, gflops(hot_blas, flops, hot), gflops(hot_dnnl, flops, hot), gflops(blas, flops, pool), cold_dnnl,
                cold_packed, cold_dnnl * bytes_per_flop, cold_packed * bytes_per_flop);
  }
}
