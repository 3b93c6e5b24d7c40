/* fx_eval_long_tmpl.h - the evaluation kernel's long rows (C >
 * FX_SMALL_C), one at a time through eval_row, finished in groups. Part of
 * fx_eval_tmpl.h, which includes it where these stood (split out by
 * length: the same code), one instance per dtype and ISA; parameters as
 * there. */

/* Long rows are finished FX_EV_GROUP at a time: their statistics, taken
 * one row after the other, wait in a group (struct of arrays) whose log1p,
 * exp and divisions then run as vectors, as the tiles' do. */
#define FX_EV_GROUP 16
typedef struct {
    double m[FX_EV_GROUP], xt[FX_EV_GROUP], ties[FX_EV_GROUP], small[FX_EV_GROUP];
    double s1[FX_EV_GROUP], small2[FX_EV_GROUP], mr[FX_EV_GROUP], rt[FX_EV_GROUP];
    double rties[FX_EV_GROUP], rsmall[FX_EV_GROUP], rdot[FX_EV_GROUP];
    double nll[FX_EV_GROUP], max_prob[FX_EV_GROUP], entropy[FX_EV_GROUP];
    double brier[FX_EV_GROUP], p_t[FX_EV_GROUP], kl[FX_EV_GROUP], delta_p[FX_EV_GROUP];
    int64_t rank[FX_EV_GROUP], argmax[FX_EV_GROUP], argmax_r[FX_EV_GROUP];
    int status[FX_EV_GROUP];
} FX_FN(eval_group);

/* Row j of the group from its statistics (an ignored row: status only;
 * its lanes then hold finite placeholders). */
static inline void FX_FN(eval_group_put)(FX_FN(eval_group) *g, int64_t j, int status,
                                         const FX_FN(eval_stats) *st, FX_T xt, FX_T rt,
                                         int64_t rank)
{
    g->status[j] = status;
    const int on = st != NULL;
    g->m[j] = on ? (double)st->m : 0.0;
    g->xt[j] = on ? (double)xt : 0.0;
    g->ties[j] = on ? st->ties : 1.0;
    g->small[j] = on ? st->small : 0.0;
    g->s1[j] = on ? st->s1 : 0.0;
    g->small2[j] = on ? st->small2 : 0.0;
    g->mr[j] = on ? (double)st->mr : 0.0;
    g->rt[j] = on ? (double)rt : 0.0;
    g->rties[j] = on ? st->rties : 1.0;
    g->rsmall[j] = on ? st->rsmall : 0.0;
    g->rdot[j] = on ? st->rdot : 0.0;
    g->rank[j] = rank;
    g->argmax[j] = on ? st->argmax : -1;
    g->argmax_r[j] = on ? st->argmax_r : -1;
}

/* The metrics of the group's ng rows (vectorised), then each row's
 * per-row outputs and sums, in row order. */
