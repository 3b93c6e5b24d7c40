/* fx_info_tmpl.h - entropy, KL divergence and log loss, one instance per
 * dtype. Template parameters: FX_T, FX_SFX, FX_LOG.
 *
 * entropy      H(p)    = -sum p log p             (0 log 0 = 0)
 * kl           KL(p|q) =  sum p (log p - log q)   (0 where p = 0, +inf where q = 0 < p)
 * KL uses log(p/q), and log p - log q only where p/q over- or underflows.
 * Counts inside vector loops are kept in FX_T: an int reduction beside the
 * float ones keeps GCC from vectorising the loop.
 */
#define FX_FN(name) FX_CAT(name, FX_CAT(_, FX_SFX))

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

static void FX_FN(info_block)(const void *vp, int64_t b, double *out)
{
    const fx_info_problem *p = (const fx_info_problem *)vp;
    int64_t o, i0, n;
    fx_row_block(p->outer, p->inner, p->rows_per_block, p->per_outer, b, &o, &i0, &n);
    const int64_t C = p->C;
    const int kl = p->q != NULL;
    int64_t r0, prs, qrs;
    const FX_T *P, *Q;
    if (p->inner == 1) {
        r0 = o;
        P = (const FX_T *)p->p + o * p->ps_outer;
        Q = kl ? (const FX_T *)p->q + o * p->qs_outer : NULL;
        prs = p->ps_outer;
        qrs = p->qs_outer;
    } else {
        r0 = o * p->inner + i0;
        P = (const FX_T *)p->p + o * p->ps_outer + i0 * p->ps_inner;
        Q = kl ? (const FX_T *)p->q + o * p->qs_outer + i0 * p->qs_inner : NULL;
        prs = p->ps_inner;
        qrs = p->qs_inner;
    }
    const int64_t pcs = p->ps_class, qcs = p->qs_class;
    FX_T *res = (FX_T *)p->out + r0;
    double first_bad = INFINITY;
    for (int64_t j = 0; j < n; j++) {
        const FX_T *pr = P + j * prs;
        const FX_T *qr = kl ? Q + j * qrs : NULL;
        if (j + 1 < n && pcs == 1) {
            FX_FN(prefetch)(pr + prs, C);   /* see fx_xent_tmpl.h */
            if (kl && qcs == 1) FX_FN(prefetch)(qr + qrs, C);
        }
        double total = 0.0;
        FX_T nbad = 0;
        if (pcs == 1 && (!kl || qcs == 1)) {
            for (int64_t c0 = 0; c0 < C; c0 += 1024) {
                const int64_t nn = C - c0 < 1024 ? C - c0 : 1024;
                double cs = 0;
                const FX_T *pc = pr + c0;
                if (kl) {
                    const FX_T *qc = qr + c0;
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
                const FX_T pv = pr[c * pcs], qv = kl ? qr[c * qcs] : 0;
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

/* Log loss: one gather per row (the true class's probability), plus the
 * row's sum and range for scikit-learn's checks, in the same read. */
static void FX_FN(logloss_block)(const void *vp, int64_t b, double *out)
{
    const fx_logloss_problem *p = (const fx_logloss_problem *)vp;
    const int64_t r0 = b * p->rows_per_block;
    const int64_t r1 = r0 + p->rows_per_block < p->n ? r0 + p->rows_per_block : p->n;
    const FX_T *P = (const FX_T *)p->prob;
    const FX_T *SW = (const FX_T *)p->sw;
    const int64_t K = p->K;
    const double eps = p->eps;
    double total = 0.0, lo = INFINITY, hi = -INFINITY, not_close = 0.0;
    for (int64_t r = r0; r < r1; r++) {
        const FX_T *pr = P + r * p->ps_row;
        FX_T mn = pr[0], mx = pr[0], sum = 0;
        FX_T has_nan = 0;
        if (p->ps_col == 1) {
#pragma omp simd reduction(min : mn) reduction(max : mx) reduction(+ : sum, has_nan)
            for (int64_t c = 0; c < K; c++) {
                FX_T v = pr[c];
                mn = v < mn ? v : mn;
                mx = v > mx ? v : mx;
                has_nan += v != v ? (FX_T)1 : (FX_T)0;
                sum += v;
            }
        } else {
            for (int64_t c = 0; c < K; c++) {
                FX_T v = pr[c * p->ps_col];
                mn = v < mn ? v : mn;
                mx = v > mx ? v : mx;
                has_nan += v != v ? (FX_T)1 : (FX_T)0;
                sum += v;
            }
        }
        if (has_nan) { lo = NAN; hi = NAN; }
        else {
            if ((double)mn < lo) lo = (double)mn;
            if ((double)mx > hi) hi = (double)mx;
        }
        if (K > 1 && !(fabs((double)sum - 1.0) <= p->atol + p->rtol)) not_close += 1.0;
        const int64_t col = p->col[r];
        if (col < 0) continue;
        double v = K == 1 ? (col == 1 ? (double)pr[0] : 1.0 - (double)pr[0])
                          : (double)pr[col * p->ps_col];
        v = v < eps ? eps : v;
        v = v > 1.0 - eps ? 1.0 - eps : v;
        double l = -log(v);
        if (SW != NULL) l *= (double)SW[r];
        total += l;
    }
    out[0] = total;
    out[1] = lo;
    out[2] = hi;
    out[3] = not_close;
}

#undef FX_FN
