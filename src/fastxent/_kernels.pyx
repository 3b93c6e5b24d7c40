# cython: language_level=3
"""Thin binding of the C kernels in csrc/.

Validates nothing and converts nothing: the Python layer hands over arrays
of the compute dtype, strides in elements and checked arguments. One def per
C entry point (fx_api.h); every kernel runs with the GIL released, taking it
back only between ranges of a long call to check for Ctrl-C (_interrupted).

The single exception is xent_plain, cross_entropy's one-call fast path: it
checks the types of its arguments in C and declines (returns None) anything
that is not its case, so that a (64, 10) call costs about a microsecond.
"""
from libc.stdint cimport int64_t
from libc.string cimport memset
from cpython.exc cimport PyErr_Occurred
cimport cython
cimport numpy as cnp
import os
import threading


cnp.import_array()

cdef extern from "Python.h":
    # declared without an exception clause: the error it sets stays pending
    # until _reraise_interrupt passes it on
    int PyErr_CheckSignals_keep "PyErr_CheckSignals" ()
    unsigned long PyThread_get_thread_ident() nogil

# Ctrl-C: a long kernel call asks this between ranges of its blocks
# (fx_set_interrupt_hook). Python runs signal handlers on the main thread
# only, so other threads never take the GIL for it.
cdef unsigned long _main_thread = threading.main_thread().ident


def _after_fork_in_child():
    # a child forked from another thread has that thread as its main thread
    # (threading's own at-fork handler, registered first, has run)
    global _main_thread
    _main_thread = threading.main_thread().ident


os.register_at_fork(after_in_child=_after_fork_in_child)


cdef int _interrupted() noexcept nogil:
    if PyThread_get_thread_ident() != _main_thread:
        return 0
    with gil:
        return PyErr_CheckSignals_keep() != 0


cdef int _reraise_interrupt() except -1:
    """Raises what the signal handler raised (KeyboardInterrupt for Ctrl-C)."""
    if PyErr_Occurred() == NULL:
        raise KeyboardInterrupt
    return -1


fx_set_interrupt_hook(_interrupted)

cdef extern from "numpy/arrayobject.h":
    object PyArray_Scalar(void *data, cnp.PyArray_Descr *descr, object base)

# Strides travel as (s_outer, s_class, s_inner) in elements, shapes as
# (outer, C, inner); each def returns the C status as (code, arg, index)
# first, which the Python layer turns into its error (_outputs.raise_status).
ctypedef (int64_t, int64_t, int64_t) triple


cdef inline const void *_ptr(object a):
    if a is None:
        return NULL
    return cnp.PyArray_DATA(<cnp.ndarray>a)


cdef inline int _dtype_code(cnp.ndarray a):
    """enum fx_dtype of an input: float32, float64, float16, or bfloat16 (the
    Python layer's 2-byte tag _half.BF16, the only other dtype it passes)."""
    cdef int t = cnp.PyArray_TYPE(a)
    if t == cnp.NPY_FLOAT32:
        return 0
    if t == cnp.NPY_FLOAT64:
        return 1
    if t == cnp.NPY_FLOAT16:
        return 2
    return 3


cdef inline fx_view _view(object a, triple s):
    cdef fx_view v
    v.data = <void *>_ptr(a)
    v.s_outer = s[0]
    v.s_class = s[1]
    v.s_inner = s[2]
    return v


cdef inline tuple _status(fx_status st):
    if st.code == FX_INTERRUPTED:
        _reraise_interrupt()
    return (st.code, st.arg, st.index)


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
        "thread_runner": fx_thread_runner().decode(),
        "openmp": bool(fx_have_openmp()),
        "openmp_version": fx_openmp_version(),
        "omp_max_threads": fx_omp_max_threads(),
        "forked_serial": bool(fx_forked_serial()),
        "row_chunk": {"float32": fx_row_chunk(0), "float64": fx_row_chunk(1)},
    }


def xent(cnp.ndarray x, triple shape, triple xs, object y, triple ys, object labels,
         int64_t ignore_index, object weight, double smoothing, object loss_out,
         object grad, triple gs, bint grad_mean, int nthreads):
    """fx_xent: softmax cross-entropy over (outer, C, inner) against labels or
    soft targets y. Returns (status, loss sum, mean denominator)."""
    cdef fx_xent_problem p
    cdef fx_xent_sums sums
    cdef fx_status st
    cdef int dt = _dtype_code(x)
    p.outer, p.C, p.inner = shape
    p.x = _view(x, xs)
    p.y = _view(y, ys)
    p.labels = <const int64_t *>_ptr(labels)
    p.ignore_index = ignore_index
    p.weight = _ptr(weight)
    p.smoothing = smoothing
    p.loss_out = <void *>_ptr(loss_out)
    p.grad = _view(grad, gs)
    p.grad_mean = grad_mean
    with nogil:
        st = fx_xent(&p, dt, nthreads, &sums)
    return _status(st), sums.loss, sums.denom


