# cython: language_level=3
"""Thin binding of the C kernels in csrc/.

Validates nothing and converts nothing: the Python layer hands over arrays
of the compute dtype, strides in elements and checked arguments. Every kernel
runs with the GIL released.
"""
from libc.stdint cimport int64_t
from libc.string cimport memset
cimport numpy as cnp

cnp.import_array()

cdef extern from "numpy/arrayobject.h":
    object PyArray_Scalar(void *data, cnp.PyArray_Descr *descr, object base)

cdef extern from "fx_api.h" nogil:
    ctypedef struct fx_xent_problem:
        int64_t outer, C, inner
        const void *x
        int64_t xs_outer, xs_class, xs_inner
        const void *y
        int64_t ys_outer, ys_class, ys_inner
        const int64_t *labels
        int64_t ignore_index
        const void *weight
        double smoothing
        void *loss_out
        void *grad
        int64_t gs_outer, gs_class, gs_inner
        double grad_scale
        int grad_mean
        int mode

    ctypedef struct fx_bce_problem:
        int64_t n, L
        const void *x
        const void *y
        const void *w
        int64_t ws_row, ws_col
        const void *pw
        int64_t pws_row, pws_col
        double smoothing
        void *loss_out
        void *grad
        double grad_scale
        int probs
        int64_t block

    ctypedef struct fx_info_problem:
        int64_t outer, C, inner
        const void *p
        int64_t ps_outer, ps_class, ps_inner
        const void *q
        int64_t qs_outer, qs_class, qs_inner
        void *out
        double scale

    ctypedef struct fx_logloss_problem:
        int64_t n, K
        const void *prob
        int64_t ps_row, ps_col
        const int64_t *col
        const void *sw
        double eps, rtol, atol

    int fx_bce(fx_bce_problem *p, int dtype, int nthreads, double *result)
    int fx_info(fx_info_problem *p, int dtype, int nthreads, double *result)
    int fx_logloss(fx_logloss_problem *p, int dtype, int nthreads, double *result)

    int fx_select_isa(int requested)
    int fx_current_isa()
    int fx_supported_isa()
    const char *fx_isa_name(int isa)
    int fx_have_openmp()
    int fx_omp_max_threads()
    void fx_set_cpu_cap(int n)
    const char *fx_compiler()
    int fx_forked_serial()
    int fx_openmp_version()
    int64_t fx_row_chunk(int dtype)
    int fx_xent(fx_xent_problem *p, int dtype, int nthreads, double *result)
    void fx_math_eval(int fn, int dtype, const void *inp, void *out, int64_t n)


cdef inline const void *_ptr(object a):
    if a is None:
        return NULL
    return cnp.PyArray_DATA(<cnp.ndarray>a)


cdef inline int _dtype_code(cnp.ndarray a):
    return 0 if cnp.PyArray_TYPE(a) == cnp.NPY_FLOAT32 else 1


cdef inline _no_memory():
    raise MemoryError("fastxent: could not allocate the per-block results")


cdef inline int _run_xent(fx_xent_problem *p, int dt, int nthreads, double *res) except -1:
    cdef int rc
    with nogil:
        rc = fx_xent(p, dt, nthreads, res)
    if rc != 0:
        _no_memory()
    return 0


def select_isa(int requested):
    """Use ISA level `requested` (or the best supported if it is higher)."""
    return fx_select_isa(requested)


def set_cpu_cap(int n):
    """The CPUs this process may use: caps the default thread count."""
    fx_set_cpu_cap(n)


def omp_max_threads():
    """omp_get_max_threads() of the calling thread (1 without OpenMP)."""
    return fx_omp_max_threads()


