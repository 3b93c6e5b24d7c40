/* fx_eval_tmpl.h - the evaluation metrics' row kernel, one instance per
 * dtype and ISA. Template parameters: fx_dtype_f32.h lists them (FX_T,
 * FX_EXP_SUM, FX_CHUNK); the row prefetch is fx_rows_tmpl.h's.
 *
 * One read of a row (blocked online max, as the cross-entropy kernel) gives,
 * with e_c = exp(x_c - m), m the row max and s = sum e = ties + small:
 *   nll = log s + (m - x_t)                 (log s = log1p(ties - 1 + small))
 *   entropy = log s - s1 / s,               s1 = sum e_c (x_c - m) <= 0
 *   brier = ((s - e_t)^2 + (s2 - e_t^2)) / s^2,   s2 = sum e^2
 *   max prob = 1 / s, argmax (ties first or last), rank of t (classes ahead)
 * and with reference logits r (P_ref = softmax(r), m_r, s_r alike)
 *   KL(P_ref || P) = (1 / s_r) sum er_c (r_c - x_c) + (m - m_r) + (log s - log s_r).
 * Each term is a sum of non-negative parts except KL's, clamped at 0.
 * Every sum runs in FX_T over one chunk, then in double.
 */
typedef struct {
    FX_T m;                       /* row max (the shift of every sum) */
    int64_t argmax;
    double small, ties, s1, small2;
    double gt, eq;                /* logits > x_t, == x_t */
    int bad;                      /* the softmax is undefined */
    FX_T mr;
    int64_t argmax_r;
    double rsmall, rties, rdot;   /* rdot = sum er (r - x) */
} FX_FN(eval_stats);

/* max and the counts of entries > x_t and == x_t of a chunk (NaN entries
 * are left out of the max; they are found through the NaN they make of
 * the sums of exps) */
static inline FX_ALWAYS_INLINE FX_T FX_FN(eval_chunk_max)(const FX_T *xc, int64_t n, FX_T xt,
                                                          const int count, double *gt,
                                                          double *eq)
{
    FX_T cm = -(FX_T)INFINITY, cg = 0, ce = 0;
    if (count) {
#pragma omp simd reduction(max : cm) reduction(+ : cg, ce)
        for (int64_t j = 0; j < n; j++) {
            const FX_T v = xc[j];
            cm = v > cm ? v : cm;
            cg += v > xt ? (FX_T)1 : (FX_T)0;
            ce += v == xt ? (FX_T)1 : (FX_T)0;
        }
        *gt += (double)cg;
        *eq += (double)ce;
    } else {
#pragma omp simd reduction(max : cm)
        for (int64_t j = 0; j < n; j++) cm = xc[j] > cm ? xc[j] : cm;
    }
    return cm;
}

/* s = ties + small, s1 and s2 of a row rescaled from shift `old` to `new` */
static inline void FX_FN(eval_rescale)(double *small, double *ties, double *s1,
                                       double *small2, double old, double new_)
{
    const double r = exp(old - new_), s = *small + *ties;
    if (s1 != NULL) *s1 = r * (*s1 + s * (old - new_));
    if (small2 != NULL) *small2 = (*small2 + *ties) * r * r;
    *small = s * r;
    *ties = 0.0;
}

