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

/* The input dtypes. The halves are stored as 16 bits and computed in
 * float32: their outputs (per-row losses, gradients, log_softmax) and
 * their weights and pos_weight are float32 arrays. */
enum fx_dtype { FX_F32 = 0, FX_F64 = 1, FX_F16 = 2, FX_BF16 = 3, FX_DTYPE_COUNT = 4 };
enum fx_isa { FX_ISA_BASELINE = 0, FX_ISA_AVX2 = 1, FX_ISA_AVX512 = 2, FX_ISA_COUNT = 3 };

/* A strided view of an (outer, C, inner) array: the base pointer and the
 * strides in elements. Every array of every problem is one (a per-row
 * vector uses s_outer only; a (rows, L) broadcast view s_outer, s_class). */
typedef struct {
    void *data;             /* NULL: absent */
    int64_t s_outer, s_class, s_inner;
} fx_view;

/* What every entry point returns. code FX_OK, or what stopped the call:
 * arg names the argument (0: the first array, x/p/probs; 1: the second,
 * target/q; -1: the caller finds it) and index the flat index of the first
 * bad element (FX_BAD_LABEL, FX_OUT_OF_RANGE) or of the first bad row
 * (FX_NEGATIVE, FX_NONFINITE). Nothing is written past a bad label. */
enum fx_code { FX_OK = 0, FX_NO_MEMORY = 1, FX_BAD_LABEL = 2, FX_OUT_OF_RANGE = 3,
               FX_NEGATIVE = 4, FX_NONFINITE = 5, FX_INTERRUPTED = 6 };
typedef struct {
    int code;
    int arg;
    int64_t index;
} fx_status;

/* Softmax cross-entropy over (outer, C, inner) against labels (class
 * indices, contiguous over rows) or soft targets y. */
typedef struct {
    int64_t outer, C, inner;
    fx_view x;              /* logits */
    fx_view y;              /* soft targets, or data NULL with labels */
    const int64_t *labels;  /* or NULL with y */
    int64_t ignore_index;
    const void *weight;     /* per-class weights or NULL */
    double smoothing;       /* label smoothing eps in [0, 1] */
    void *loss_out;         /* per-row losses, contiguous over rows, or NULL */
    fx_view grad;           /* d loss / d x, or data NULL */
    int grad_mean;          /* 1: gradient of the mean (else of the sum) */
} fx_xent_problem;

/* The sums of fx_xent: all row losses, and the mean's denominator (sum of
 * w[label] over counted rows, or the row count for soft targets). */
typedef struct {
    double loss, denom;
} fx_xent_sums;

/* logsumexp (into lse_out, one per row, contiguous), log_softmax or
 * softmax (into out) over (outer, C, inner). */
enum fx_softmax_op { FX_LOGSUMEXP = 1, FX_LOG_SOFTMAX = 2, FX_SOFTMAX = 3 };
typedef struct {
    int64_t outer, C, inner;
    fx_view x;
    void *lse_out;          /* FX_LOGSUMEXP */
    fx_view out;            /* FX_LOG_SOFTMAX, FX_SOFTMAX */
    int op;                 /* enum fx_softmax_op */
} fx_softmax_problem;

/* Binary cross-entropy over n elements viewed as rows of length L (the last
 * axis). x, y, loss_out, grad are contiguous; w and pw are broadcast views
 * (s_outer: row stride, s_class: column stride, 0 for broadcast dims). */
typedef struct {
    int64_t n, L;
    const void *x, *y;
    fx_view w, pw;
    double smoothing;
    void *loss_out;
    void *grad;
    double grad_scale;
    int probs;              /* 0: x are logits; 1: x are probabilities */
} fx_bce_problem;

/* entropy (q.data == NULL) or KL divergence per row, times scale; out is
 * one value per row, contiguous. */
typedef struct {
    int64_t outer, C, inner;
    fx_view p, q;
    void *out;
    double scale;
} fx_info_problem;

