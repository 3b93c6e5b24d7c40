/* fx_api.h - the C interface of fastxent's kernels (no Python here).
 *
 * Arrays are described by a base pointer and strides counted in elements
 * (not bytes, may be negative). A batch of rows is viewed as
 * (outer, C, inner): row r = o * inner + i holds the C classes of position
 * (o, i), so both NumPy's (N, C) with axis=-1 and PyTorch's (N, C, d1, ...)
 * with axis=1 are described without copying.
 */
#ifndef FX_API_H
#define FX_API_H

#include <stdint.h>
#include <stddef.h>

enum fx_dtype { FX_F32 = 0, FX_F64 = 1 };
enum fx_isa { FX_ISA_BASELINE = 0, FX_ISA_AVX2 = 1, FX_ISA_AVX512 = 2, FX_ISA_COUNT = 3 };

/* What the row kernels compute. FX_XENT: cross-entropy against labels or
 * soft targets (loss_out, grad). The others take no target and write
 * logsumexp into loss_out, or log_softmax / softmax into grad. */
enum fx_row_mode { FX_XENT = 0, FX_LOGSUMEXP = 1, FX_LOG_SOFTMAX = 2, FX_SOFTMAX = 3 };

typedef struct {
    int64_t outer, C, inner;
    const void *x;          /* logits (compute dtype) */
    int64_t xs_outer, xs_class, xs_inner;
    const void *y;          /* soft targets (compute dtype) or NULL */
    int64_t ys_outer, ys_class, ys_inner;
    const int64_t *labels;  /* class indices, contiguous over rows, or NULL */
    int64_t ignore_index;
    const void *weight;     /* per-class weights (compute dtype) or NULL */
    double smoothing;       /* label smoothing eps in [0, 1] */
    void *loss_out;         /* per-row losses, contiguous over rows, or NULL */
    void *grad;             /* d loss / d x (compute dtype) or NULL */
    int64_t gs_outer, gs_class, gs_inner;
    double grad_scale;      /* gradient of the reduction w.r.t. each row loss */
    int grad_mean;          /* set grad_scale to 1 / the mean's denominator */
    int mode;               /* enum fx_row_mode */
} fx_xent_problem;

/* Binary cross-entropy over n elements viewed as rows of length L (the last
 * axis). x, y, loss_out, grad are contiguous; w and pw are broadcast views
 * with a row and a column stride (0 for broadcast dims), or NULL. */
typedef struct {
    int64_t n, L;
    const void *x, *y;
    const void *w; int64_t ws_row, ws_col;
    const void *pw; int64_t pws_row, pws_col;
    double smoothing;
    void *loss_out;
    void *grad;
    double grad_scale;
    int probs;              /* 0: x are logits; 1: x are probabilities */
    int64_t block;          /* elements per block (set by the driver) */
} fx_bce_problem;

/* entropy (q == NULL) or KL divergence per row, times scale; out is one
 * value per row, contiguous. */
typedef struct {
    int64_t outer, C, inner;
    const void *p; int64_t ps_outer, ps_class, ps_inner;
    const void *q; int64_t qs_outer, qs_class, qs_inner;
    void *out;
    double scale;
    int64_t rows_per_block, per_outer;   /* set by the driver */
} fx_info_problem;

/* log loss: n rows of K probabilities (K == 1: the positive class's),
 * col[r] the true class's column (-1: skip), optional sample weights. */
typedef struct {
    int64_t n, K;
    const void *prob; int64_t ps_row, ps_col;
    const int64_t *col;
    const void *sw;
    double eps, rtol, atol;
    int64_t rows_per_block;              /* set by the driver */
} fx_logloss_problem;

/* Evaluation metrics (fx_eval.c, fx_eval_tmpl.h): one read of each row of
 * logits (and reference logits) gives the row's statistics, which are added
 * exactly (fx_exact.h) to the accumulators in `acc`, FX_EVAL_NACC of them
 * (FX_EXACT_WORDS int64 each), laid out as enum fx_eval_sum. */
enum fx_eval_sum {
    FX_EV_COUNT = 0, FX_EV_NLL, FX_EV_NLL2, FX_EV_ENTROPY, FX_EV_BRIER, FX_EV_MRR,
    FX_EV_KL, FX_EV_SAME_TOP, FX_EV_DELTA_P,
    FX_EV_TOPK           /* n_topk hit sums, then per bin: count, conf, correct */
};
#define FX_EVAL_NACC(n_topk, n_bins) (FX_EV_TOPK + (n_topk) + 3 * (n_bins))
enum fx_nonfinite { FX_NF_PROPAGATE = 0, FX_NF_SKIP = 1, FX_NF_RAISE = 2 };
/* per-row status written to row_status */
enum fx_row_status { FX_ROW_COUNTED = 0, FX_ROW_IGNORED = 1, FX_ROW_NONFINITE = 2 };

