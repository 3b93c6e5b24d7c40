/* fx_half.h - the two half-precision storage types and their exact widening
 * to float32, compiled once per ISA variant (included by fx_isa_impl.h).
 *
 * A half is a struct, not a bare uint16_t, so that a template reading it
 * without FX_LD does not compile (a uint16_t would silently convert its
 * bits as an integer). Widening is exact for every value: subnormals, zeros
 * of both signs, infinities; a NaN keeps its sign and payload and becomes
 * quiet, as F16C's vcvtph2ps does, so the baseline and the F16C variants
 * give the same bits. Nothing here reads or depends on the FTZ/DAZ modes.
 */
#ifndef FX_HALF_H
#define FX_HALF_H

#include <stdint.h>
#include <string.h>
#include "fx_math.h"   /* FX_ALWAYS_INLINE */
#if defined(FX_HAVE_F16C)
#include <immintrin.h>
#endif

typedef struct { uint16_t bits; } fx_f16;    /* IEEE binary16 */
typedef struct { uint16_t bits; } fx_bf16;   /* bfloat16: the top half of a float32 */

static inline FX_ALWAYS_INLINE float fx_f32_of_u32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* float16 -> float32 without branches (vectorisable): a normal half is its
 * bits moved up 13 places with the exponent rebiased (15 -> 127); a
 * subnormal half or zero is its 10-bit integer significand times 2^-24,
 * computed in integers and one exact conversion so that no float32
 * subnormal (which DAZ would read as 0) appears; inf/NaN keep the exponent
 * all ones. */
static inline FX_ALWAYS_INLINE float fx_f16_to_f32(fx_f16 h)
{
    const uint32_t u = h.bits;
    const uint32_t sign = (u & 0x8000u) << 16, em = u & 0x7fffu;
    const uint32_t normal = (em << 13) + 0x38000000u;
    const uint32_t special = (em << 13) | 0x7f800000u | (em > 0x7c00u ? 0x00400000u : 0u);
    const uint32_t big = em >= 0x7c00u ? special : normal;
    const float small = (float)(int32_t)em * 0x1p-24f;   /* exact: em < 2^10 */
    const uint32_t small_bits = (uint32_t)(em < 0x0400u);
    uint32_t sb;
    memcpy(&sb, &small, sizeof sb);
    return fx_f32_of_u32((small_bits ? sb : big) | sign);
}

/* bfloat16 -> float32: the bits are the top 16 of the float32. A NaN is
 * quieted like float16's (NumPy's and ml_dtypes' casts keep the payload;
 * only the quiet bit may differ, and a NaN stays a NaN). */
static inline FX_ALWAYS_INLINE float fx_bf16_to_f32(fx_bf16 h)
{
    return fx_f32_of_u32((uint32_t)h.bits << 16);
}

/* dst[i] = widened src[i] for i < n: F16C's vcvtph2ps where the ISA
 * variant has it, else the portable conversion (which GCC and Clang
 * vectorise). */
static inline void fx_widen_f16(float *dst, const fx_f16 *src, int64_t n)
{
    int64_t i = 0;
#if defined(FX_HAVE_F16C)
#if FX_VL_BYTES >= 64
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)(src + i))));
#endif
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(src + i))));
#endif
#pragma omp simd
    for (int64_t j = i; j < n; j++) dst[j] = fx_f16_to_f32(src[j]);
}

static inline void fx_widen_bf16(float *dst, const fx_bf16 *src, int64_t n)
{
#pragma omp simd
    for (int64_t j = 0; j < n; j++) dst[j] = fx_bf16_to_f32(src[j]);
}

#endif