/* The statistics of one contiguous row x (and reference row xr). */
static inline FX_ALWAYS_INLINE void FX_FN(eval_row)(const FX_T *x, const FX_T *xr, int64_t C,
                                                    FX_T xt, int last, const int has_ref,
                                                    FX_FN(eval_stats) *st)
{
    FX_T m = -(FX_T)INFINITY, mr = -(FX_T)INFINITY;
    int64_t am = -1, amr = -1;
    double small = 0, ties = 0, s1 = 0, small2 = 0, gt = 0, eq = 0;
    double rsmall = 0, rties = 0, rdot = 0;
    for (int64_t c0 = 0; c0 < C; c0 += FX_CHUNK) {
        const int64_t n = C - c0 < FX_CHUNK ? C - c0 : FX_CHUNK;
        const FX_T *xc = x + c0;
        const FX_T cm = FX_FN(eval_chunk_max)(xc, n, xt, 1, &gt, &eq);
        const int take = cm > m || (last && cm == m);   /* the argmax is in this chunk */
        if (cm > m) {
            if (m > -(FX_T)INFINITY) FX_FN(eval_rescale)(&small, &ties, &s1, &small2, m, cm);
            m = cm;
        }
        const FX_T *rc = has_ref ? xr + c0 : NULL;
        int rtake = 0;
        if (has_ref) {
            const FX_T cr = FX_FN(eval_chunk_max)(rc, n, 0, 0, NULL, NULL);
            rtake = cr > mr || (last && cr == mr);
            if (cr > mr) {
                if (mr > -(FX_T)INFINITY) {
                    const double r = exp((double)mr - (double)cr);
                    rdot *= r;
                    FX_FN(eval_rescale)(&rsmall, &rties, NULL, NULL, mr, cr);
                }
                mr = cr;
            }
        }
        const FX_T shift = m, rshift = mr;
        /* the maxima (d == 0) also give the argmax: the smallest key of
         * j (first) or n - 1 - j (last), in FX_T (exact below 2^24) */
        FX_T cs = 0, cn = 0, c1 = 0, c2 = 0, key = (FX_T)n;
        const FX_T kb = last ? (FX_T)(n - 1) : 0, ks = last ? (FX_T)-1 : (FX_T)1;
#pragma omp simd reduction(+ : cs, cn, c1, c2) reduction(min : key)
        for (int64_t j = 0; j < n; j++) {
            const FX_T d = xc[j] - shift;
            const FX_T e = FX_EXP_SUM(d);
            const int z = d == 0;
            cs += z ? (FX_T)0 : e;
            cn += z ? (FX_T)1 : (FX_T)0;
            c1 += e == 0 ? (FX_T)0 : e * d;   /* 0, not NaN, for x = -inf */
            c2 += z ? (FX_T)0 : e * e;
            const FX_T kj = z ? kb + ks * (FX_T)j : (FX_T)n;
            key = kj < key ? kj : key;
        }
        if (take && key < (FX_T)n) am = c0 + (last ? n - 1 - (int64_t)key : (int64_t)key);
        small += (double)cs;
        ties += (double)cn;
        s1 += (double)c1;
        small2 += (double)c2;
        if (has_ref) {
            FX_T rs = 0, rn = 0, rd = 0, rkey = (FX_T)n;
#pragma omp simd reduction(+ : rs, rn, rd) reduction(min : rkey)
            for (int64_t j = 0; j < n; j++) {
                const FX_T d = rc[j] - rshift;
                const FX_T e = FX_EXP_SUM(d);
                const int z = d == 0;
                rs += z ? (FX_T)0 : e;
                rn += z ? (FX_T)1 : (FX_T)0;
                rd += e == 0 ? (FX_T)0 : e * (rc[j] - xc[j]);
                const FX_T kj = z ? kb + ks * (FX_T)j : (FX_T)n;
                rkey = kj < rkey ? kj : rkey;
            }
            if (rtake && rkey < (FX_T)n) amr = c0 + (last ? n - 1 - (int64_t)rkey : (int64_t)rkey);
            rsmall += (double)rs;
            rties += (double)rn;
            rdot += (double)rd;
        }
    }
    st->m = m;
    st->argmax = am;
    st->small = small;
    st->ties = ties;
    st->s1 = s1;
    st->small2 = small2;
    st->gt = gt;
    st->eq = eq;
    /* undefined softmax: a NaN (NaN sums), +inf or only -inf */
    st->bad = small != small || s1 != s1 || m == (FX_T)INFINITY || m == -(FX_T)INFINITY
              || (has_ref && (rsmall != rsmall || mr == (FX_T)INFINITY
                              || mr == -(FX_T)INFINITY));
    st->mr = mr;
    st->argmax_r = amr;
    st->rsmall = rsmall;
    st->rties = rties;
    st->rdot = rdot;
}

/* The row's metrics from its statistics (see the file header). */
/* A row of C stored values with class stride cs into buf as FX_T. */
static inline void FX_FN(eval_gather)(FX_T *buf, const FX_S *row, int64_t C, int64_t cs)
{
#if FX_HALF
    if (cs == 1) {
        FX_WIDEN(buf, row, C);
        return;
    }
#endif
    for (int64_t c = 0; c < C; c++) buf[c] = FX_LD(row[c * cs]);
}

