/* fx_eval_tiles_tmpl.h - the evaluation kernel's short rows (C <=
 * FX_SMALL_C) in class-major tiles, vectorised across rows. Part of
 * fx_eval_tmpl.h, which includes it where these stood (split out by length:
 * the same code), one instance per dtype and ISA; parameters as there. */

/* The statistics of FX_TROWS rows of at most FX_SMALL_C classes held
 * class-major (row j, class c at x[c * FX_TROWS + j]), vectorised across the
 * rows: the class loop is outside, the row loop inside, so no sum is reduced
 * across lanes. The row loop always runs over all FX_TROWS lanes (a multiple
 * of every vector length; rows past the tile's are padding), so every row
 * takes the same vector instructions wherever it sits in its tile: a row's
 * bits do not depend on how the rows were split. The sums run in class order
 * in FX_T, then in double (one chunk: C <= FX_SMALL_C <= FX_CHUNK). */
#define FX_ET FX_TROWS
typedef struct {
    FX_T m[FX_ET], xt[FX_ET], cs[FX_ET], c1[FX_ET], c2[FX_ET], key[FX_ET];
    int32_t cg[FX_ET], ce[FX_ET], cn[FX_ET], rn[FX_ET];   /* counts (> x_t, == x_t, == m) */
    FX_T mr[FX_ET], rs[FX_ET], rd[FX_ET], rkey[FX_ET], rt[FX_ET];
    double ls[FX_ET], et[FX_ET], lsr[FX_ET], ert[FX_ET];
    /* the rows' metrics (eval_core) and whether the softmax is undefined */
    double nll[FX_ET], max_prob[FX_ET], entropy[FX_ET], brier[FX_ET], p_t[FX_ET];
    double kl[FX_ET], delta_p[FX_ET];
    int64_t argmax[FX_ET], argmax_r[FX_ET];
    int bad[FX_ET];
} FX_FN(eval_tile);

