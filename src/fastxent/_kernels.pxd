# cython: language_level=3
# Declarations of the C interface of csrc/ (fx_api.h), for _kernels.pyx.
from libc.stdint cimport int64_t

cdef extern from "fx_api.h" nogil:
    ctypedef struct fx_view:
        void *data
        int64_t s_outer, s_class, s_inner

    enum:
        FX_OK, FX_NO_MEMORY, FX_BAD_LABEL, FX_OUT_OF_RANGE, FX_NEGATIVE, FX_NONFINITE
        FX_INTERRUPTED

    ctypedef struct fx_status:
        int code
        int arg
        int64_t index

    ctypedef struct fx_xent_problem:
        int64_t outer, C, inner
        fx_view x, y
        const int64_t *labels
        int64_t ignore_index
        const void *weight
        double smoothing
        void *loss_out
        fx_view grad
        int grad_mean

    ctypedef struct fx_xent_sums:
        double loss, denom

    ctypedef struct fx_softmax_problem:
        int64_t outer, C, inner
        fx_view x
        void *lse_out
        fx_view out
        int op

    ctypedef struct fx_bce_problem:
        int64_t n, L
        const void *x
        const void *y
        fx_view w, pw
        double smoothing
        void *loss_out
        void *grad
        double grad_scale
        int probs

    ctypedef struct fx_info_problem:
        int64_t outer, C, inner
        fx_view p, q
        void *out
        double scale

    ctypedef struct fx_logloss_problem:
        int64_t n, K
        fx_view prob
        const int64_t *col
        const void *sw
        double eps, rtol, atol

    ctypedef struct fx_logloss_stats:
        double loss, lo, hi, not_close

    ctypedef struct fx_eval_problem:
        int64_t outer, C, inner
        fx_view x, xr
        const int64_t *labels
        int64_t ignore_index
        const double *sample_weight
        int ties_last, nonfinite, n_topk, n_bins
        const int64_t *topk
        int64_t *acc
        double *row_nll
        double *row_max_prob
        double *row_entropy
        double *row_kl
        int64_t *row_rank
        int64_t *row_argmax
        signed char *row_status

    ctypedef struct fx_eval_counts:
        double ignored, nonfinite, kl_max

    ctypedef int (*fx_interrupt_fn)() noexcept nogil
    void fx_set_interrupt_hook(fx_interrupt_fn hook)

    fx_status fx_xent(const fx_xent_problem *p, int dtype, int nthreads, fx_xent_sums *sums)
    fx_status fx_softmax(const fx_softmax_problem *p, int dtype, int nthreads)
    fx_status fx_bce(const fx_bce_problem *p, int dtype, int nthreads, double *loss_sum)
    fx_status fx_info(const fx_info_problem *p, int dtype, int nthreads)
    fx_status fx_logloss(const fx_logloss_problem *p, int dtype, int nthreads,
                         fx_logloss_stats *stats)
    fx_status fx_eval(const fx_eval_problem *p, int dtype, int nthreads, fx_eval_counts *counts)

    int fx_select_isa(int requested)
    int fx_current_isa()
    int fx_supported_isa()
    const char *fx_isa_name(int isa)
    int fx_have_openmp()
    int fx_omp_max_threads()
    void fx_set_cpu_cap(int n)
    const char *fx_compiler()
    const char *fx_thread_runner()
    int fx_forked_serial()
    int fx_openmp_version()
    int64_t fx_row_chunk(int dtype)
    void fx_math_eval(int fn, int dtype, const void *inp, void *out, int64_t n)

cdef extern from "fx_exact.h" nogil:
    int FX_EXACT_WORDS
    void fx_exact_normalize(int64_t *acc)
    void fx_exact_merge(int64_t *dst, const int64_t *src)
    double fx_exact_round(const int64_t *acc)
    int64_t fx_exact_span(const double *v, int64_t count, int64_t *lo, int64_t *hi)
    void fx_exact_round_window(const int64_t *chunks, int64_t n, int64_t width, int64_t lo,
                               const int64_t *special, double *out)
    void fx_exact_add_array(int64_t *acc, const double *v, int64_t n)
    void fx_exact_window_normalize(int64_t *chunks, int64_t n, int64_t width)
    int64_t fx_exact_window_add(int64_t *chunks, int64_t n, int64_t width, int64_t lo,
                                const int64_t *index, const double *v, int64_t count)
