/* fx_eval.c - the evaluation metrics' driver: label check, blocks, and the
 * merging of the blocks' exact sums. Blocks are fixed by the shape alone;
 * since the sums are exact integers, neither the blocks nor the thread that
 * ran them can change a bit of the result. */
#include <stdlib.h>
#include <math.h>
#include "fx_isa.h"
#include "fx_eval.h"

/* blocks per thread: each has its own accumulators (nacc x 576 bytes),
 * so fewer blocks than the other families, enough to balance the threads */
#define FX_EVAL_BLOCKS_PER_THREAD 4
#define FX_EVAL_SERIAL_WORK 32768

int fx_eval(fx_eval_problem *p, int dtype, int nthreads, double result[5])
{
    const int64_t rows = p->outer * p->inner;
    result[0] = 0.0;
    result[1] = 0.0;
    result[2] = -INFINITY;
    result[3] = -1.0;
    result[4] = -1.0;
    double unused;
    const int64_t bad = fx_check_labels(p->labels, rows, p->C, p->ignore_index, NULL,
                                        dtype, &unused);
    if (bad >= 0) {
        result[3] = (double)bad;
        return 0;
    }
    if (rows == 0) return 0;
    fx_eval_ctx ctx;
    ctx.p = p;
    ctx.nacc = FX_EVAL_NACC(p->n_topk, p->n_bins);
    ctx.rows_per_block = fx_rows_per_block(p->C);
    int64_t nblocks = fx_row_blocks(p->outer, p->inner, ctx.rows_per_block, &ctx.per_outer);
    /* the sums are exact, so the blocks may depend on the thread count */
    int nt = nthreads > 0 ? nthreads : fx_omp_max_threads();
    if (rows * p->C < FX_EVAL_SERIAL_WORK || nt < 1) nt = 1;
    /* (with inner > 1 a block never spans two outer indices) */
    const int64_t span = p->inner == 1 ? p->outer : p->inner;
    while (nblocks > (int64_t)nt * FX_EVAL_BLOCKS_PER_THREAD && ctx.rows_per_block < span) {
        ctx.rows_per_block *= 2;
        nblocks = fx_row_blocks(p->outer, p->inner, ctx.rows_per_block, &ctx.per_outer);
    }
    /* one block adds to the state itself, unless a raise may discard it */
    ctx.scratch = NULL;
    if (nblocks > 1 || p->nonfinite == FX_NF_RAISE) {
        ctx.scratch = (int64_t *)calloc((size_t)(nblocks * ctx.nacc * FX_EXACT_WORDS),
                                        sizeof(int64_t));
        if (ctx.scratch == NULL) return -1;
    }
    static const int combine[4] = {FX_SUM, FX_SUM, FX_MAX, FX_MIN};
    double res[4];
    const int64_t work = rows * p->C * (p->xr != NULL ? 2 : 1);
    int rc = fx_run_blocks(fx_table()->eval_block[dtype], &ctx, nblocks, work, nthreads,
                           4, combine, res);
    if (rc == 0 && res[0] != res[0]) rc = -1;   /* a block without memory */
    if (rc == 0) {
        result[0] = res[0];
        result[1] = res[1];
        result[2] = res[2];
        if (p->nonfinite == FX_NF_RAISE && res[3] < INFINITY) {
            result[4] = res[3];
        } else if (ctx.scratch != NULL) {
            for (int64_t b = 0; b < nblocks; b++)
                for (int64_t k = 0; k < ctx.nacc; k++)
                    fx_exact_merge(p->acc + k * FX_EXACT_WORDS,
                                   ctx.scratch + (b * ctx.nacc + k) * FX_EXACT_WORDS);
        }
    }
    free(ctx.scratch);
    return rc;
}