def build_info():
    """Facts about the compiled kernels, for show_config()."""
    cdef int isa = fx_current_isa()
    return {
        "isa": fx_isa_name(isa).decode(),
        "isa_supported": fx_isa_name(fx_supported_isa()).decode(),
        "compiler": fx_compiler().decode(),
        "openmp": bool(fx_have_openmp()),
        "openmp_version": fx_openmp_version(),
        "omp_max_threads": fx_omp_max_threads(),
        "forked_serial": bool(fx_forked_serial()),
        "row_chunk": {"float32": fx_row_chunk(0), "float64": fx_row_chunk(1)},
    }


def xent(cnp.ndarray x, int64_t outer, int64_t C, int64_t inner,
         int64_t xs_outer, int64_t xs_class, int64_t xs_inner,
         object y, int64_t ys_outer, int64_t ys_class, int64_t ys_inner,
         object labels, int64_t ignore_index, object weight, double smoothing,
         object loss_out, object grad, int64_t gs_outer, int64_t gs_class,
         int64_t gs_inner, bint grad_mean, int nthreads, int mode=0):
    """The row kernels over (outer, C, inner).

    mode 0: softmax cross-entropy. Without a target, mode 1 writes logsumexp
    per row into loss_out; 2 and 3 write log_softmax / softmax into grad.
    Returns (loss sum, mean denominator, first bad label's flat index or -1).
    """
    cdef fx_xent_problem p
    cdef double res[3]
    cdef int dt = _dtype_code(x)
    p.outer = outer
    p.C = C
    p.inner = inner
    p.x = cnp.PyArray_DATA(x)
    p.xs_outer = xs_outer
    p.xs_class = xs_class
    p.xs_inner = xs_inner
    p.y = _ptr(y)
    p.ys_outer = ys_outer
    p.ys_class = ys_class
    p.ys_inner = ys_inner
    p.labels = <const int64_t *>_ptr(labels)
    p.ignore_index = ignore_index
    p.weight = _ptr(weight)
    p.smoothing = smoothing
    p.loss_out = <void *>_ptr(loss_out)
    p.grad = <void *>_ptr(grad)
    p.gs_outer = gs_outer
    p.gs_class = gs_class
    p.gs_inner = gs_inner
    p.grad_scale = 1.0
    p.grad_mean = grad_mean
    p.mode = mode   # enum fx_row_mode
    _run_xent(&p, dt, nthreads, res)
    return res[0], res[1], <int64_t>res[2]


cdef inline bint _plain(object a, int typenum, int ndim):
    """a is an exact ndarray of typenum, native order, aligned, C-contiguous."""
    if type(a) is not cnp.ndarray:
        return False
    cdef cnp.ndarray arr = <cnp.ndarray>a
    return (cnp.PyArray_TYPE(arr) == typenum and cnp.PyArray_NDIM(arr) == ndim
            and cnp.PyArray_ISCARRAY_RO(arr) and cnp.PyArray_ISNOTSWAPPED(arr))


def xent_plain(object logits, object target, bint mean, int nthreads):
    """cross_entropy's common case in one C call: 2-D float32/float64
    C-ordered logits, 1-D int64 labels, no options but the reduction (mean or
    sum) and the default ignore_index. Returns the loss as a NumPy scalar of
    the logits' dtype, the flat index of the first bad label as an int, or
    None when the arguments are not this case (the caller checks them all)."""
    cdef fx_xent_problem p
    cdef double res[3]
    cdef int dt
    cdef double v
    cdef float v32
    if _plain(logits, cnp.NPY_FLOAT32, 2):
        dt = 0
    elif _plain(logits, cnp.NPY_FLOAT64, 2):
        dt = 1
    else:
        return None
    if not _plain(target, cnp.NPY_INT64, 1):
        return None
    cdef cnp.ndarray x = <cnp.ndarray>logits
    cdef cnp.ndarray t = <cnp.ndarray>target
    cdef int64_t N = cnp.PyArray_DIM(x, 0), C = cnp.PyArray_DIM(x, 1)
    if C < 1 or cnp.PyArray_DIM(t, 0) != N:
        return None
    memset(&p, 0, sizeof(p))   # no target, weight, outputs or smoothing
    p.outer = N
    p.C = C
    p.inner = 1
    p.x = cnp.PyArray_DATA(x)
    p.xs_outer = C
    p.xs_class = p.xs_inner = 1
    p.labels = <const int64_t *>cnp.PyArray_DATA(t)
    p.ignore_index = -100
    p.grad_scale = 1.0
    p.grad_mean = mean
    _run_xent(&p, dt, nthreads, res)
    if res[2] >= 0:
        return <int64_t>res[2]
    if mean:
        v = res[0] / res[1] if res[1] != 0 else float("nan")
    else:
        v = res[0]
    if dt == 0:
        v32 = <float>v
        return PyArray_Scalar(&v32, cnp.PyArray_DESCR(x), None)
    return PyArray_Scalar(&v, cnp.PyArray_DESCR(x), None)


