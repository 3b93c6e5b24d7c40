/* fx_softmax_tmpl.h - logsumexp, log_softmax and softmax: the finishing of
 * a row from the statistics of fx_rows_tmpl.h (no target: A = 1, v = 0)
 * called by rows_block for the fx_softmax_op modes. One instance per dtype
 * and ISA; parameters as fx_rows_tmpl.h. */

/* logsumexp of a row from m, shift and ls = log(s), with the conventions of
 * logsumexp: NaN if the row has a NaN, else +inf if it has a +inf, else -inf
 * if it is all -inf. Only the +inf case needs another look at the row. */
static inline double FX_FN(norm_lse)(const FX_S *x, int64_t C, int64_t cs,
                                     FX_T m, FX_T shift, double ls)
{
    if (m == (FX_T)INFINITY) {
        for (int64_t c = 0; c < C; c++)
            if (FX_LD(x[c * cs]) != FX_LD(x[c * cs])) return NAN;
        return INFINITY;
    }
    return (double)shift + ls;
}

/* Second part for logsumexp / log_softmax / softmax: returns logsumexp and
 * writes out (softmax: the stored exps, rescaled). */
static inline double FX_FN(norm_row_finish)(const FX_FN(xent_ctx) *k, const FX_S *x,
                                            FX_T *out, const FX_T *shifts,
                                            const FX_FN(xent_stats) *st, double ls)
{
    const int64_t C = k->C;
    const double lse = FX_FN(norm_lse)(x, C, 1, st->m, st->shift, ls);
    if (k->mode == FX_LOGSUMEXP) return lse;
    if (!isfinite(lse)) {
        for (int64_t c = 0; c < C; c++) out[c] = (FX_T)NAN;
        return lse;
    }
    const FX_T shift = st->shift;
    if (k->mode == FX_LOG_SOFTMAX) {
        /* (x - m) - log s, never x - lse: lse rounds log s away next to a
         * huge m */
        const FX_T lt = (FX_T)ls;
#if FX_HALF
        FX_WIDEN(out, x, C);   /* then in place, as a float32 row */
#pragma omp simd
        for (int64_t c = 0; c < C; c++) out[c] = (out[c] - shift) - lt;
#else
#pragma omp simd
        for (int64_t c = 0; c < C; c++) out[c] = (x[c] - shift) - lt;
#endif
        return lse;
    }
    const double s = st->ties + st->small;
    for (int64_t c0 = 0, kk = 0; c0 < C; c0 += FX_CHUNK, kk++) {
        const int64_t n = C - c0 < FX_CHUNK ? C - c0 : FX_CHUNK;
        const int64_t nv = n - n % FX_VL, tb = n - FX_VL;
        const double dk = (double)shifts[kk] - (double)shift;
        const FX_T sc = (FX_T)(exp(dk > 0.0 ? 0.0 : dk) / s);
        FX_T *oc = out + c0;
#pragma omp simd
        for (int64_t j = 0; j < nv; j++) oc[j] *= sc;
        if (nv < n) {
            FX_TAIL_LANES(vl);
#pragma omp simd
            for (int64_t l = 0; l < vl; l++)
                oc[tb + l] = tb + l >= nv ? oc[tb + l] * sc : oc[tb + l];
        }
    }
    return lse;
}
