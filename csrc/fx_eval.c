/* fx_eval.c - the evaluation metrics' driver: label check, blocks, and the
 * merging of the blocks' exact sums. Blocks are fixed by the shape alone;
 * since the sums are exact integers, neither the blocks nor the thread that
 * ran them can change a bit of the result. */
#include <stdlib.h>
#include <math.h>
#include "fx_isa.h"
#include "fx_eval.h"

/* blocks per thread: each has its own accumulators (nacc x 576 bytes,
 * zeroed and merged once), so fewer blocks than the other families, enough
 * to balance the threads */
#define FX_EVAL_BLOCKS_PER_THREAD 4
#define FX_EVAL_SERIAL_WORK 32768

fx_status fx_eval(const fx_eval_problem *p, int dtype, int nthreads, fx_eval_counts *counts)
{
    const int64_t rows = p->outer * p->inner;
    fx_status st = {FX_OK, -1, -1};
    counts->ignored = 0.0;
    counts->nonfinite = 0.0;
    counts->kl_max = -INFINITY;
    double unused;
    const int64_t bad = fx_check_labels(p->labels, rows, p->C, p->ignore_index, NULL,
                                        dtype, &unused);
    if (bad >= 0) {
        st.code = FX_BAD_LABEL;
        st.arg = 1;
        st.index = bad;
        return st;
    }
    if (rows == 0) return st;
    fx_eval_ctx ctx;
    ctx.p = p;
    ctx.nacc = FX_EVAL_NACC(p->n_topk, p->n_bins);
    fx_plan plan = {0};
    int64_t rpb = fx_rows_per_block(p->C);
    int64_t nblocks = fx_plan_row_blocks(&plan, p->outer, p->inner, rpb);
    /* the sums are exact, so the blocks may depend on the thread count */
    int nt = nthreads > 0 ? nthreads : fx_omp_max_threads();
    if (rows * p->C < FX_EVAL_SERIAL_WORK || nt < 1) nt = 1;
    /* (with inner > 1 a block never spans two outer indices) */
    const int64_t span = p->inner == 1 ? p->outer : p->inner;
    const int64_t work = rows * p->C * (p->xr.data != NULL ? 2 : 1);
    /* ... but not past FX_RANGE_WORK elements a block, the most between two
     * checks for an interrupt (fx_run_blocks) */
    const int64_t row_work = work / rows;
    while (nblocks > (int64_t)nt * FX_EVAL_BLOCKS_PER_THREAD && rpb < span
           && 2 * rpb * row_work <= FX_RANGE_WORK) {
        rpb *= 2;
        nblocks = fx_plan_row_blocks(&plan, p->outer, p->inner, rpb);
    }
    /* one block adds to the state itself, unless a raise may discard it */
    atomic_int lock = 0;
    ctx.lock = &lock;
    ctx.total = NULL;
    if (nblocks > 1 || p->nonfinite == FX_NF_RAISE) {
        ctx.total = (int64_t *)calloc((size_t)(ctx.nacc * FX_EXACT_WORDS), sizeof(int64_t));
        if (ctx.total == NULL) {
            st.code = FX_NO_MEMORY;
            return st;
        }
    }
    static const int combine[4] = {FX_SUM, FX_SUM, FX_MAX, FX_MIN};
    double res[4];
    int rc = fx_run_blocks(fx_table()->eval_block[dtype], &ctx, &plan, nblocks, work,
                           nthreads, 4, combine, res);
    if (rc > 0) {   /* interrupted: the state is left as it was */
        st.code = FX_INTERRUPTED;
    } else if (rc != 0 || res[0] != res[0]) {   /* NaN: a block without memory */
        st.code = FX_NO_MEMORY;
    } else {
        counts->ignored = res[0];
        counts->nonfinite = res[1];
        counts->kl_max = res[2];
        if (p->nonfinite == FX_NF_RAISE && res[3] < INFINITY) {
            st.code = FX_NONFINITE;
            st.arg = 0;
            st.index = (int64_t)res[3];
        } else if (ctx.total != NULL) {
            for (int64_t k = 0; k < ctx.nacc; k++)
                fx_exact_merge(p->acc + k * FX_EXACT_WORDS, ctx.total + k * FX_EXACT_WORDS);
        }
    }
    free(ctx.total);
    return st;
}