def softmax(cnp.ndarray x, triple shape, triple xs, object lse_out, object out, triple os,
            int op, int nthreads):
    """fx_softmax: op 1 writes logsumexp per row into lse_out, 2 and 3
    log_softmax / softmax into out. Returns the status."""
    cdef fx_softmax_problem p
    cdef fx_status st
    cdef int dt = _dtype_code(x)
    p.outer, p.C, p.inner = shape
    p.x = _view(x, xs)
    p.lse_out = <void *>_ptr(lse_out)
    p.out = _view(out, os)
    p.op = op
    with nogil:
        st = fx_softmax(&p, dt, nthreads)
    return _status(st)


cdef inline bint _plain(object a, int typenum, int ndim):
    """a is an exact ndarray of typenum, native order, aligned, C-contiguous."""
    if type(a) is not cnp.ndarray:
        return False
    cdef cnp.ndarray arr = <cnp.ndarray>a
    return (cnp.PyArray_TYPE(arr) == typenum and cnp.PyArray_NDIM(arr) == ndim
            and cnp.PyArray_ISCARRAY_RO(arr) and cnp.PyArray_ISNOTSWAPPED(arr))


cdef inline int _plain_rows(object logits, object labels):
    """The dtype code (0 float32, 1 float64) of 2-D plain (see _plain)
    logits with 1-D plain int64 labels of their row count, else -1."""
    cdef int dt
    if _plain(logits, cnp.NPY_FLOAT32, 2):
        dt = 0
    elif _plain(logits, cnp.NPY_FLOAT64, 2):
        dt = 1
    else:
        return -1
    if not _plain(labels, cnp.NPY_INT64, 1) or \
            cnp.PyArray_DIM(<cnp.ndarray>labels, 0) != cnp.PyArray_DIM(<cnp.ndarray>logits, 0):
        return -1
    return dt


def xent_plain(object logits, object target, bint mean, int nthreads):
    """cross_entropy's common case in one C call: 2-D float32/float64
    C-ordered logits, 1-D int64 labels, no options but the reduction (mean or
    sum) and the default ignore_index. Returns the loss as a NumPy scalar of
    the logits' dtype, the C status (code, arg, index) when it is not OK, or
    None when the arguments are not this case (the caller checks them all).
    The one def that checks types: see the module docstring."""
    cdef fx_xent_problem p
    cdef fx_xent_sums sums
    cdef fx_status st
    cdef double v
    cdef float v32
    cdef int dt = _plain_rows(logits, target)
    if dt < 0:
        return None
    cdef cnp.ndarray x = <cnp.ndarray>logits
    cdef cnp.ndarray t = <cnp.ndarray>target
    cdef int64_t N = cnp.PyArray_DIM(x, 0), C = cnp.PyArray_DIM(x, 1)
    if C < 1:
        return None
    memset(&p, 0, sizeof(p))   # no target, weight, outputs or smoothing
    p.outer = N
    p.C = C
    p.inner = 1
    p.x.data = cnp.PyArray_DATA(x)
    p.x.s_outer = C
    p.x.s_class = p.x.s_inner = 1
    p.labels = <const int64_t *>cnp.PyArray_DATA(t)
    p.ignore_index = -100
    p.grad_mean = mean
    with nogil:
        st = fx_xent(&p, dt, nthreads, &sums)
    if st.code != FX_OK:
        return _status(st)
    if mean:
        v = sums.loss / sums.denom if sums.denom != 0 else float("nan")
    else:
        v = sums.loss
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


def bce(cnp.ndarray x, cnp.ndarray y, int64_t L, object w, triple ws, object pw, triple pws,
        double smoothing, object loss_out, object grad, double grad_scale, bint probs,
        int nthreads):
    """fx_bce: binary cross-entropy over contiguous x, y viewed as rows of L;
    w, pw broadcast views (row stride, column stride, 0). Returns (status,
    loss sum)."""
    cdef fx_bce_problem p
    cdef fx_status st
    cdef double total
    cdef int dt = _dtype_code(x)
    p.n = cnp.PyArray_SIZE(x)
    p.L = L
    p.x = cnp.PyArray_DATA(x)
    p.y = cnp.PyArray_DATA(y)
    p.w = _view(w, ws)
    p.pw = _view(pw, pws)
    p.smoothing = smoothing
    p.loss_out = <void *>_ptr(loss_out)
    p.grad = <void *>_ptr(grad)
    p.grad_scale = grad_scale
    p.probs = probs
    with nogil:
        st = fx_bce(&p, dt, nthreads, &total)
    return _status(st), total


