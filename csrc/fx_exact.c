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

void fx_exact_window_normalize(int64_t *chunks, int64_t n, int64_t width)
{
    for (int64_t k = 0; k < n; k++) {
        int64_t *row = chunks + k * width;
        for (int64_t i = 0; i + 1 < width; i++) {
            const int64_t carry = row[i] >> 32;
            row[i] -= carry * ((int64_t)1 << 32);
            row[i + 1] += carry;
        }
    }
}

int64_t fx_exact_window_add(int64_t *chunks, int64_t n, int64_t width, int64_t lo,
                            const int64_t *index, const double *v, int64_t count)
{
    for (int64_t j = 0; j < count; j++) {
        if (index[j] < 0 || index[j] >= n) return j;
        uint64_t bits;
        memcpy(&bits, &v[j], sizeof bits);
        const int64_t e = (int64_t)((bits >> 52) & 0x7ff);
        uint64_t m = bits & 0x000fffffffffffffULL;
        if (e == 0x7ff || (e == 0 && m == 0)) continue;   /* specials: the caller's */
        int64_t off = 0;
        if (e) {
            m |= (uint64_t)1 << 52;
            off = e - 1;
        }
        const int64_t i = (off >> 5) - lo;
        if (i < 0 || i + 3 > width) return j;
        const int sh = (int)(off & 31);
        const int64_t p0 = (int64_t)((m << sh) & 0xffffffffULL);
        const int64_t p1 = (int64_t)((m >> (32 - sh)) & 0xffffffffULL);
        const int64_t p2 = (int64_t)((m >> 32) >> (32 - sh));
        int64_t *row = chunks + index[j] * width + i;
        if (bits >> 63) {
            row[0] -= p0;
            row[1] -= p1;
            row[2] -= p2;
        } else {
            row[0] += p0;
            row[1] += p1;
            row[2] += p2;
        }
    }
    return -1;
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

/* Carries of chunks [lo, hi) propagated upwards (chunk hi - 1 keeps the
 * sign); the chunks outside are 0 or, above hi, left alone. */
static void fx_exact_normalize_span(int64_t *d, int lo, int hi)
{
    for (int i = lo; i < hi - 1; i++) {
        const int64_t carry = d[i] >> 32;
        d[i] -= carry * ((int64_t)1 << 32);
        d[i + 1] += carry;
    }
}

/* The rounded value of the chunks d (modified), all 0 outside [lo, hi):
 * with hi < FX_EXACT_CHUNKS the span must hold the normalised sum (a
 * window's headroom chunk, see the Python WindowSums). */
static double fx_exact_round_span(int64_t *d, int lo, int hi)
{
    fx_exact_normalize_span(d, lo, hi);
    const int neg = d[hi - 1] < 0;
    if (neg) {   /* the magnitude: negate every chunk and normalise again */
        for (int i = lo; i < hi; i++) d[i] = -d[i];
        fx_exact_normalize_span(d, lo, hi);
    }
    int h = hi - 1;
    while (h >= lo && d[h] == 0) h--;
    if (h < lo) return 0.0;
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
        for (int i = lo; i < h - 2 && !sticky; i++) sticky = d[i] != 0;
        r = fx_exact_scale(v, 32 * (int64_t)(h - 2) + (32 - lz), sticky);
    }
    return neg ? -r : r;
}

double fx_exact_round(const int64_t *acc)
{
    if (acc[FX_EXACT_NAN] || (acc[FX_EXACT_PINF] && acc[FX_EXACT_NINF])) return NAN;
    if (acc[FX_EXACT_PINF]) return INFINITY;
    if (acc[FX_EXACT_NINF]) return -INFINITY;
    int64_t d[FX_EXACT_WORDS];
    memcpy(d, acc, sizeof d);
    return fx_exact_round_span(d, 0, FX_EXACT_CHUNKS);
}

void fx_exact_round_window(const int64_t *chunks, int64_t n, int64_t width, int64_t lo,
                           const int64_t *special, double *out)
{
    int64_t acc[FX_EXACT_WORDS];
    memset(acc, 0, sizeof acc);   /* rounding changes the window's chunks only */
    for (int64_t i = 0; i < n; i++) {
        const int64_t *row = chunks + i * width;
        const int64_t *si = special != NULL ? special + 3 * i : NULL;
        int64_t any = si != NULL ? (si[0] | si[1] | si[2]) : 0;
        for (int64_t j = 0; j < width; j++) any |= row[j];
        if (!any) {   /* most items of a large per-class sum are never touched */
            out[i] = 0.0;
            continue;
        }
        if (si != NULL && (si[2] || (si[0] && si[1]))) out[i] = NAN;
        else if (si != NULL && si[0]) out[i] = INFINITY;
        else if (si != NULL && si[1]) out[i] = -INFINITY;
        else {
            memcpy(acc + lo, row, (size_t)width * sizeof(int64_t));
            out[i] = fx_exact_round_span(acc, (int)lo, (int)(lo + width));
            memset(acc + lo, 0, (size_t)width * sizeof(int64_t));
        }
    }
}

int64_t fx_exact_span(const double *v, int64_t count, int64_t *lo, int64_t *hi)
{
    int64_t mn = FX_EXACT_CHUNKS, mx = -1, specials = 0;
    for (int64_t j = 0; j < count; j++) {
        uint64_t bits;
        memcpy(&bits, &v[j], sizeof bits);
        const int64_t e = (int64_t)((bits >> 52) & 0x7ff);
        specials += e == 0x7ff;
        if (e == 0x7ff || (bits << 1) == 0) continue;   /* special or +-0 */
        const int64_t i = (e > 0 ? e - 1 : 0) >> 5;
        mn = i < mn ? i : mn;
        mx = i > mx ? i : mx;
    }
    *lo = mn;
    *hi = mx;
    return specials;
}