typedef struct {
    int64_t outer, C, inner;
    const void *x; int64_t xs_outer, xs_class, xs_inner;
    const void *xr; int64_t rs_outer, rs_class, rs_inner;  /* reference or NULL */
    const int64_t *labels;      /* class indices, contiguous over rows */
    int64_t ignore_index;
    const double *sample_weight;  /* per row, contiguous, or NULL (all 1) */
    int ties_last;              /* 0: a lower index wins ties; 1: a higher one */
    int nonfinite;              /* enum fx_nonfinite */
    int n_topk, n_bins;
    const int64_t *topk;        /* n_topk values of k */
    int64_t *acc;               /* FX_EVAL_NACC accumulators, added to */
    /* per-row outputs, contiguous over rows, each NULL or written */
    double *row_nll, *row_max_prob, *row_entropy, *row_kl;
    int64_t *row_rank, *row_argmax;
    int8_t *row_status;
} fx_eval_problem;

/* Adds the rows of p to p->acc. result: [0] number of ignored rows, [1] of
 * non-finite rows (NaN or +inf logits, or all -inf), [2] the largest row KL
 * (NaN wins; -inf without rows), [3] the first bad label's flat index or -1;
 * [4] with nonfinite == FX_NF_RAISE, the first non-finite row or -1, and
 * then p->acc is unchanged. Returns 0, or -1 without memory. */
int fx_eval(fx_eval_problem *p, int dtype, int nthreads, double result[5]);

/* ISA level in use; fx_select_isa picks min(requested, supported). */
int fx_select_isa(int requested);
int fx_current_isa(void);
int fx_supported_isa(void);
const char *fx_isa_name(int isa);

/* Threading facts of the build. */
int fx_have_openmp(void);
int fx_omp_max_threads(void);
/* The CPUs this process may use; a kernel's default thread count (nthreads
 * <= 0) is min(omp_get_max_threads(), this). */
void fx_set_cpu_cap(int n);
const char *fx_compiler(void);
/* 1 in a child forked after this process ran threaded kernels: every
 * kernel then runs on the calling thread (libgomp cannot be used there). */
int fx_forked_serial(void);
int fx_openmp_version(void);
/* Elements per chunk of the row kernels' blocked online max (for tests). */
int64_t fx_row_chunk(int dtype);

/* Checks labels (flat, n of them) against [0, C) or ignore_index and returns
 * the flat index of the first bad one, or -1. Also returns the sum over
 * non-ignored labels of weight[label] (or their count without weights),
 * summed in order in float64. */
int64_t fx_check_labels(const int64_t *labels, int64_t n, int64_t C,
                        int64_t ignore_index, const void *weight, int dtype,
                        double *weight_sum);

/* Softmax cross-entropy. First checks the labels (if any): a bad one stops
 * everything and its flat index is returned in result[2] (else -1). Then
 * writes loss_out/grad if given and returns in result[0] the sum of all row
 * losses (deterministic for any thread count) and in result[1] the mean's
 * denominator (sum of w[label] over counted rows, or the row count for soft
 * targets). Returns 0, or -1 when memory for the block sums is missing. */
int fx_xent(fx_xent_problem *p, int dtype, int nthreads, double result[3]);

/* Each returns 0, or -1 when memory for the block results is missing.
 * fx_bce: result[0] = loss sum, result[1] = first bad flat index (probs
 * outside [0, 1]) or +inf. */
int fx_bce(fx_bce_problem *p, int dtype, int nthreads, double result[2]);
/* result[0] = first row with a negative value, or +inf */
int fx_info(fx_info_problem *p, int dtype, int nthreads, double result[1]);
/* result = loss sum, min, max (NaN if any NaN), rows not summing to 1 */
int fx_logloss(fx_logloss_problem *p, int dtype, int nthreads, double result[4]);

/* Test hook: applies the vector math function `fn` (0 exp, 1 log, 2 log1p, 3 exp for x <= 0 in sums)
 * of the current ISA to n contiguous values; 3 is the exp of x <= 0 used
 * in sums (flushes results below the smallest normal to 0); 4 is log1p on
 * [0, 1] (BCE's log1p(exp(-|x|))). */
void fx_math_eval(int fn, int dtype, const void *in, void *out, int64_t n);

#endif
