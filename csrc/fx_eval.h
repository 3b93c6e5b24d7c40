/* fx_eval.h - what the evaluation row kernel (fx_eval_tmpl.h, compiled per
 * ISA) shares with its driver (fx_eval.c): the block context, one row's
 * metrics, and how a row is added to the exact sums. Private to csrc/. */
#ifndef FX_EVAL_H
#define FX_EVAL_H

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include "fx_api.h"
#include "fx_exact.h"
#include "fx_isa.h"

/* The problem and where the blocks' sums go (set by fx_eval): with `total`
 * NULL, the one block adds to p->acc itself; else each block adds to nacc
 * accumulators of its own working memory and merges them into total under
 * `lock` as it ends (exact integer sums: the order of the merges cannot
 * change a bit), and fx_eval merges total into p->acc once all succeeded. */
typedef struct {
    const fx_eval_problem *p;
    int64_t nacc;
    int64_t *total;
    atomic_int *lock;
} fx_eval_ctx;

typedef struct {
    double nll, max_prob, entropy, brier, p_t, kl, delta_p;
    int64_t rank, argmax;
    int same_top;
} fx_eval_row;

/* What a block reports besides its sums (fx_run_blocks' outputs), and,
 * without sample weights, the sums that are counts, kept as integers and
 * added to the exact sums once per block (fx_eval_tally_flush): adding 1
 * n times and n once give the same exact sum. `counts` (NULL with weights)
 * holds FX_EVAL_NCOUNTS(n_topk, n_bins) int64: the count, same_top, the
 * top-k hits, then the bins' counts and correct counts. */
typedef struct {
    double ignored, nonfinite, kl_max, first_nonfinite;
    int64_t *counts;
} fx_eval_tally;

#define FX_EVAL_NCOUNTS(n_topk, n_bins) (2 + (n_topk) + 2 * (n_bins))

/* Block b's rows: the first flat row r0 and the count n; the offsets in
 * elements of its first logits row and reference row (0 without one) and
 * their row strides. */
typedef struct {
    int64_t r0, n, x0, xrs, xr0, rrs;
} fx_eval_span;

static inline fx_eval_span fx_eval_block_span(const fx_eval_problem *p, const fx_plan *plan,
                                              int64_t b)
{
    fx_eval_span s;
    int64_t o, i0;
    fx_row_block(plan, p->outer, p->inner, b, &o, &i0, &s.n);
    s.r0 = o * p->inner + i0;
    s.x0 = fx_row_origin(&p->x, p->inner, o, i0, &s.xrs);
    s.rrs = 0;
    s.xr0 = p->xr.data != NULL ? fx_row_origin(&p->xr, p->inner, o, i0, &s.rrs) : 0;
    return s;
}

static inline void fx_eval_tally_init(fx_eval_tally *t, int64_t *counts)
{
    t->counts = counts;
    t->ignored = 0.0;
    t->nonfinite = 0.0;
    t->kl_max = -INFINITY;
    t->first_nonfinite = INFINITY;
}

static inline void fx_eval_tally_out(const fx_eval_tally *t, double *out)
{
    out[0] = t->ignored;
    out[1] = t->nonfinite;
    out[2] = t->kl_max;
    out[3] = t->first_nonfinite;
}

#define FX_EV_ADD(k, v) fx_exact_add(acc + (int64_t)(k) * FX_EXACT_WORDS, (v))

/* A block's working memory: `bytes` for the block's own buffers, then,
 * with ctx->total, its accumulators (zeroed; else *acc is p->acc), then,
 * without sample weights, its integer counts (zeroed, in `tally`). Returns
 * 0 without memory, out[] then reporting it (a NaN ignored count); *work
 * is NULL when nothing was needed. The block ends with fx_eval_block_end. */
static inline int fx_eval_block_begin(const fx_eval_ctx *ctx, size_t bytes, void **work,
                                      int64_t **acc, fx_eval_tally *tally, double *out)
{
    const fx_eval_problem *p = ctx->p;
    const size_t ncounts = p->sample_weight == NULL ? FX_EVAL_NCOUNTS(p->n_topk, p->n_bins) : 0;
    const size_t nwords = ctx->total != NULL ? (size_t)ctx->nacc * FX_EXACT_WORDS : 0;
    bytes = (bytes + 63) & ~(size_t)63;   /* the accumulators and counts are aligned */
    const size_t total = bytes + (nwords + ncounts) * sizeof(int64_t);
    *work = total ? malloc(total) : NULL;
    if (total && *work == NULL) {
        out[0] = NAN;
        out[1] = 0.0;
        out[2] = -INFINITY;
        out[3] = INFINITY;
        return 0;
    }
    int64_t *words = (int64_t *)((char *)*work + bytes);
    if (nwords + ncounts) memset(words, 0, (nwords + ncounts) * sizeof(int64_t));
    *acc = nwords ? words : p->acc;
    fx_eval_tally_init(tally, ncounts ? words + nwords : NULL);
    return 1;
}

static inline void fx_eval_tally_flush(const fx_eval_ctx *ctx, fx_eval_tally *t, int64_t *acc);

/* The block's counts into its sums, its sums into the total (under the
 * lock: a spin, the merge takes about a microsecond), its work memory
 * freed, its tally out. */
static inline void fx_eval_block_end(const fx_eval_ctx *ctx, fx_eval_tally *tally, int64_t *acc,
                                     void *work, double *out)
{
    fx_eval_tally_flush(ctx, tally, acc);
    if (ctx->total != NULL) {
        while (atomic_exchange_explicit(ctx->lock, 1, memory_order_acquire)) {
            while (atomic_load_explicit(ctx->lock, memory_order_relaxed)) {
            }
        }
        for (int64_t k = 0; k < ctx->nacc; k++)
            fx_exact_merge(ctx->total + k * FX_EXACT_WORDS, acc + k * FX_EXACT_WORDS);
        atomic_store_explicit(ctx->lock, 0, memory_order_release);
    }
    free(work);
    fx_eval_tally_out(tally, out);
}

