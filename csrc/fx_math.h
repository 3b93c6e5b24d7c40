/* fx_math.h - branch-free elementary functions that GCC and Clang vectorise.
 *
 * Every function is `static inline` and written with selects instead of
 * branches, integer bit manipulation for 2^n and frexp, and no libm call, so
 * that a loop under `#pragma omp simd` that calls it becomes straight-line
 * vector code for whatever ISA the including translation unit targets (each
 * ISA variant includes this header again, see fx_isa_impl.h).
 *
 * Accuracy (checked by tests/test_math.py against correctly rounded values):
 * every function is within 2 ulp over its whole domain, subnormal results
 * included; NaN propagates, +-inf and 0 give the IEEE limits.
 *
 * Polynomial coefficients: exp uses Cephes' expf minimax coefficients in
 * float32 and the Taylor series to degree 13 in float64; log/log1p use the
 * atanh series log(m) = 2 atanh((m-1)/(m+1)) after reducing m to
 * [sqrt(1/2), sqrt(2)), arranged as in fdlibm's log.
 */
#ifndef FX_MATH_H
#define FX_MATH_H

#include <stdint.h>

/* Inlining is what lets these vectorise inside the caller's loop; large
 * kernels exceed GCC's inlining budget, so it is forced. */
#if defined(__GNUC__) || defined(__clang__)
#define FX_ALWAYS_INLINE __attribute__((always_inline))
#else
#define FX_ALWAYS_INLINE
#endif

typedef union { float f; int32_t i; uint32_t u; } fx_bits32;
typedef union { double f; int64_t i; uint64_t u; } fx_bits64;

static inline FX_ALWAYS_INLINE float fx_f32_from_bits(int32_t i) { fx_bits32 b; b.i = i; return b.f; }
static inline FX_ALWAYS_INLINE int32_t fx_bits_of_f32(float f) { fx_bits32 b; b.f = f; return b.i; }
static inline FX_ALWAYS_INLINE double fx_f64_from_bits(int64_t i) { fx_bits64 b; b.i = i; return b.f; }
static inline FX_ALWAYS_INLINE int64_t fx_bits_of_f64(double f) { fx_bits64 b; b.f = f; return b.i; }
/* 2^k as a float from a biased exponent computed in unsigned arithmetic:
 * for NaN or out-of-range inputs k is garbage, and a signed shift or sum
 * would be undefined behaviour (the selects drop those lanes anyway; the
 * bits of every other lane are unchanged). */
static inline FX_ALWAYS_INLINE float fx_f32_pow2(int32_t k)
{
    fx_bits32 b; b.u = ((uint32_t)k + 127u) << 23; return b.f;
}
static inline FX_ALWAYS_INLINE double fx_f64_pow2(int64_t k)
{
    fx_bits64 b; b.u = ((uint64_t)k + 1023u) << 52; return b.f;
}

/* ------------------------------------------------------------------ exp */

/* exp: range reduction x = k ln2 + r, |r| <= ln2/2, with k obtained by the
 * round-to-nearest "magic number" trick so no float->int conversion is
 * needed; returns exp(r) and k. Cody-Waite split of ln2 (the high part has
 * few significant bits, so k * ln2_hi is exact). */
static inline FX_ALWAYS_INLINE float fx_exp_core_f32(float xc, int32_t *k)
{
    const float magic = 12582912.0f;           /* 1.5 * 2^23 */
    float t = xc * 1.44269504088896341f + magic;
    *k = fx_bits_of_f32(t) - fx_bits_of_f32(magic);
    float kf = t - magic;
    float r = xc - kf * 0.693359375f;
    r = r + kf * 2.12194440e-4f;
    float p = 1.9875691500e-4f;                /* Cephes' expf coefficients */
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    return p * (r * r) + r + 1.0f;
}

static inline FX_ALWAYS_INLINE double fx_exp_core_f64(double xc, int64_t *k)
{
    const double magic = 6755399441055744.0;   /* 1.5 * 2^52 */
    double t = xc * 1.4426950408889634074 + magic;
    *k = fx_bits_of_f64(t) - fx_bits_of_f64(magic);
    double kf = t - magic;
    /* fdlibm's split of ln2: ln2_hi has 32 significant bits */
    double r = xc - kf * 6.93147180369123816490e-01;
    r = r - kf * 1.90821492927058770002e-10;
    double p = 1.0 / 6227020800.0;             /* Taylor to 1/13!: < 0.05 ulp */
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    return p * (r * r) + r + 1.0;
}

/* exp(x) in float32 over its whole range. 2^k is applied as two factors
 * 2^(k/2) 2^(k-k/2) so that results down in the subnormal range are
 * rounded once, correctly. */
