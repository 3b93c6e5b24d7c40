/* Kernels compiled for AVX-512 (F, BW, DQ, VL) with 512-bit vectors;
 * selected at run time on CPUs that have them. */
#include "fx_isa.h"
#if defined(FX_X86_DISPATCH)
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c,prefer-vector-width=512")
#endif
#define FX_ISA_SUFFIX avx512
#define FX_VL_BYTES 64
#define FX_HAVE_F16C 1
#include "fx_isa_impl.h"
#if defined(__clang__)
#pragma clang attribute pop
#endif
#else
typedef int fx_isa_avx512_unused;
#endif
