/* fx_exact.c - normalisation, merging and rounding of the superaccumulator
 * of fx_exact.h. */
#include <math.h>
#include "fx_exact.h"

/* Carries propagated upwards: every chunk but the top one ends in
 * [0, 2^32); the top one keeps the sign of the sum. */
void fx_exact_normalize(int64_t *acc)
{
    for (int i = 0; i < FX_EXACT_CHUNKS - 1; i++) {
        const int64_t carry = acc[i] >> 32;   /* arithmetic: floor division */
        acc[i] -= carry * ((int64_t)1 << 32);
        acc[i + 1] += carry;
    }
    acc[FX_EXACT_ADDS] = 0;
}

void fx_exact_merge(int64_t *dst, const int64_t *src)
{
    for (int i = 0; i < FX_EXACT_CHUNKS; i++) dst[i] += src[i];
    /* each side's chunks are bounded by its additions; so is their sum */
    dst[FX_EXACT_ADDS] += src[FX_EXACT_ADDS] + 2;
    for (int i = FX_EXACT_PINF; i < FX_EXACT_WORDS; i++) dst[i] += src[i];
    if (dst[FX_EXACT_ADDS] >= FX_EXACT_LIMIT) fx_exact_normalize(dst);
}

void fx_exact_add_array(int64_t *acc, const double *v, int64_t n)
{
    for (int64_t i = 0; i < n; i++) fx_exact_add(acc, v[i]);
}

/* u 2^(e - 1074), rounded to nearest even; `sticky` says whether nonzero
 * bits lie below u's last bit. */
static double fx_exact_scale(uint64_t u, int64_t e, int sticky)
{
    const int nb = 64 - __builtin_clzll(u);
    int sh = nb > 53 ? nb - 53 : 0;
    uint64_t q = u >> sh;
    if (sh > 0) {
        const uint64_t rem = u & (((uint64_t)1 << sh) - 1), half = (uint64_t)1 << (sh - 1);
        if (rem > half || (rem == half && (sticky || (q & 1)))) q++;
    }
    /* q <= 2^53 and, below 2^-1022, e + sh == 0: ldexp is exact or overflows */
    return ldexp((double)q, (int)(e + sh - 1074));
}

double fx_exact_round(const int64_t *acc)
{
    if (acc[FX_EXACT_NAN] || (acc[FX_EXACT_PINF] && acc[FX_EXACT_NINF])) return NAN;
    if (acc[FX_EXACT_PINF]) return INFINITY;
    if (acc[FX_EXACT_NINF]) return -INFINITY;
    int64_t d[FX_EXACT_WORDS];
    memcpy(d, acc, sizeof d);
    fx_exact_normalize(d);
    const int neg = d[FX_EXACT_CHUNKS - 1] < 0;
    if (neg) {   /* the magnitude: negate every chunk and normalise again */
        for (int i = 0; i < FX_EXACT_CHUNKS; i++) d[i] = -d[i];
        fx_exact_normalize(d);
    }
    int h = FX_EXACT_CHUNKS - 1;
    while (h >= 0 && d[h] == 0) h--;
    if (h < 0) return 0.0;
    double r;
    if (h < 2) {
        /* below 2^-1010: two chunks hold it; no bit lies below 2^-1074 */
        const uint64_t u = ((uint64_t)(h == 1 ? d[1] : 0) << 32) | (uint64_t)d[0];
        r = fx_exact_scale(u, 0, 0);
    } else {
        /* the top 64 bits (chunk h is nonzero, so its lower 32 bits come
         * from chunks h - 1 and h - 2), the others only as a sticky bit;
         * the top chunk may exceed 32 bits when the sum is past DBL_MAX */
        if ((uint64_t)d[h] >> 32) return neg ? -INFINITY : INFINITY;
        uint64_t v = ((uint64_t)d[h] << 32) | (uint64_t)d[h - 1];
        const int lz = __builtin_clzll(v);          /* <= 31 */
        const uint64_t low = (uint64_t)d[h - 2];
        int sticky = 0;
        if (lz > 0) {
            v = (v << lz) | (low >> (32 - lz));
            sticky = (low & (((uint64_t)1 << (32 - lz)) - 1)) != 0;
        } else {
            sticky = low != 0;
        }
        for (int i = 0; i < h - 2 && !sticky; i++) sticky = d[i] != 0;
        r = fx_exact_scale(v, 32 * (int64_t)(h - 2) + (32 - lz), sticky);
    }
    return neg ? -r : r;
}