static inline FX_ALWAYS_INLINE float fx_exp_f32(float x)
{
    const float lo = -104.0f; /* exp(-104) < half the smallest subnormal */
    const float hi = 89.0f;   /* exp(89) > FLT_MAX */
    float xc = x < lo ? lo : x;
    xc = xc > hi ? hi : xc;                    /* NaN passes both selects */
    int32_t k;
    float p = fx_exp_core_f32(xc, &k);
    int32_t k1 = k >> 1;
    int32_t k2 = k - k1;
    float y = (p * fx_f32_pow2(k1)) * fx_f32_pow2(k2);
    return x < lo ? 0.0f : y;
}

/* exp(x) for x <= 0 (or NaN) in float32, for sums of exp(x - max): one
 * 2^k scaling instead of two and no overflow clamp. Results below 2^-126
 * (x < -87.3) are flushed to 0, which changes a sum that includes the
 * max's exp(0) = 1 by less than 1e-38 relative. Same accuracy otherwise. */
#define FX_EXP_NONPOS_LO_F32 (-87.33654f)            /* log(2^-126) */
static inline FX_ALWAYS_INLINE float fx_exp_nonpos_f32(float x)
{
    const float lo = FX_EXP_NONPOS_LO_F32;
    float xc = x < lo ? lo : x;
    int32_t k;
    float p = fx_exp_core_f32(xc, &k);
    float y = p * fx_f32_pow2(k);
    return x < lo ? 0.0f : y;
}

/* exp(x) in float64: same scheme. */
static inline FX_ALWAYS_INLINE double fx_exp_f64(double x)
{
    const double lo = -746.0;  /* exp(-746) < half the smallest subnormal */
    const double hi = 710.0;   /* exp(710) > DBL_MAX */
    double xc = x < lo ? lo : x;
    xc = xc > hi ? hi : xc;
    int64_t k;
    double p = fx_exp_core_f64(xc, &k);
    int64_t k1 = k >> 1;
    int64_t k2 = k - k1;
    double y = (p * fx_f64_pow2(k1)) * fx_f64_pow2(k2);
    return x < lo ? 0.0 : y;
}

/* float64 twin of fx_exp_nonpos_f32 (flushes below 2^-1022). */
#define FX_EXP_NONPOS_LO_F64 (-708.3964185322641)    /* log(2^-1022) */
static inline FX_ALWAYS_INLINE double fx_exp_nonpos_f64(double x)
{
    const double lo = FX_EXP_NONPOS_LO_F64;
    double xc = x < lo ? lo : x;
    int64_t k;
    double p = fx_exp_core_f64(xc, &k);
    double y = p * fx_f64_pow2(k);
    return x < lo ? 0.0 : y;
}

/* ------------------------------------------------------------------ log */

/* log(x) in float32. x = 2^e m with m in [sqrt(1/2), sqrt(2)), f = m - 1
 * (exact, Sterbenz), s = f / (2 + f) and log(1 + f) = 2 atanh(s) =
 * f - (f^2/2 - s (f^2/2 + R)), R = 2 s^2/3 + 2 s^4/5 + ... (fdlibm's
 * arrangement): the rounding of s only enters through the small term
 * s (f^2/2 + R), so the result stays within 1 ulp, also near x = 1. */
static inline FX_ALWAYS_INLINE float fx_log_f32(float x)
{
    /* scale subnormals into the normal range first */
    int tiny = x < 1.17549435e-38f;
    float xs = tiny ? x * 8388608.0f : x;         /* 2^23 */
    int32_t bits = fx_bits_of_f32(xs);
    /* unsigned: negative x (NaN result) would overflow a signed subtraction */
    int32_t off = (int32_t)((uint32_t)bits - 0x3f3504f3u);   /* sqrt(1/2) */
    int32_t e = off >> 23;
    float m = fx_f32_from_bits((off & 0x007fffff) + 0x3f3504f3);
    float ef = (float)(e - (tiny ? 23 : 0));
    float f = m - 1.0f;
    float s = f / (2.0f + f);
    float z = s * s;
    float R = 0.18181818182f;                     /* 2/11 */
    R = R * z + 0.22222222222f;                   /* 2/9 */
    R = R * z + 0.28571428571f;                   /* 2/7 */
    R = R * z + 0.4f;                             /* 2/5 */
    R = R * z + 0.66666666667f;                   /* 2/3 */
    R = R * z;
    float hfsq = 0.5f * f * f;
    /* ln2 = 0.693138122558 (exact in 16 bits) + 9.0580006145e-06 */
    float y = ef * 6.9313812256e-01f
              - ((hfsq - (s * (hfsq + R) + ef * 9.0580006145e-06f)) - f);
    y = x == 0.0f ? -__builtin_inff() : y;
    y = x < 0.0f ? __builtin_nanf("") : y;
    y = x == __builtin_inff() ? x : y;
    y = x != x ? x : y;
    return y;
}