/* The block's integer counts into its exact sums. */
static inline void fx_eval_tally_flush(const fx_eval_ctx *ctx, fx_eval_tally *t, int64_t *acc)
{
    const fx_eval_problem *p = ctx->p;
    const int64_t *c = t->counts;
    if (c == NULL) return;
    const int nb = p->n_bins, nk = p->n_topk;
    const int64_t bins = FX_EV_TOPK + nk;
    if (c[0]) FX_EV_ADD(FX_EV_COUNT, (double)c[0]);
    if (c[1]) FX_EV_ADD(FX_EV_SAME_TOP, (double)c[1]);
    for (int k = 0; k < nk; k++)
        if (c[2 + k]) FX_EV_ADD(FX_EV_TOPK + k, (double)c[2 + k]);
    for (int b = 0; b < nb; b++) {
        if (c[2 + nk + b]) FX_EV_ADD(bins + b, (double)c[2 + nk + b]);
        if (c[2 + nk + nb + b]) FX_EV_ADD(bins + 2 * nb + b, (double)c[2 + nk + nb + b]);
    }
}

/* A row of the given status (row is NULL unless counted): per-row outputs,
 * tally, and its weighted terms added to the sums. A non-finite row under
 * "propagate" adds NaN to every sum it enters but the count (and the last
 * bin's count); a row of weight 0 adds nothing. */
static inline void fx_eval_emit(const fx_eval_ctx *ctx, fx_eval_tally *t, int64_t *acc,
                                int64_t r, int status, const fx_eval_row *row, double w)
{
    const fx_eval_problem *p = ctx->p;
    const int has_ref = p->xr.data != NULL;
    if (p->row_status) p->row_status[r] = (int8_t)status;
    if (p->row_nll) p->row_nll[r] = row ? row->nll : NAN;
    if (p->row_max_prob) p->row_max_prob[r] = row ? row->max_prob : NAN;
    if (p->row_entropy) p->row_entropy[r] = row ? row->entropy : NAN;
    if (p->row_kl) p->row_kl[r] = row ? row->kl : NAN;
    if (p->row_rank) p->row_rank[r] = row ? row->rank : -1;
    if (p->row_argmax) p->row_argmax[r] = row ? row->argmax : -1;
    if (status == FX_ROW_IGNORED) {
        t->ignored += 1.0;
        return;
    }
    if (status == FX_ROW_NONFINITE) {
        t->nonfinite += 1.0;
        if ((double)r < t->first_nonfinite) t->first_nonfinite = (double)r;
        if (p->nonfinite != FX_NF_PROPAGATE) return;
    }
    if (w == 0.0) return;
    const int nb = p->n_bins, nk = p->n_topk;
    const int64_t bins = FX_EV_TOPK + nk;
    int64_t *cnt = t->counts;   /* w == 1: the counts are integers */
    if (cnt != NULL) cnt[0]++;
    else FX_EV_ADD(FX_EV_COUNT, w);
    if (row == NULL) {
        const double nan = NAN;
        for (int k = FX_EV_NLL; k < FX_EV_KL; k++) FX_EV_ADD(k, nan);
        for (int k = 0; k < p->n_topk; k++) FX_EV_ADD(FX_EV_TOPK + k, nan);
        if (cnt != NULL) cnt[2 + nk + nb - 1]++;
        else FX_EV_ADD(bins + nb - 1, w);
        FX_EV_ADD(bins + 2 * nb - 1, nan);
        FX_EV_ADD(bins + 3 * nb - 1, nan);
        if (has_ref) {
            for (int k = FX_EV_KL; k <= FX_EV_DELTA_P; k++) FX_EV_ADD(k, nan);
            t->kl_max = NAN;
        }
        return;
    }
    const double wn = w * row->nll;
    FX_EV_ADD(FX_EV_NLL, wn);
    FX_EV_ADD(FX_EV_NLL2, wn * row->nll);
    FX_EV_ADD(FX_EV_ENTROPY, w * row->entropy);
    FX_EV_ADD(FX_EV_BRIER, w * row->brier);
    FX_EV_ADD(FX_EV_MRR, w / (double)(row->rank + 1));
    double fb = floor(row->max_prob * nb);
    const int b = fb < (double)(nb - 1) ? (int)fb : nb - 1;
    if (cnt != NULL) {
        for (int k = 0; k < nk; k++) cnt[2 + k] += row->rank < p->topk[k];
        cnt[2 + nk + b]++;
        cnt[2 + nk + nb + b] += row->rank == 0;
    } else {
        for (int k = 0; k < nk; k++)
            if (row->rank < p->topk[k]) FX_EV_ADD(FX_EV_TOPK + k, w);
        FX_EV_ADD(bins + b, w);
        if (row->rank == 0) FX_EV_ADD(bins + 2 * nb + b, w);
    }
    FX_EV_ADD(bins + nb + b, w * row->max_prob);
    if (has_ref) {
        FX_EV_ADD(FX_EV_KL, w * row->kl);
        if (row->same_top) {
            if (cnt != NULL) cnt[1]++;
            else FX_EV_ADD(FX_EV_SAME_TOP, w);
        }
        FX_EV_ADD(FX_EV_DELTA_P, w * row->delta_p);
        /* NaN wins and stays */
        if (t->kl_max == t->kl_max && !(row->kl <= t->kl_max)) t->kl_max = row->kl;
    }
}

#endif