/* log loss: n rows of K probabilities (K == 1: the positive class's; s_outer
 * the row stride, s_class the column stride), col[r] the true class's
 * column (-1: skip), optional sample weights. */
typedef struct {
    int64_t n, K;
    fx_view prob;
    const int64_t *col;
    const void *sw;
    double eps, rtol, atol;
} fx_logloss_problem;

/* What fx_logloss measures for scikit-learn's checks, which the caller
 * raises in its own order: the weighted loss sum, min and max of y_prob
 * (NaN if any is NaN) and the rows not summing to 1. */
typedef struct {
    double loss, lo, hi, not_close;
} fx_logloss_stats;

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
    fx_view x;                  /* logits */
    fx_view xr;                 /* reference logits, or data NULL */
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

/* What fx_eval counts besides the sums: ignored rows, non-finite rows (NaN
 * or +inf logits, or all -inf) and the largest row KL (NaN wins; -inf
 * without rows). */
typedef struct {
    double ignored, nonfinite, kl_max;
} fx_eval_counts;

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
/* how threaded calls run their blocks: "pool", "omp-dynamic", "omp-static"
 * (FASTXENT_THREAD_RUNNER, read at import) or "serial" (no OpenMP) */
const char *fx_thread_runner(void);
/* 1 in a child forked after this process ran threaded kernels: every
 * kernel then runs on the calling thread (libgomp cannot be used there). */
int fx_forked_serial(void);
int fx_openmp_version(void);
/* Elements per chunk of the row kernels' blocked online max (for tests). */
int64_t fx_row_chunk(int dtype);

/* Interruption. A long call runs its fixed blocks in ranges of about
 * FX_RANGE_WORK elements of work per thread and, between two
 * ranges, the calling thread calls the hook; a nonzero return stops the call
 * with FX_INTERRUPTED: the blocks of the ranges run so far have written their
 * outputs (per-row losses, gradients, out), the others nothing, and no sum or
 * accumulator is returned or changed. A call of one range never calls it.
 * Set once, before any kernel runs (the Cython binding's checks Python's
 * signals); NULL (the default): never interrupted. */
#define FX_RANGE_WORK ((int64_t)1 << 23)
typedef int (*fx_interrupt_fn)(void);
void fx_set_interrupt_hook(fx_interrupt_fn hook);

/* The entry points. Each runs on up to nthreads threads (<= 0: the
 * default), with results bitwise identical for any count. */
fx_status fx_xent(const fx_xent_problem *p, int dtype, int nthreads, fx_xent_sums *sums);
fx_status fx_softmax(const fx_softmax_problem *p, int dtype, int nthreads);
/* loss_sum: the sum of the element losses. Probabilities or targets
 * outside [0, 1] (or NaN) give FX_OUT_OF_RANGE with probs. */
fx_status fx_bce(const fx_bce_problem *p, int dtype, int nthreads, double *loss_sum);
/* A negative value gives FX_NEGATIVE and the first such row. */
fx_status fx_info(const fx_info_problem *p, int dtype, int nthreads);
fx_status fx_logloss(const fx_logloss_problem *p, int dtype, int nthreads,
                     fx_logloss_stats *stats);
/* Adds the rows of p to p->acc. A bad label gives FX_BAD_LABEL (arg 1);
 * with nonfinite == FX_NF_RAISE a non-finite row gives FX_NONFINITE (arg 0,
 * index the first such row) and leaves p->acc unchanged. */
fx_status fx_eval(const fx_eval_problem *p, int dtype, int nthreads, fx_eval_counts *counts);

/* Test hook: applies the vector math function `fn` (0 exp, 1 log, 2 log1p, 3 exp for x <= 0 in sums)
 * of the current ISA to n contiguous values; 3 is the exp of x <= 0 used
 * in sums (flushes results below the smallest normal to 0); 4 is log1p on
 * [0, 1] (BCE's log1p(exp(-|x|))). */
void fx_math_eval(int fn, int dtype, const void *in, void *out, int64_t n);

#endif
