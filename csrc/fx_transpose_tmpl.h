/* fx_transpose_tmpl.h - tile transposition, one instance per dtype and ISA.
 * Template parameters: FX_T, FX_TBYTES (its size), FX_SFX; FX_VL_BYTES comes
 * from the ISA variant.
 *
 * dst[c * drs + r] = src[r * srs + c] for r < nr, c < nc. With GCC or Clang
 * vector extensions the matrix is cut into square blocks of one vector's
 * lanes (B = FX_VL_BYTES / FX_TBYTES); a block is loaded as B row vectors
 * and transposed by log2(B) rounds of the perfect shuffle
 *
 *     u[2i] = zip_lo(v[i], v[i + B/2]),  u[2i+1] = zip_hi(v[i], v[i + B/2]),
 *
 * which the compiler turns into the ISA's two-source permutes (vpermt2ps,
 * vunpcklps, zip1, ...): B log2(B) shuffles for B*B elements instead of a
 * scalar load and store each. The last block row and column overlap the
 * previous ones when nr or nc is not a multiple of B, rewriting a few
 * elements with the same values, so there is no scalar remainder unless
 * the matrix is narrower than one block.
 */
#define FX_NL (FX_VL_BYTES / FX_TBYTES)

#if (defined(__GNUC__) || defined(__clang__)) && \
    (FX_NL == 2 || FX_NL == 4 || FX_NL == 8 || FX_NL == 16)
#define FX_TVEC 1
/* lane indices of zip_lo / zip_hi over the concatenation (a, b) of two
 * vectors of n lanes */
#define FX_ZLO_2 0, 2
#define FX_ZHI_2 1, 3
#define FX_ZLO_4 0, 4, 1, 5
#define FX_ZHI_4 2, 6, 3, 7
#define FX_ZLO_8 0, 8, 1, 9, 2, 10, 3, 11
#define FX_ZHI_8 4, 12, 5, 13, 6, 14, 7, 15
#define FX_ZLO_16 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23
#define FX_ZHI_16 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31
#if defined(__clang__)
#define FX_ZIP(a, b, tidx, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#define FX_UNROLL _Pragma("unroll")
#else
#define FX_ZIP(a, b, tidx, ...) __builtin_shuffle(a, b, (tidx){__VA_ARGS__})
#define FX_UNROLL _Pragma("GCC unroll 16")
#endif
/* blocks of a whole vector, and of half and a quarter of one (16 bytes at
 * least) for matrices narrower than a vector's lanes: short rows of 4-15
 * float32 classes on AVX-512 are transposed as vectors too. The widths as
 * literals (they name the functions). */
#if FX_NL == 16
#define FX_W1 16
#define FX_W2 8
#define FX_W4 4
#elif FX_NL == 8
#define FX_W1 8
#define FX_W2 4
#define FX_W4 2
#elif FX_NL == 4
#define FX_W1 4
#define FX_W2 2
#else
#define FX_W1 2
#endif
#if FX_VL_BYTES < 32
#undef FX_W2   /* a half vector under 16 bytes */
#endif
#if FX_VL_BYTES < 64
#undef FX_W4
#endif
#define FX_TB FX_W1
#include "fx_tblock_tmpl.h"
#undef FX_TB
#ifdef FX_W2
#define FX_TB FX_W2
#include "fx_tblock_tmpl.h"
#undef FX_TB
#endif
#ifdef FX_W4
#define FX_TB FX_W4
#include "fx_tblock_tmpl.h"
#undef FX_TB
#endif
#undef FX_ZIP
#undef FX_UNROLL
#else
#define FX_TVEC 0
#endif

/* The prefetch distance, in bytes, for transposing a block of n rows of
 * nc elements (row stride srs) in tiles of `tile` rows: two tiles ahead, so
 * that each load of the transposition asks for the line of the same column
 * two tiles on (one request per vector, spread over the tile, instead of
 * one burst per tile; bursts of 128-256 lines stalled on the line fill
 * buffers). 0 asks for nothing: for a block of one tile (the array's last,
 * or a half dtype's widened tile) and for rows of at most two lines, whose
 * tiles the hardware prefetcher follows by itself (measured on Zen 4 at
 * (65536, C) float32: faster without the requests at C <= 32, slower at
 * C >= 48). Addresses past the array's end are only asked for: a prefetch
 * never faults, and they are computed as integers. */
static inline uintptr_t FX_FN(transpose_pf)(int64_t n, int64_t tile, int64_t srs, int64_t nc)
{
    if (n <= tile || (uintptr_t)nc * FX_TBYTES <= 128) return 0;
    return (uintptr_t)2 * (uintptr_t)tile * (uintptr_t)srs * FX_TBYTES;
}

/* Transposes as above; pf != 0 asks, for each row vector loaded at address
 * a, for the line at a + pf (see transpose_pf). */
static void FX_FN(transpose)(const FX_T *src, int64_t srs, FX_T *dst, int64_t drs,
                              int64_t nr, int64_t nc, uintptr_t pf)
{
#if FX_TVEC
    if (nr >= FX_W1 && nc >= FX_W1) {
        FX_FN(FX_CAT(transpose_blocks, FX_W1))(src, srs, dst, drs, nr, nc, pf);
        return;
    }
#endif
#ifdef FX_W2
    if (nr >= FX_W2 && nc >= FX_W2) {
        FX_FN(FX_CAT(transpose_blocks, FX_W2))(src, srs, dst, drs, nr, nc, pf);
        return;
    }
#endif
#ifdef FX_W4
    if (nr >= FX_W4 && nc >= FX_W4) {
        FX_FN(FX_CAT(transpose_blocks, FX_W4))(src, srs, dst, drs, nr, nc, pf);
        return;
    }
#endif
    for (int64_t r = 0; r < nr; r++) {
        if (pf) {
            const uintptr_t a = (uintptr_t)(src + r * srs) + pf;
            __builtin_prefetch((const void *)a, 0, 2);
            __builtin_prefetch((const void *)(a + (uintptr_t)(nc - 1) * sizeof(FX_T)), 0, 2);
        }
        for (int64_t c = 0; c < nc; c++) dst[c * drs + r] = src[r * srs + c];
    }
}

#undef FX_TVEC
#undef FX_W1
#undef FX_W2
#undef FX_W4
#undef FX_NL