static void FX_FN(eval_group_finish)(const fx_eval_ctx *ctx, fx_eval_tally *tally,
                                     int64_t *acc, FX_FN(eval_group) *g, int64_t r0, int64_t ng,
                                     int has_ref)
{
    const fx_eval_problem *p = ctx->p;
#pragma omp simd
    for (int64_t j = 0; j < ng; j++) {
        const double ls = FX_EVAL_LS(g->ties[j], g->small[j]);
        const double et = FX_EVAL_ET(g->xt[j], g->m[j]);
        FX_FN(eval_core)(g->m[j], g->xt[j], g->ties[j], g->small[j], g->s1[j], g->small2[j],
                         ls, et, &g->nll[j], &g->max_prob[j], &g->entropy[j], &g->brier[j],
                         &g->p_t[j]);
        g->kl[j] = NAN;
        g->delta_p[j] = NAN;
        if (has_ref) {
            const double lsr = FX_EVAL_LS(g->rties[j], g->rsmall[j]);
            const double ert = FX_EVAL_ET(g->rt[j], g->mr[j]);
            FX_FN(eval_core_ref)(g->m[j], g->mr[j], ls, lsr, g->rdot[j],
                                 g->rties[j] + g->rsmall[j], ert, g->p_t[j], &g->kl[j],
                                 &g->delta_p[j]);
        }
    }
    for (int64_t j = 0; j < ng; j++) {
        const int64_t r = r0 + j;
        const double w = p->sample_weight != NULL ? p->sample_weight[r] : 1.0;
        if (g->status[j] != FX_ROW_COUNTED) {
            fx_eval_emit(ctx, tally, acc, r, g->status[j], NULL, w);
            continue;
        }
        fx_eval_row row;
        row.nll = g->nll[j];
        row.max_prob = g->max_prob[j];
        row.entropy = g->entropy[j];
        row.brier = g->brier[j];
        row.p_t = g->p_t[j];
        row.kl = g->kl[j];
        row.delta_p = g->delta_p[j];
        row.rank = g->rank[j];
        row.argmax = g->argmax[j];
        row.same_top = has_ref && g->argmax[j] == g->argmax_r[j];
        fx_eval_emit(ctx, tally, acc, r, FX_ROW_COUNTED, &row, w);
    }
}

/* Rows of more classes, one at a time, finished in groups; rows whose
 * classes are strided are copied to a contiguous buffer of 2 C elements
 * first (NULL when the rows are contiguous). */
static void FX_FN(eval_rows_long)(const fx_eval_ctx *ctx, fx_eval_tally *tally, int64_t *acc,
                                  int64_t r0, int64_t n, const FX_T *X, int64_t xrs,
                                  const FX_T *R, int64_t rrs, FX_T *buf)
{
    const fx_eval_problem *p = ctx->p;
    const int64_t C = p->C;
    const int has_ref = R != NULL;
    const int need_am = p->row_argmax != NULL;
    FX_FN(eval_group) g;
    for (int64_t g0 = 0; g0 < n; g0 += FX_EV_GROUP) {
        const int64_t ng = n - g0 < FX_EV_GROUP ? n - g0 : FX_EV_GROUP;
        for (int64_t k = 0; k < ng; k++) {
            const int64_t j = g0 + k, r = r0 + j;
            const FX_T *xrow = X + j * xrs;
            const FX_T *rrow = has_ref ? R + j * rrs : NULL;
            const int64_t t = p->labels[r];
            if (t == p->ignore_index) {
                FX_FN(eval_group_put)(&g, k, FX_ROW_IGNORED, NULL, 0, 0, -1);
                continue;
            }
            const FX_T *xn = NULL, *rn = NULL;   /* the rows read next, prefetched */
            if (buf != NULL) {
                for (int64_t c = 0; c < C; c++) buf[c] = xrow[c * p->x.s_class];
                xrow = buf;
                if (has_ref) {
                    for (int64_t c = 0; c < C; c++) buf[C + c] = rrow[c * p->xr.s_class];
                    rrow = buf + C;
                }
            } else if (j + 1 < n) {
                xn = xrow + xrs;
                rn = has_ref ? rrow + rrs : NULL;
            }
            FX_FN(eval_stats) st;
            if (has_ref) FX_FN(eval_row)(xrow, rrow, C, xrow[t], p->ties_last, 1, 1, xn, rn, &st);
            else FX_FN(eval_row)(xrow, NULL, C, xrow[t], p->ties_last, 0, need_am, xn, NULL, &st);
            const int64_t rank = st.bad ? -1 : FX_FN(eval_rank)(st.gt, st.eq, xrow, 1, C, t,
                                                                 p->ties_last);
            FX_FN(eval_group_put)(&g, k, st.bad ? FX_ROW_NONFINITE : FX_ROW_COUNTED, &st,
                                  xrow[t], has_ref ? rrow[t] : 0, rank);
        }
        FX_FN(eval_group_finish)(ctx, tally, acc, &g, r0 + g0, ng, has_ref);
    }
}