static void FX_FN(eval_tile_stats)(FX_FN(eval_tile) *tl, const FX_T *x, const FX_T *xr,
                                   const int64_t *lab, int64_t ignore_index, int64_t C,
                                   int64_t nt, int last, int has_ref, int need_am)
{
    FX_T *m = tl->m, *xt = tl->xt, *cs = tl->cs, *c1 = tl->c1, *c2 = tl->c2, *key = tl->key;
    int32_t *cg = tl->cg, *ce = tl->ce, *cn = tl->cn;
    const FX_T n = (FX_T)C, kb = last ? (FX_T)(C - 1) : 0, ks = last ? (FX_T)-1 : (FX_T)1;
    for (int64_t j = 0; j < FX_ET; j++) {
        const int64_t t = j >= nt || lab[j] == ignore_index ? 0 : lab[j];
        xt[j] = x[t * FX_ET + j];
        m[j] = -(FX_T)INFINITY;
        cg[j] = ce[j] = cs[j] = cn[j] = c1[j] = c2[j] = 0;
        key[j] = n;
    }
    for (int64_t c = 0; c < C; c++) {
        const FX_T *xc = x + c * FX_ET;
#pragma omp simd
        for (int64_t j = 0; j < FX_ET; j++) {
            const FX_T v = xc[j];
            m[j] = v > m[j] ? v : m[j];
            cg[j] += v > xt[j];
            ce[j] += v == xt[j];
        }
    }
    /* the sums as eval_chunk_exps' (values selected, e d at d clamped) */
    for (int64_t c = 0; c < C; c++) {
        const FX_T *xc = x + c * FX_ET;
#pragma omp simd
        for (int64_t j = 0; j < FX_ET; j++) {
            const FX_T d = xc[j] - m[j];
            const FX_T e = FX_EXP_SUM(d);
            const int z = d == 0;
            const FX_T dc = d < FX_EXP_SUM_LO ? FX_EXP_SUM_LO : d;
            const FX_T ez = z ? (FX_T)0 : e;
            cs[j] += ez;
            cn[j] += z;
            c1[j] += e * dc;
            c2[j] += ez * e;
        }
    }
    /* the argmax, where asked: the smallest key of the maxima */
    for (int64_t c = 0; need_am && c < C; c++) {
        const FX_T *xc = x + c * FX_ET;
        const FX_T kc = kb + ks * (FX_T)c;
#pragma omp simd
        for (int64_t j = 0; j < FX_ET; j++) key[j] = (xc[j] == m[j] && kc < key[j]) ? kc : key[j];
    }
    double *ls = tl->ls, *et = tl->et, *lsr = tl->lsr, *ert = tl->ert;
#pragma omp simd
    for (int64_t j = 0; j < FX_ET; j++) {
        ls[j] = FX_EVAL_LS((double)cn[j], (double)cs[j]);
        et[j] = FX_EVAL_ET(xt[j], m[j]);
    }
    FX_T *mr = tl->mr, *rs = tl->rs, *rd = tl->rd, *rkey = tl->rkey, *rt = tl->rt;
    int32_t *rn = tl->rn;
    if (has_ref) {
        for (int64_t j = 0; j < FX_ET; j++) {
            const int64_t t = j >= nt || lab[j] == ignore_index ? 0 : lab[j];
            rt[j] = xr[t * FX_ET + j];
            mr[j] = -(FX_T)INFINITY;
            rs[j] = rn[j] = rd[j] = 0;
            rkey[j] = n;
        }
        for (int64_t c = 0; c < C; c++) {
            const FX_T *rc = xr + c * FX_ET;
#pragma omp simd
            for (int64_t j = 0; j < FX_ET; j++) mr[j] = rc[j] > mr[j] ? rc[j] : mr[j];
        }
        for (int64_t c = 0; c < C; c++) {
            const FX_T *xc = x + c * FX_ET, *rc = xr + c * FX_ET;
            const FX_T kc = kb + ks * (FX_T)c;
#pragma omp simd
            for (int64_t j = 0; j < FX_ET; j++) {
                const FX_T d = rc[j] - mr[j];
                const FX_T e = FX_EXP_SUM(d);
                const int z = d == 0;
                const FX_T g = rc[j] - xc[j];
                rs[j] += z ? (FX_T)0 : e;
                rn[j] += z;
                rd[j] += e * (g > -FX_HUGE ? g : -FX_HUGE);   /* er = 0 where r = -inf */
                rkey[j] = (z && kc < rkey[j]) ? kc : rkey[j];
            }
        }
#pragma omp simd
        for (int64_t j = 0; j < FX_ET; j++) {
            lsr[j] = FX_EVAL_LS((double)rn[j], (double)rs[j]);
            ert[j] = FX_EVAL_ET(rt[j], mr[j]);
        }
    }
    /* the metrics of every lane at once (padding lanes included: the same
     * instructions for every row), from the sums in double */
    double *nll = tl->nll, *mp = tl->max_prob, *ent = tl->entropy, *bri = tl->brier;
    double *pt = tl->p_t, *kl = tl->kl, *dp = tl->delta_p;
#pragma omp simd
    for (int64_t j = 0; j < FX_ET; j++)
        FX_FN(eval_core)((double)m[j], (double)xt[j], (double)cn[j], (double)cs[j],
                         (double)c1[j], (double)c2[j], ls[j], et[j], &nll[j], &mp[j], &ent[j],
                         &bri[j], &pt[j]);
    if (has_ref) {
#pragma omp simd
        for (int64_t j = 0; j < FX_ET; j++)
            FX_FN(eval_core_ref)((double)m[j], (double)mr[j], ls[j], lsr[j], (double)rd[j],
                                 (double)rn[j] + (double)rs[j], ert[j], pt[j], &kl[j], &dp[j]);
    }
    for (int64_t j = 0; j < nt; j++) {
        /* eval_row's argmax: its one chunk holds it unless the row is all
         * -inf (then only ties "last" looks, and finds no maximum) */
        tl->argmax[j] = key[j] < n ? (last ? C - 1 - (int64_t)key[j] : (int64_t)key[j]) : -1;
        tl->argmax_r[j] = has_ref && rkey[j] < n ? (last ? C - 1 - (int64_t)rkey[j]
                                                         : (int64_t)rkey[j]) : -1;
        tl->bad[j] = cs[j] != cs[j] || c1[j] != c1[j] || m[j] == (FX_T)INFINITY
                     || m[j] == -(FX_T)INFINITY
                     || (has_ref && (rs[j] != rs[j] || mr[j] == (FX_T)INFINITY
                                     || mr[j] == -(FX_T)INFINITY));
    }
}

/* nt rows (row j, class c at x[j * rs + c * cs]) into the class-major
 * tile t (C x FX_ET), the rows past nt zero; pf as transpose's. */
static void FX_FN(eval_load_tile)(const FX_T *x, int64_t rs, int64_t cs, int64_t nt, int64_t C,
                                  FX_T *t, uintptr_t pf)
{
    if (cs == 1) {
        FX_FN(transpose)(x, rs, t, FX_ET, nt, C, pf);
    } else {
        for (int64_t c = 0; c < C; c++)
            for (int64_t j = 0; j < nt; j++) t[c * FX_ET + j] = x[j * rs + c * cs];
    }
    if (nt < FX_ET)
        for (int64_t c = 0; c < C; c++)
            for (int64_t j = nt; j < FX_ET; j++) t[c * FX_ET + j] = 0;
}

/* Rows of at most FX_SMALL_C classes, FX_ET at a time, copied (contiguous
 * rows transposed) into class-major tiles: `buf` holds a tile of FX_ET x C
 * elements (two with reference rows). */
static void FX_FN(eval_rows_short)(const fx_eval_ctx *ctx, fx_eval_tally *tally, int64_t *acc,
                                   int64_t r0, int64_t n, const FX_T *X, int64_t xrs,
                                   const FX_T *R, int64_t rrs, FX_FN(eval_tile) *tl, FX_T *buf)
{
    const fx_eval_problem *p = ctx->p;
    const int64_t C = p->C, xcs = p->x.s_class, rcs = R != NULL ? p->xr.s_class : 0;
    const int has_ref = R != NULL;
    FX_T *rbuf = buf + FX_ET * C;
    const uintptr_t pf = FX_FN(transpose_pf)(n, FX_ET, xrs, C);   /* see there */
    const uintptr_t rpf = has_ref ? FX_FN(transpose_pf)(n, FX_ET, rrs, C) : 0;
    for (int64_t t0 = 0; t0 < n; t0 += FX_ET) {
        const int64_t nt = n - t0 < FX_ET ? n - t0 : FX_ET;
        const FX_T *x = X + t0 * xrs, *xr = has_ref ? R + t0 * rrs : NULL;
        FX_FN(eval_load_tile)(x, xrs, xcs, nt, C, buf, pf);
        if (has_ref) FX_FN(eval_load_tile)(xr, rrs, rcs, nt, C, rbuf, rpf);
        FX_FN(eval_tile_stats)(tl, buf, rbuf, p->labels + r0 + t0, p->ignore_index, C, nt,
                               p->ties_last, has_ref, has_ref || p->row_argmax != NULL);
        for (int64_t j = 0; j < nt; j++) {
            const int64_t r = r0 + t0 + j, t = p->labels[r];
            const double w = p->sample_weight != NULL ? p->sample_weight[r] : 1.0;
            if (t == p->ignore_index) {
                fx_eval_emit(ctx, tally, acc, r, FX_ROW_IGNORED, NULL, 0.0);
                continue;
            }
            if (tl->bad[j]) {
                fx_eval_emit(ctx, tally, acc, r, FX_ROW_NONFINITE, NULL, w);
                continue;
            }
            fx_eval_row row;
            row.nll = tl->nll[j];
            row.max_prob = tl->max_prob[j];
            row.entropy = tl->entropy[j];
            row.brier = tl->brier[j];
            row.p_t = tl->p_t[j];
            row.argmax = tl->argmax[j];
            row.rank = FX_FN(eval_rank)((double)tl->cg[j], (double)tl->ce[j], x + j * xrs, xcs,
                                        C, t, p->ties_last);
            row.kl = has_ref ? tl->kl[j] : NAN;
            row.delta_p = has_ref ? tl->delta_p[j] : NAN;
            row.same_top = has_ref && tl->argmax[j] == tl->argmax_r[j];
            fx_eval_emit(ctx, tally, acc, r, FX_ROW_COUNTED, &row, w);
        }
    }
}