def math_eval(int fn, cnp.ndarray inp, cnp.ndarray out):
    """Test hook: out = f(inp) with the current ISA's vector math (0 exp, 1 log,
    2 log1p, 3 exp for x <= 0 in sums, 4 log1p on [0, 1])."""
    cdef int dt = _dtype_code(inp)
    cdef const void *a = cnp.PyArray_DATA(inp)
    cdef void *b = cnp.PyArray_DATA(out)
    cdef int64_t n = cnp.PyArray_SIZE(inp)
    with nogil:
        fx_math_eval(fn, dt, a, b, n)


def bce(cnp.ndarray x, cnp.ndarray y, int64_t L, object w, int64_t ws_row,
        int64_t ws_col, object pw, int64_t pws_row, int64_t pws_col,
        double smoothing, object loss_out, object grad, double grad_scale,
        bint probs, int nthreads):
    """Binary cross-entropy; returns (loss sum, first bad flat index or -1)."""
    cdef fx_bce_problem p
    cdef double res[2]
    cdef int rc
    cdef int dt = _dtype_code(x)
    p.n = cnp.PyArray_SIZE(x)
    p.L = L
    p.x = cnp.PyArray_DATA(x)
    p.y = cnp.PyArray_DATA(y)
    p.w = _ptr(w)
    p.ws_row = ws_row
    p.ws_col = ws_col
    p.pw = _ptr(pw)
    p.pws_row = pws_row
    p.pws_col = pws_col
    p.smoothing = smoothing
    p.loss_out = <void *>_ptr(loss_out)
    p.grad = <void *>_ptr(grad)
    p.grad_scale = grad_scale
    p.probs = probs
    with nogil:
        rc = fx_bce(&p, dt, nthreads, res)
    if rc != 0:
        _no_memory()
    return res[0], (-1 if res[1] == float("inf") else <int64_t>res[1])


def info(cnp.ndarray pa, int64_t outer, int64_t C, int64_t inner,
         int64_t ps_outer, int64_t ps_class, int64_t ps_inner,
         object qa, int64_t qs_outer, int64_t qs_class, int64_t qs_inner,
         cnp.ndarray out, double scale, int nthreads):
    """Entropy (qa None) or KL per row into out; returns the first row with a
    negative value, or -1."""
    cdef fx_info_problem p
    cdef double res[1]
    cdef int rc
    cdef int dt = _dtype_code(pa)
    p.outer = outer
    p.C = C
    p.inner = inner
    p.p = cnp.PyArray_DATA(pa)
    p.ps_outer = ps_outer
    p.ps_class = ps_class
    p.ps_inner = ps_inner
    p.q = _ptr(qa)
    p.qs_outer = qs_outer
    p.qs_class = qs_class
    p.qs_inner = qs_inner
    p.out = cnp.PyArray_DATA(out)
    p.scale = scale
    with nogil:
        rc = fx_info(&p, dt, nthreads, res)
    if rc != 0:
        _no_memory()
    return -1 if res[0] == float("inf") else <int64_t>res[0]


