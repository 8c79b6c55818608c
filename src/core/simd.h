// <immintrin.h> where the build targets AVX-512, for the kernels that use it directly. GCC
// 12's AVX-512 intrinsics pass an undefined vector (`__Y = __Y`) where a mask keeps no lanes,
// and -Wuninitialized reports it in the header at every use (GCC bug 105593, fixed in GCC 13).
#pragma once

#if defined(__AVX512F__)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif
