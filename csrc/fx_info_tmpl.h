/* fx_info_tmpl.h - entropy and KL divergence, one instance per dtype and
 * ISA. Template parameters: fx_dtype_f32.h lists them.
 *
 * entropy      H(p)    = -sum p log p             (0 log 0 = 0)
 * kl           KL(p|q) =  sum p (log p - log q)   (0 where p = 0, +inf where q = 0 < p)
 * KL uses log(p/q), and log p - log q only where p/q over- or underflows.
 * Counts inside vector loops are kept in FX_T: an int reduction beside the
 * float ones keeps GCC from vectorising the loop.
 */

/* One term. For KL, log(p/q) keeps full relative accuracy when p ~ q (where
 * log p - log q would cancel); *careful is set to 1 where p/q over- or
 * underflows, and those terms are recomputed by info_term_careful. Terms
 * are products in float64: in float32 p log(p/q) overflows near FLT_MAX,
 * and a sum of +inf and -inf terms would be NaN. */
static inline __attribute__((always_inline)) double FX_FN(info_term)(
    FX_T pv, FX_T qv, const int kl, FX_T *careful)
{
    if (!kl) return pv == 0 ? 0.0 : -(double)pv * (double)FX_LOG(pv);
    const FX_T r = pv / qv;
    *careful = ((pv > 0) & (qv > 0) & !((r >= FX_TINY) & (r <= FX_HUGE))) ? (FX_T)1 : (FX_T)0;
    double t = (double)pv * (double)FX_LOG(r);
    /* NaN in p or q gives NaN, as scipy.special.rel_entr (p = NaN, q = 0
     * is not +inf; p = 0, q = NaN is not 0) */
    t = ((qv == 0) & (pv > 0)) ? (double)INFINITY : t;
    return ((pv == 0) & (qv == qv)) ? 0.0 : t;
}

static double FX_FN(info_term_careful)(FX_T pv, FX_T qv)
{
    FX_T careful;
    double t = FX_FN(info_term)(pv, qv, 1, &careful);
    return careful != 0 ? (double)pv * ((double)FX_LOG(pv) - (double)FX_LOG(qv)) : t;
}

static void FX_FN(info_block)(const void *vp, const fx_plan *plan, int64_t b, double *out)
{
    const fx_info_problem *p = (const fx_info_problem *)vp;
    int64_t o, i0, n;
    fx_row_block(plan, p->outer, p->inner, b, &o, &i0, &n);
    const int64_t C = p->C;
    const int kl = p->q.data != NULL;
    const int64_t r0 = o * p->inner + i0;
    int64_t prs, qrs = 0;
    const FX_S *P = (const FX_S *)p->p.data + fx_row_origin(&p->p, p->inner, o, i0, &prs);
    const FX_S *Q = kl ? (const FX_S *)p->q.data + fx_row_origin(&p->q, p->inner, o, i0, &qrs)
                       : NULL;
#if FX_HALF
    /* each chunk of p and q widened, then float32's loops: float32's bits */
    FX_T pbuf[1024], qbuf[1024];
#endif
    const int64_t pcs = p->p.s_class, qcs = p->q.s_class;
    FX_T *res = (FX_T *)p->out + r0;
    double first_bad = INFINITY;
    for (int64_t j = 0; j < n; j++) {
        const FX_S *pr = P + j * prs;
        const FX_S *qr = kl ? Q + j * qrs : NULL;
        if (j + 1 < n && pcs == 1) {
            FX_FN(prefetch)(pr + prs, C);   /* see fx_rows_tmpl.h */
            if (kl && qcs == 1) FX_FN(prefetch)(qr + qrs, C);
        }
        double total = 0.0;
        FX_T nbad = 0;
        if (pcs == 1 && (!kl || qcs == 1)) {
            for (int64_t c0 = 0; c0 < C; c0 += 1024) {
                const int64_t nn = C - c0 < 1024 ? C - c0 : 1024;
                double cs = 0;
#if FX_HALF
                FX_WIDEN(pbuf, pr + c0, nn);
                if (kl) FX_WIDEN(qbuf, qr + c0, nn);
                const FX_T *pc = pbuf;
#else
                const FX_T *pc = pr + c0;
#endif
                if (kl) {
#if FX_HALF
                    const FX_T *qc = qbuf;
#else
                    const FX_T *qc = qr + c0;
#endif
                    FX_T ncareful = 0;
#pragma omp simd reduction(+ : cs, nbad, ncareful)
                    for (int64_t c = 0; c < nn; c++) {
                        FX_T careful;
                        nbad += ((pc[c] < 0) | (qc[c] < 0)) ? (FX_T)1 : (FX_T)0;
                        cs += FX_FN(info_term)(pc[c], qc[c], 1, &careful);
                        ncareful += careful;
                    }
                    if (ncareful) {
                        cs = 0;
                        for (int64_t c = 0; c < nn; c++) cs += FX_FN(info_term_careful)(pc[c], qc[c]);
                    }
                } else {
#pragma omp simd reduction(+ : cs, nbad)
                    for (int64_t c = 0; c < nn; c++) {
                        nbad += pc[c] < 0 ? (FX_T)1 : (FX_T)0;
                        cs += FX_FN(info_term)(pc[c], 0, 0, NULL);
                    }
                }
                total += (double)cs;
            }
        } else {
            for (int64_t c = 0; c < C; c++) {
                const FX_T pv = FX_LD(pr[c * pcs]), qv = kl ? FX_LD(qr[c * qcs]) : 0;
                nbad += ((pv < 0) | (qv < 0)) ? (FX_T)1 : (FX_T)0;
                total += (double)(kl ? FX_FN(info_term_careful)(pv, qv)
                                     : FX_FN(info_term)(pv, 0, 0, NULL));
            }
        }
        if (nbad && first_bad == INFINITY) first_bad = (double)(r0 + j);
        res[j] = (FX_T)(total * p->scale);
    }
    out[0] = first_bad;
}