def logloss(cnp.ndarray prob, int64_t n, int64_t K, int64_t ps_row, int64_t ps_col,
            cnp.ndarray col, object sw, double eps, double rtol, double atol,
            int nthreads):
    """Log loss gather; returns (weighted loss sum, min, max, rows not summing to 1)."""
    cdef fx_logloss_problem p
    cdef double res[4]
    cdef int rc
    cdef int dt = _dtype_code(prob)
    p.n = n
    p.K = K
    p.prob = cnp.PyArray_DATA(prob)
    p.ps_row = ps_row
    p.ps_col = ps_col
    p.col = <const int64_t *>cnp.PyArray_DATA(col)
    p.sw = _ptr(sw)
    p.eps = eps
    p.rtol = rtol
    p.atol = atol
    with nogil:
        rc = fx_logloss(&p, dt, nthreads, res)
    if rc != 0:
        _no_memory()
    return res[0], res[1], res[2], res[3]


# ---------------------------------------------------------------- evaluation
cdef extern from "fx_exact.h" nogil:
    int FX_EXACT_WORDS
    void fx_exact_normalize(int64_t *acc)
    void fx_exact_merge(int64_t *dst, const int64_t *src)
    double fx_exact_round(const int64_t *acc)
    void fx_exact_add_array(int64_t *acc, const double *v, int64_t n)

cdef extern from "fx_api.h" nogil:
    ctypedef struct fx_eval_problem:
        int64_t outer, C, inner
        const void *x
        int64_t xs_outer, xs_class, xs_inner
        const void *xr
        int64_t rs_outer, rs_class, rs_inner
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
    int fx_eval(fx_eval_problem *p, int dtype, int nthreads, double *result)


def exact_add(cnp.ndarray acc, cnp.ndarray values):
    """Adds the contiguous float64 `values` to the accumulator `acc`
    (FX_EXACT_WORDS int64)."""
    cdef int64_t *a = <int64_t *>cnp.PyArray_DATA(acc)
    cdef const double *v = <const double *>cnp.PyArray_DATA(values)
    cdef int64_t n = cnp.PyArray_SIZE(values)
    with nogil:
        fx_exact_add_array(a, v, n)


def exact_words():
    """int64 words of one accumulator."""
    return FX_EXACT_WORDS


def exact_round(cnp.ndarray acc):
    """The rounded sums of the C-contiguous (k, FX_EXACT_WORDS) accumulators."""
    cdef int64_t k = cnp.PyArray_DIM(acc, 0), i
    cdef const int64_t *a = <const int64_t *>cnp.PyArray_DATA(acc)
    out = cnp.PyArray_EMPTY(1, [k], cnp.NPY_FLOAT64, 0)
    cdef double *o = <double *>cnp.PyArray_DATA(out)
    for i in range(k):
        o[i] = fx_exact_round(a + i * FX_EXACT_WORDS)
    return out


def exact_merge(cnp.ndarray dst, cnp.ndarray src):
    """dst += src, both C-contiguous (k, FX_EXACT_WORDS) accumulators."""
    cdef int64_t k = cnp.PyArray_DIM(dst, 0), i
    cdef int64_t *d = <int64_t *>cnp.PyArray_DATA(dst)
    cdef const int64_t *s = <const int64_t *>cnp.PyArray_DATA(src)
    for i in range(k):
        fx_exact_merge(d + i * FX_EXACT_WORDS, s + i * FX_EXACT_WORDS)


def exact_normalize(cnp.ndarray acc):
    """Propagates the carries of the (k, FX_EXACT_WORDS) accumulators."""
    cdef int64_t k = cnp.PyArray_DIM(acc, 0), i
    cdef int64_t *a = <int64_t *>cnp.PyArray_DATA(acc)
    for i in range(k):
        fx_exact_normalize(a + i * FX_EXACT_WORDS)


