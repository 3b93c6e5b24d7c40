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
typedef FX_T FX_FN(tvec) __attribute__((vector_size(FX_VL_BYTES)));
#if FX_TBYTES == 4
typedef int32_t FX_FN(tidx) __attribute__((vector_size(FX_VL_BYTES)));
#else
typedef int64_t FX_FN(tidx) __attribute__((vector_size(FX_VL_BYTES)));
#endif

/* lane indices of zip_lo / zip_hi over the concatenation (a, b) */
#if FX_NL == 2
#define FX_ZLO 0, 2
#define FX_ZHI 1, 3
#elif FX_NL == 4
#define FX_ZLO 0, 4, 1, 5
#define FX_ZHI 2, 6, 3, 7
#elif FX_NL == 8
#define FX_ZLO 0, 8, 1, 9, 2, 10, 3, 11
#define FX_ZHI 4, 12, 5, 13, 6, 14, 7, 15
#else
#define FX_ZLO 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23
#define FX_ZHI 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31
#endif
#if defined(__clang__)
#define FX_ZIP(a, b, idx) __builtin_shufflevector(a, b, idx)
#define FX_UNROLL _Pragma("unroll")
#else
#define FX_ZIP(a, b, idx) __builtin_shuffle(a, b, (FX_FN(tidx)){idx})
#define FX_UNROLL _Pragma("GCC unroll 16")
#endif

static inline FX_ALWAYS_INLINE void FX_FN(transpose_block)(const FX_T *src, int64_t srs,
                                                          FX_T *dst, int64_t drs, uintptr_t pf)
{
    FX_FN(tvec) v[FX_NL], u[FX_NL];
    FX_UNROLL
    for (int i = 0; i < FX_NL; i++) {
        memcpy(&v[i], src + i * srs, sizeof v[i]);
        if (pf) __builtin_prefetch((const void *)((uintptr_t)(src + i * srs) + pf), 0, 2);
    }
    FX_UNROLL
    for (int round = 1; round < FX_NL; round *= 2) {
        FX_UNROLL
        for (int i = 0; i < FX_NL / 2; i++) {
            u[2 * i] = FX_ZIP(v[i], v[i + FX_NL / 2], FX_ZLO);
            u[2 * i + 1] = FX_ZIP(v[i], v[i + FX_NL / 2], FX_ZHI);
        }
        FX_UNROLL
        for (int i = 0; i < FX_NL; i++) v[i] = u[i];
    }
    FX_UNROLL
    for (int i = 0; i < FX_NL; i++) memcpy(dst + i * drs, &v[i], sizeof v[i]);
}
#undef FX_ZLO
#undef FX_ZHI
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
    if (nr >= FX_NL && nc >= FX_NL) {
        for (int64_t r0 = 0;; r0 += FX_NL) {
            if (r0 > nr - FX_NL) r0 = nr - FX_NL;
            for (int64_t c0 = 0;; c0 += FX_NL) {
                if (c0 > nc - FX_NL) c0 = nc - FX_NL;
                FX_FN(transpose_block)(src + r0 * srs + c0, srs, dst + c0 * drs + r0, drs, pf);
                if (c0 == nc - FX_NL) break;
            }
            if (r0 == nr - FX_NL) break;
        }
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
#undef FX_NL