static inline FX_ALWAYS_INLINE double fx_log_f64(double x)
{
    int tiny = x < 2.2250738585072014e-308;
    double xs = tiny ? x * 18014398509481984.0 : x;   /* 2^54 */
    int64_t bits = fx_bits_of_f64(xs);
    int64_t off = (int64_t)((uint64_t)bits - 0x3fe6a09e667f3bcdULL);
    int64_t e = off >> 52;
    double m = fx_f64_from_bits((off & 0x000fffffffffffffLL) + 0x3fe6a09e667f3bcdLL);
    double ef = (double)(e - (tiny ? 54 : 0));
    double f = m - 1.0;
    double s = f / (2.0 + f);
    double z = s * s;
    /* z <= 0.0295: terms to z^11 leave < 1e-18 relative */
    double R = 2.0 / 23.0;
    R = R * z + 2.0 / 21.0;
    R = R * z + 2.0 / 19.0;
    R = R * z + 2.0 / 17.0;
    R = R * z + 2.0 / 15.0;
    R = R * z + 2.0 / 13.0;
    R = R * z + 2.0 / 11.0;
    R = R * z + 2.0 / 9.0;
    R = R * z + 2.0 / 7.0;
    R = R * z + 2.0 / 5.0;
    R = R * z + 2.0 / 3.0;
    R = R * z;
    double hfsq = 0.5 * f * f;
    /* fdlibm's split of ln2 */
    double y = ef * 6.93147180369123816490e-01
               - ((hfsq - (s * (hfsq + R) + ef * 1.90821492927058770002e-10)) - f);
    y = x == 0.0 ? -__builtin_inf() : y;
    y = x < 0.0 ? __builtin_nan("") : y;
    y = x == __builtin_inf() ? x : y;
    y = x != x ? x : y;
    return y;
}

/* log1p(u) for u > -1: log(w) + (u - (w - 1)) / w with w = fl(1 + u); the
 * second term restores what rounding 1 + u lost, so tiny u give u. */
static inline FX_ALWAYS_INLINE float fx_log1p_f32(float u)
{
    float w = 1.0f + u;
    float c = (u - (w - 1.0f)) / w;
    float y = fx_log_f32(w) + c;
    y = u == __builtin_inff() ? u : y;
    y = u == -1.0f ? -__builtin_inff() : y;
    y = u == 0.0f ? u : y;                        /* keeps the sign of -0 */
    return y;
}

static inline FX_ALWAYS_INLINE double fx_log1p_f64(double u)
{
    double w = 1.0 + u;
    double c = (u - (w - 1.0)) / w;
    double y = fx_log_f64(w) + c;
    y = u == __builtin_inf() ? u : y;
    y = u == -1.0 ? -__builtin_inf() : y;
    y = u == 0.0 ? u : y;
    return y;
}

/* log1p(u) for u in [0, 1] (or NaN) in float32, as in BCE's
 * log1p(exp(-|x|)): no range reduction is needed there, so this is the
 * fdlibm arrangement of 2 atanh(s), s = u / (2 + u) <= 1/3, directly:
 * log1p(u) = u - (u^2/2 - s (u^2/2 + R)), R = 2 s^2/3 + ... + 2 s^14/15. */
static inline FX_ALWAYS_INLINE float fx_log1p_unit_f32(float u)
{
    float s = u / (2.0f + u);
    float z = s * s;
    float R = 0.13333333333f;                     /* 2/15 */
    R = R * z + 0.15384615385f;                   /* 2/13 */
    R = R * z + 0.18181818182f;                   /* 2/11 */
    R = R * z + 0.22222222222f;                   /* 2/9 */
    R = R * z + 0.28571428571f;                   /* 2/7 */
    R = R * z + 0.4f;                             /* 2/5 */
    R = R * z + 0.66666666667f;                   /* 2/3 */
    R = R * z;
    float hfsq = 0.5f * u * u;
    return u - (hfsq - s * (hfsq + R));
}

/* float64: the general log1p (a polynomial over [0, 1] would need 17 terms). */
static inline FX_ALWAYS_INLINE double fx_log1p_unit_f64(double u)
{
    return fx_log1p_f64(u);
}

#endif /* FX_MATH_H */