def eval_rows(cnp.ndarray x, int64_t outer, int64_t C, int64_t inner,
              int64_t xs_outer, int64_t xs_class, int64_t xs_inner,
              object xr, int64_t rs_outer, int64_t rs_class, int64_t rs_inner,
              cnp.ndarray labels, int64_t ignore_index, object sample_weight,
              bint ties_last, int nonfinite, cnp.ndarray topk, int n_bins,
              cnp.ndarray acc, object row_nll, object row_max_prob,
              object row_entropy, object row_kl, object row_rank,
              object row_argmax, object row_status, int nthreads):
    """The evaluation kernel: adds the rows to `acc` and writes the per-row
    outputs given. Returns (ignored rows, non-finite rows, max row KL, first
    bad label's flat index or -1, first non-finite row under "raise" or -1)."""
    cdef fx_eval_problem p
    cdef double res[5]
    cdef int rc
    cdef int dt = _dtype_code(x)
    p.outer = outer
    p.C = C
    p.inner = inner
    p.x = cnp.PyArray_DATA(x)
    p.xs_outer = xs_outer
    p.xs_class = xs_class
    p.xs_inner = xs_inner
    p.xr = _ptr(xr)
    p.rs_outer = rs_outer
    p.rs_class = rs_class
    p.rs_inner = rs_inner
    p.labels = <const int64_t *>cnp.PyArray_DATA(labels)
    p.ignore_index = ignore_index
    p.sample_weight = <const double *>_ptr(sample_weight)
    p.ties_last = ties_last
    p.nonfinite = nonfinite
    p.n_topk = <int>cnp.PyArray_SIZE(topk)
    p.n_bins = n_bins
    p.topk = <const int64_t *>cnp.PyArray_DATA(topk)
    p.acc = <int64_t *>cnp.PyArray_DATA(acc)
    p.row_nll = <double *>_ptr(row_nll)
    p.row_max_prob = <double *>_ptr(row_max_prob)
    p.row_entropy = <double *>_ptr(row_entropy)
    p.row_kl = <double *>_ptr(row_kl)
    p.row_rank = <int64_t *>_ptr(row_rank)
    p.row_argmax = <int64_t *>_ptr(row_argmax)
    p.row_status = <signed char *>_ptr(row_status)
    with nogil:
        rc = fx_eval(&p, dt, nthreads, res)
    if rc != 0:
        _no_memory()
    return (<int64_t>res[0], <int64_t>res[1], res[2], <int64_t>res[3], <int64_t>res[4])


def exact_round_window(cnp.ndarray chunks, int64_t lo, object special):
    """The rounded sums of n accumulators given as a (n, width) window of
    chunks starting at chunk lo (lo + width <= FX_EXACT_CHUNKS) and their
    (n, 3) +inf/-inf/NaN counts (None: all 0)."""
    cdef int64_t n = cnp.PyArray_DIM(chunks, 0), width = cnp.PyArray_DIM(chunks, 1), i, j
    cdef const int64_t *c = <const int64_t *>cnp.PyArray_DATA(chunks)
    cdef const int64_t *s = <const int64_t *>_ptr(special)
    cdef int64_t nospecial[3]
    nospecial[0] = nospecial[1] = nospecial[2] = 0
    cdef int64_t acc[72]
    out = cnp.PyArray_EMPTY(1, [n], cnp.NPY_FLOAT64, 0)
    cdef double *o = <double *>cnp.PyArray_DATA(out)
    cdef bint empty
    cdef const int64_t *si
    for i in range(n):
        si = s + 3 * i if s != NULL else nospecial
        empty = si[0] == 0 and si[1] == 0 and si[2] == 0
        for j in range(width):
            if c[i * width + j] != 0:
                empty = False
                break
        if empty:   # most items of a large per-class sum are never touched
            o[i] = 0.0
            continue
        memset(acc, 0, sizeof(acc))
        for j in range(width):
            acc[lo + j] = c[i * width + j]
        acc[69] = si[0]
        acc[70] = si[1]
        acc[71] = si[2]
        o[i] = fx_exact_round(acc)
    return out