def info(cnp.ndarray pa, triple shape, triple ps, object qa, triple qs, cnp.ndarray out,
         double scale, int nthreads):
    """fx_info: entropy (qa None) or KL per row into out. Returns the status."""
    cdef fx_info_problem p
    cdef fx_status st
    cdef int dt = _dtype_code(pa)
    p.outer, p.C, p.inner = shape
    p.p = _view(pa, ps)
    p.q = _view(qa, qs)
    p.out = cnp.PyArray_DATA(out)
    p.scale = scale
    with nogil:
        st = fx_info(&p, dt, nthreads)
    return _status(st)


def logloss(cnp.ndarray prob, int64_t n, int64_t K, triple ps, cnp.ndarray col, object sw,
            double eps, double rtol, double atol, int nthreads):
    """fx_logloss: the log loss gather. Returns (status, weighted loss sum,
    min, max, rows not summing to 1)."""
    cdef fx_logloss_problem p
    cdef fx_logloss_stats r
    cdef fx_status st
    cdef int dt = _dtype_code(prob)
    p.n = n
    p.K = K
    p.prob = _view(prob, ps)
    p.col = <const int64_t *>cnp.PyArray_DATA(col)
    p.sw = _ptr(sw)
    p.eps = eps
    p.rtol = rtol
    p.atol = atol
    with nogil:
        st = fx_logloss(&p, dt, nthreads, &r)
    return _status(st), r.loss, r.lo, r.hi, r.not_close


# ---------------------------------------------------------------- evaluation
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


def eval_rows(cnp.ndarray x, triple shape, triple xs, object xr, triple rs,
              cnp.ndarray labels, int64_t ignore_index, object sample_weight,
              bint ties_last, int nonfinite, cnp.ndarray topk, int n_bins,
              cnp.ndarray acc, object row_nll, object row_max_prob,
              object row_entropy, object row_kl, object row_rank,
              object row_argmax, object row_status, int nthreads):
    """fx_eval: adds the rows to `acc` and writes the per-row outputs given.
    Returns (status, ignored rows, non-finite rows, max row KL)."""
    cdef fx_eval_problem p
    cdef fx_eval_counts r
    cdef fx_status st
    cdef int dt = _dtype_code(x)
    p.outer, p.C, p.inner = shape
    p.x = _view(x, xs)
    p.xr = _view(xr, rs)
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
        st = fx_eval(&p, dt, nthreads, &r)
    return _status(st), <int64_t>r.ignored, <int64_t>r.nonfinite, r.kl_max


@cython.auto_pickle(False)
cdef class EvalCounts:
    """An Evaluator's row counts: every row seen, the ignored ones and the
    non-finite ones (updated by PlainEval in C, by the Python layer else)."""
    cdef public int64_t n_rows, n_ignored, n_nonfinite


@cython.auto_pickle(False)
cdef class PlainEval:
    """Evaluator.update's common case in one C call: 2-D float32/float64
    C-ordered logits of the evaluator's class count and 1-D int64 labels,
    for a configuration with nothing per class, per segment or against a
    reference and the classes last. Made once per evaluator: the problem is
    filled here, each call adds the arrays, the state and the counts."""
    cdef fx_eval_problem p
    cdef int nthreads
    cdef object topk
    cdef EvalCounts counts

    def __init__(self, int64_t C, int64_t ignore_index, bint ties_last, int nonfinite,
                 cnp.ndarray topk, int n_bins, int nthreads, EvalCounts counts):
        memset(&self.p, 0, sizeof(self.p))   # no weights, reference or per-row outputs
        self.p.C = C
        self.p.inner = 1
        self.p.x.s_outer = C
        self.p.x.s_class = 1
        self.p.x.s_inner = 1
        self.p.ignore_index = ignore_index
        self.p.ties_last = ties_last
        self.p.nonfinite = nonfinite
        self.topk = topk
        self.p.n_topk = <int>cnp.PyArray_SIZE(topk)
        self.p.topk = <const int64_t *>cnp.PyArray_DATA(topk)
        self.p.n_bins = n_bins
        self.nthreads = nthreads
        self.counts = counts

    def run(self, object logits, object labels, cnp.ndarray acc):
        """Adds the rows to `acc` (the evaluator's sums, C-contiguous) and to
        the counts. Returns None when done, False when the arguments are not
        this case (nothing done: the caller checks them all), else the C
        status (code, arg, index) of a call that changed nothing."""
        cdef int dt = _plain_rows(logits, labels)
        if dt < 0:
            return False
        cdef cnp.ndarray x = <cnp.ndarray>logits
        cdef cnp.ndarray t = <cnp.ndarray>labels
        cdef int64_t N = cnp.PyArray_DIM(x, 0)
        if N == 0 or cnp.PyArray_DIM(x, 1) != self.p.C:
            return False
        cdef fx_eval_problem p = self.p
        cdef fx_eval_counts r
        cdef fx_status st
        p.outer = N
        p.x.data = cnp.PyArray_DATA(x)
        p.labels = <const int64_t *>cnp.PyArray_DATA(t)
        p.acc = <int64_t *>cnp.PyArray_DATA(acc)
        with nogil:
            st = fx_eval(&p, dt, self.nthreads, &r)
        if st.code != FX_OK:
            return _status(st)
        self.counts.n_rows += N
        self.counts.n_ignored += <int64_t>r.ignored
        self.counts.n_nonfinite += <int64_t>r.nonfinite
        return None


