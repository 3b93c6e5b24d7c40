/* Kernels compiled for AVX2 + FMA (+ F16C, which every AVX2 CPU has); selected at run time on CPUs that have
 * them. Empty where the compiler cannot target x86 (FX_X86_DISPATCH unset). */
#include "fx_isa.h"
#if defined(FX_X86_DISPATCH)
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC target("avx2,fma,f16c")
#endif
#define FX_ISA_SUFFIX avx2
#define FX_VL_BYTES 32
#define FX_HAVE_F16C 1
#include "fx_isa_impl.h"
#if defined(__clang__)
#pragma clang attribute pop
#endif
#else
typedef int fx_isa_avx2_unused;
#endif
