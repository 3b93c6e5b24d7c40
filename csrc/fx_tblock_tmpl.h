/* fx_tblock_tmpl.h - the transposition of one FX_TB x FX_TB block held in
 * FX_TB vectors of FX_TB lanes (see fx_transpose_tmpl.h, which includes
 * this once per width it uses and defines FX_ZIP and FX_ZLO_n / FX_ZHI_n).
 * With pf != 0, each row vector loaded at address a asks for the line at
 * a + pf (see transpose_pf). */
#define FX_TBN(name) FX_FN(FX_CAT(name, FX_TB))
typedef FX_T FX_TBN(tvec) __attribute__((vector_size(FX_TB * FX_TBYTES)));
#if FX_TBYTES == 4
typedef int32_t FX_TBN(tidx) __attribute__((vector_size(FX_TB * FX_TBYTES)));
#else
typedef int64_t FX_TBN(tidx) __attribute__((vector_size(FX_TB * FX_TBYTES)));
#endif

static inline FX_ALWAYS_INLINE void FX_TBN(transpose_block)(const FX_T *src, int64_t srs,
                                                           FX_T *dst, int64_t drs, uintptr_t pf)
{
    FX_TBN(tvec) v[FX_TB], u[FX_TB];
    FX_UNROLL
    for (int i = 0; i < FX_TB; i++) {
        memcpy(&v[i], src + i * srs, sizeof v[i]);
        if (pf) __builtin_prefetch((const void *)((uintptr_t)(src + i * srs) + pf), 0, 2);
    }
    FX_UNROLL
    for (int round = 1; round < FX_TB; round *= 2) {
        FX_UNROLL
        for (int i = 0; i < FX_TB / 2; i++) {
            u[2 * i] = FX_ZIP(v[i], v[i + FX_TB / 2], FX_TBN(tidx), FX_CAT(FX_ZLO_, FX_TB));
            u[2 * i + 1] = FX_ZIP(v[i], v[i + FX_TB / 2], FX_TBN(tidx), FX_CAT(FX_ZHI_, FX_TB));
        }
        FX_UNROLL
        for (int i = 0; i < FX_TB; i++) v[i] = u[i];
    }
    FX_UNROLL
    for (int i = 0; i < FX_TB; i++) memcpy(dst + i * drs, &v[i], sizeof v[i]);
}

/* The nr x nc matrix (nr, nc >= FX_TB) in blocks of this width, the last
 * block row and column overlapping the previous ones. */
static void FX_TBN(transpose_blocks)(const FX_T *src, int64_t srs, FX_T *dst, int64_t drs,
                                     int64_t nr, int64_t nc, uintptr_t pf)
{
    for (int64_t r0 = 0;; r0 += FX_TB) {
        if (r0 > nr - FX_TB) r0 = nr - FX_TB;
        for (int64_t c0 = 0;; c0 += FX_TB) {
            if (c0 > nc - FX_TB) c0 = nc - FX_TB;
            FX_TBN(transpose_block)(src + r0 * srs + c0, srs, dst + c0 * drs + r0, drs, pf);
            if (c0 == nc - FX_TB) break;
        }
        if (r0 == nr - FX_TB) break;
    }
}
#undef FX_TBN