def exact_round_window(cnp.ndarray chunks, int64_t lo, object special):
    """The rounded sums of n accumulators given as a (n, width) window of
    chunks starting at chunk lo (lo + width <= FX_EXACT_CHUNKS) and their
    (n, 3) +inf/-inf/NaN counts (None: all 0)."""
    cdef int64_t n = cnp.PyArray_DIM(chunks, 0), width = cnp.PyArray_DIM(chunks, 1)
    cdef const int64_t *c = <const int64_t *>cnp.PyArray_DATA(chunks)
    cdef const int64_t *s = <const int64_t *>_ptr(special)
    out = cnp.PyArray_EMPTY(1, [n], cnp.NPY_FLOAT64, 0)
    cdef double *o = <double *>cnp.PyArray_DATA(out)
    with nogil:
        fx_exact_round_window(c, n, width, lo, s, o)
    return out


def exact_window_normalize(cnp.ndarray chunks):
    """fx_exact_window_normalize over C-ordered int64 (n, width) chunks."""
    if not (cnp.PyArray_IS_C_CONTIGUOUS(chunks) and cnp.PyArray_TYPE(chunks) == cnp.NPY_INT64
            and cnp.PyArray_NDIM(chunks) == 2):
        raise ValueError("exact_window_normalize: expected C-ordered int64 (n, width) chunks")
    cdef int64_t *c = <int64_t *>cnp.PyArray_DATA(chunks)
    cdef int64_t n = cnp.PyArray_DIM(chunks, 0), width = cnp.PyArray_DIM(chunks, 1)
    with nogil:
        fx_exact_window_normalize(c, n, width)


def exact_span(cnp.ndarray values):
    """(specials, lo, hi) of C-contiguous float64 values: the count of NaN
    and inf, the lowest and highest first chunk of the finite nonzero ones
    (lo > hi: none)."""
    if not (cnp.PyArray_IS_C_CONTIGUOUS(values) and cnp.PyArray_TYPE(values) == cnp.NPY_FLOAT64):
        raise ValueError("exact_span: expected C-ordered float64 values")
    cdef int64_t lo, hi, sp
    cdef const double *v = <const double *>cnp.PyArray_DATA(values)
    cdef int64_t count = cnp.PyArray_SIZE(values)
    with nogil:
        sp = fx_exact_span(v, count, &lo, &hi)
    return sp, lo, hi


def exact_window_add(cnp.ndarray chunks, int64_t lo, cnp.ndarray index, cnp.ndarray values):
    """fx_exact_window_add: chunks (n, width) int64 C-contiguous, index
    int64 and values float64 contiguous of one length. Returns -1 or the
    first position that did not fit."""
    cdef int64_t n = cnp.PyArray_DIM(chunks, 0), width = cnp.PyArray_DIM(chunks, 1)
    cdef int64_t count = cnp.PyArray_SIZE(values), r
    cdef int64_t *c = <int64_t *>cnp.PyArray_DATA(chunks)
    cdef const int64_t *ix = <const int64_t *>cnp.PyArray_DATA(index)
    cdef const double *v = <const double *>cnp.PyArray_DATA(values)
    if not (cnp.PyArray_IS_C_CONTIGUOUS(chunks) and cnp.PyArray_IS_C_CONTIGUOUS(index)
            and cnp.PyArray_IS_C_CONTIGUOUS(values)
            and cnp.PyArray_TYPE(chunks) == cnp.NPY_INT64
            and cnp.PyArray_TYPE(index) == cnp.NPY_INT64
            and cnp.PyArray_TYPE(values) == cnp.NPY_FLOAT64
            and cnp.PyArray_SIZE(index) == count):
        raise ValueError("exact_window_add: expected C-ordered int64 chunks, int64 index "
                         "and float64 values of one length")
    with nogil:
        r = fx_exact_window_add(c, n, width, lo, ix, v, count)
    return r