static void FX_FN(eval_finish)(const FX_FN(eval_stats) *st, const FX_T *x, const FX_T *xr,
                               int64_t C, int64_t t, int last, int has_ref, fx_eval_row *row)
{
    const double m = (double)st->m, xt = (double)x[t];
    const double s = st->ties + st->small;
    const double ls = log1p((st->ties - 1.0) + st->small);
    const int t_is_max = x[t] == st->m;
    const double et = t_is_max ? 1.0 : exp(xt - m);
    row->nll = ls + (m - xt);
    row->max_prob = 1.0 / s;
    row->entropy = ls - st->s1 / s;
    const double om = t_is_max ? (st->ties - 1.0) + st->small : s - et;
    const double rest = t_is_max ? (st->ties - 1.0) + st->small2 : st->ties + st->small2 - et * et;
    row->brier = (om * om + rest) / (s * s);
    row->argmax = st->argmax;
    double ahead = st->gt;
    if (st->eq > 1.0) {   /* other classes tie with the target: count the side */
        for (int64_t c = last ? t + 1 : 0; c < (last ? C : t); c++) ahead += x[c] == x[t];
    }
    row->rank = (int64_t)ahead;
    row->p_t = et / s;
    row->kl = NAN;
    row->delta_p = NAN;
    row->same_top = 0;
    if (has_ref) {
        const double mr = (double)st->mr, sr = st->rties + st->rsmall;
        const double lsr = log1p((st->rties - 1.0) + st->rsmall);
        const double kl = st->rdot / sr + (m - mr) + (ls - lsr);
        row->kl = kl > 0.0 ? kl : 0.0;
        const double prt = (xr[t] == st->mr ? 1.0 : exp((double)xr[t] - mr)) / sr;
        row->delta_p = row->p_t - prt;
        row->same_top = st->argmax == st->argmax_r;
    }
}

/* One block of rows: statistics, per-row outputs, exact sums. */
static void FX_FN(eval_block)(const void *vctx, const fx_plan *plan, int64_t b, double *out)
{
    const fx_eval_ctx *ctx = (const fx_eval_ctx *)vctx;
    const fx_eval_problem *p = ctx->p;
    int64_t o, i0, n;
    fx_row_block(plan, p->outer, p->inner, b, &o, &i0, &n);
    const int64_t C = p->C;
    const int has_ref = p->xr.data != NULL;
    const int64_t r0 = o * p->inner + i0;
    int64_t xrs, rrs = 0;
    const FX_S *X = (const FX_S *)p->x.data + fx_row_origin(&p->x, p->inner, o, i0, &xrs);
    const FX_S *R = has_ref ? (const FX_S *)p->xr.data
                                  + fx_row_origin(&p->xr, p->inner, o, i0, &rrs) : NULL;
    /* rows whose classes are strided are copied to contiguous buffers; the
     * rows of a half dtype are all widened into them, then float32's code
     * runs on float32 rows (its bits) */
    const int copy = FX_HALF || p->x.s_class != 1 || (has_ref && p->xr.s_class != 1);
    FX_T *buf = NULL;
    if (copy) {
        buf = (FX_T *)malloc((size_t)C * (has_ref ? 2 : 1) * sizeof(FX_T));
        if (buf == NULL) {   /* a NaN ignored count: reported as missing memory */
            out[0] = NAN;
            out[1] = 0.0;
            out[2] = -INFINITY;
            out[3] = INFINITY;
            return;
        }
    }
    int64_t *acc = fx_eval_block_acc(ctx, b);
    fx_eval_tally tally;
    fx_eval_tally_init(&tally);
    for (int64_t j = 0; j < n; j++) {
        const int64_t r = r0 + j;
        const FX_S *srow = X + j * xrs;
        const FX_S *srrow = has_ref ? R + j * rrs : NULL;
        const FX_T *xrow = buf, *rrow = NULL;
        const int64_t t = p->labels[r];
        fx_eval_row row;
        if (t == p->ignore_index) {
            fx_eval_emit(ctx, &tally, acc, r, FX_ROW_IGNORED, NULL, 0.0);
            continue;
        }
        if (copy) {
            FX_FN(eval_gather)(buf, srow, C, p->x.s_class);
            if (has_ref) {
                FX_FN(eval_gather)(buf + C, srrow, C, p->xr.s_class);
                rrow = buf + C;
            }
        } else {
#if !FX_HALF
            xrow = srow;
            rrow = srrow;
            if (j + 1 < n) {
                FX_FN(prefetch)(srow + xrs, C);
                if (has_ref) FX_FN(prefetch)(srrow + rrs, C);
            }
#endif
        }
        FX_FN(eval_stats) st;
        if (has_ref) FX_FN(eval_row)(xrow, rrow, C, xrow[t], p->ties_last, 1, &st);
        else FX_FN(eval_row)(xrow, NULL, C, xrow[t], p->ties_last, 0, &st);
        const double w = p->sample_weight != NULL ? p->sample_weight[r] : 1.0;
        if (st.bad) {
            fx_eval_emit(ctx, &tally, acc, r, FX_ROW_NONFINITE, NULL, w);
            continue;
        }
        FX_FN(eval_finish)(&st, xrow, rrow, C, t, p->ties_last, has_ref, &row);
        fx_eval_emit(ctx, &tally, acc, r, FX_ROW_COUNTED, &row, w);
    }
    free(buf);
    fx_eval_tally_out(&tally, out);
}

