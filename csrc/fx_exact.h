/* fx_exact.h - exact summation of doubles (a small superaccumulator).
 *
 * The design is Neal's "small superaccumulator" (R. M. Neal, Fast exact
 * summation using small and large superaccumulators, arXiv:1505.05571): a
 * finite double is m 2^(e - 1074) with an integer m < 2^53 and e in
 * [0, 2046], so the exact sum of any doubles is an integer multiple of
 * 2^-1074. That integer is kept in FX_EXACT_CHUNKS signed 64-bit chunks of
 * 32 bits each: value = sum_i chunk[i] 2^(32 i - 1074). Adding a double adds
 * its mantissa, shifted, to 3 consecutive chunks, each piece < 2^32, so a
 * chunk can take 2^30 additions before its carries must be propagated
 * (fx_exact_normalize). Additions of integers are associative: the rounded
 * sum (fx_exact_round, correctly rounded to nearest even, once) does not
 * depend on the order, the grouping or the thread that added a value.
 *
 * NaN, +inf and -inf are counted apart; the sum is NaN with any NaN or with
 * both infinities, else the infinity, else the rounded finite sum (+inf or
 * -inf when it overflows).
 *
 * One accumulator is FX_EXACT_WORDS int64 words: the chunks, then the count
 * of additions since the last normalisation, then the +inf, -inf and NaN
 * counts. No Python here; the same words are the state's NumPy arrays.
 */
#ifndef FX_EXACT_H
#define FX_EXACT_H

#include <stdint.h>
#include <string.h>

#define FX_EXACT_CHUNKS 68
#define FX_EXACT_ADDS 68
#define FX_EXACT_PINF 69
#define FX_EXACT_NINF 70
#define FX_EXACT_NAN 71
#define FX_EXACT_WORDS 72
/* additions after which the chunks are normalised: each chunk then stays
 * below (FX_EXACT_LIMIT + 2) 2^33 in magnitude */
#define FX_EXACT_LIMIT ((int64_t)1 << 28)

void fx_exact_normalize(int64_t *acc);
/* dst += src (both accumulators); src is unchanged */
void fx_exact_merge(int64_t *dst, const int64_t *src);
/* the sum, rounded once to the nearest double (ties to even) */
double fx_exact_round(const int64_t *acc);
/* Windowed sums (the Python side's WindowSums): row k of the n x width
 * `chunks` holds chunks [lo, lo + width) of item k's sum. Adds v[j] to item
 * index[j] for every finite nonzero v[j] (the caller counts the specials)
 * without propagating carries: the caller normalises the rows
 * (fx_exact_window_normalize) before any chunk takes 2^30 pieces, i.e.
 * at least every FX_EXACT_LIMIT values. Returns -1, or the first j whose
 * index or chunks fall outside (nothing after it is added). */
int64_t fx_exact_window_add(int64_t *chunks, int64_t n, int64_t width, int64_t lo,
                            const int64_t *index, const double *v, int64_t count);
/* Carries propagated upwards in every row of the n x width window. */
void fx_exact_window_normalize(int64_t *chunks, int64_t n, int64_t width);
/* The rounded sums of n windowed accumulators: row i of the n x width
 * `chunks` holds chunks [lo, lo + width) of item i, special (NULL: none)
 * its n x 3 +inf, -inf and NaN counts; untouched items give 0 at once. */
void fx_exact_round_window(const int64_t *chunks, int64_t n, int64_t width, int64_t lo,
                           const int64_t *special, double *out);
/* The lowest and highest first chunk (fx_exact_add's i) of the finite
 * nonzero values of v (lo > hi: none); returns the count of NaN and inf. */
int64_t fx_exact_span(const double *v, int64_t count, int64_t *lo, int64_t *hi);
/* adds n contiguous doubles (for tests and the Python side) */
void fx_exact_add_array(int64_t *acc, const double *v, int64_t n);

/* Adds v. Finite values touch 3 chunks; the specials only their counters. */
static inline void fx_exact_add(int64_t *acc, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    const int64_t e = (int64_t)((bits >> 52) & 0x7ff);
    if (e == 0x7ff) {
        if (bits & 0x000fffffffffffffULL) acc[FX_EXACT_NAN]++;
        else if (bits >> 63) acc[FX_EXACT_NINF]++;
        else acc[FX_EXACT_PINF]++;
        return;
    }
    uint64_t m = bits & 0x000fffffffffffffULL;
    int64_t off = 0;                  /* v = m 2^(off - 1074) */
    if (e) {
        m |= (uint64_t)1 << 52;
        off = e - 1;
    }
    const int64_t i = off >> 5;
    const int sh = (int)(off & 31);
    /* pieces of m 2^sh (up to 85 bits) at chunks i, i + 1, i + 2 */
    const int64_t p0 = (int64_t)((m << sh) & 0xffffffffULL);
    const int64_t p1 = (int64_t)((m >> (32 - sh)) & 0xffffffffULL);
    const int64_t p2 = (int64_t)((m >> 32) >> (32 - sh));
    if (bits >> 63) {
        acc[i] -= p0;
        acc[i + 1] -= p1;
        acc[i + 2] -= p2;
    } else {
        acc[i] += p0;
        acc[i + 1] += p1;
        acc[i + 2] += p2;
    }
    if (++acc[FX_EXACT_ADDS] >= FX_EXACT_LIMIT) fx_exact_normalize(acc);
}

#endif
