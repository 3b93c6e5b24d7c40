/* fx_driver.c - ISA selection, threading and deterministic reductions.
 *
 * The ISA variants only know how to process one block of rows; this file
 * decides the blocks, runs them on OpenMP threads and combines their sums.
 * Block sizes depend only on the problem's shape, never on the thread count,
 * and block sums are combined pairwise in block order, so every reduction is
 * bitwise identical for any number of threads.
 */
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include "fx_isa.h"
#include "fx_half.h"
#include "fx_pool.h"
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#include <fcntl.h>
#include <unistd.h>
#define FX_HAVE_ATFORK 1
#endif

/* below this many elements of work a call stays on the calling thread */
#define FX_SERIAL_WORK 32768
/* target elements per block: small enough to balance threads, large enough
 * that per-block overhead is negligible */
#define FX_BLOCK_WORK 16384
#define FX_MAX_BLOCK_ROWS 1024

static const fx_isa_table *fx_tables[FX_ISA_COUNT];

/* Fork safety. GNU libgomp cannot start threads in a child forked after the
 * parent ran a parallel region: the child waits forever on threads that do
 * not exist. The parallel region may be anyone's (torch and others load the
 * same libgomp.so.1, and one thread pool serves them all), so fastxent's own
 * use is not the criterion: a child forked from a parent that had more than
 * one thread at the fork, or that ran threaded kernels, or was itself such a
 * child, runs every kernel on its calling thread, touching no OpenMP
 * construct at all. Idle OpenMP workers are threads of the parent, so this
 * catches every team any library started; the price is a serial child of a
 * parent that had unrelated threads (correct, only slower). */
static volatile int fx_threads_used = 0;
static volatile int fx_serial_after_fork = 0;

#ifdef FX_HAVE_ATFORK
static volatile int fx_fork_parent_threaded = 0;

/* Threads of this process now (field 20 of /proc/self/stat), or -1 if
 * unknown. Runs in the parent before fork(): plain read(), no allocation. */
static int fx_process_threads(void)
{
#ifdef __linux__
    char buf[1024];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    /* the command name (field 2) may hold spaces and parentheses: count
     * fields from the last ')' */
    char *q = strrchr(buf, ')');
    if (q == NULL) return -1;
    int field = 2;
    for (; *q != 0 && field < 20; q++)
        if (*q == ' ') field++;
    if (field != 20) return -1;
    return (int)strtol(q, NULL, 10);
#else
    return -1;
#endif
}

static void fx_atfork_prepare(void)
{
    const int nt = fx_process_threads();
    fx_fork_parent_threaded = fx_threads_used || nt != 1;
}

static void fx_atfork_child(void)
{
    if (fx_fork_parent_threaded) fx_serial_after_fork = 1;
}
static pthread_once_t fx_atfork_once = PTHREAD_ONCE_INIT;
static void fx_register_atfork(void)
{
    pthread_atfork(fx_atfork_prepare, NULL, fx_atfork_child);
}
#endif

int fx_forked_serial(void)
{
    return fx_serial_after_fork;
}
static int fx_isa = -1;

/* How a range of blocks runs on several threads (docs/scaling.md): the pool
 * (fx_pool.c) where the build has one, else OpenMP with blocks claimed
 * dynamically; FASTXENT_THREAD_RUNNER=omp-dynamic or omp-static (the
 * static schedule fastxent used before the pool) selects one of the OpenMP
 * runners instead, for comparison. Read once, at import. */
enum { FX_RUN_POOL, FX_RUN_OMP_DYNAMIC, FX_RUN_OMP_STATIC };
static int fx_runner = FX_RUN_OMP_DYNAMIC;

static void fx_select_runner(void)
{
    const char *env = getenv("FASTXENT_THREAD_RUNNER");
    fx_runner = fx_pool_available() ? FX_RUN_POOL : FX_RUN_OMP_DYNAMIC;
    if (env != NULL && strcmp(env, "omp-dynamic") == 0) fx_runner = FX_RUN_OMP_DYNAMIC;
    if (env != NULL && strcmp(env, "omp-static") == 0) fx_runner = FX_RUN_OMP_STATIC;
}

const char *fx_thread_runner(void)
{
#ifdef _OPENMP
    return fx_runner == FX_RUN_POOL ? "pool" : fx_runner == FX_RUN_OMP_STATIC ? "omp-static"
                                                                               : "omp-dynamic";
#else
    return "serial";
#endif
}

int fx_supported_isa(void)
{
#if defined(FX_X86_DISPATCH)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return FX_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
        && __builtin_cpu_supports("f16c"))
        return FX_ISA_AVX2;
#endif
    return FX_ISA_BASELINE;
}

int fx_select_isa(int requested)
{
#ifdef FX_HAVE_ATFORK
    pthread_once(&fx_atfork_once, fx_register_atfork);
#endif
    fx_tables[FX_ISA_BASELINE] = &fx_table_baseline;
#if defined(FX_X86_DISPATCH)
    fx_tables[FX_ISA_AVX2] = &fx_table_avx2;
    fx_tables[FX_ISA_AVX512] = &fx_table_avx512;
#endif
    fx_select_runner();
    int best = fx_supported_isa();
    if (requested < 0 || requested > best) requested = best;
    fx_isa = requested;
    return fx_isa;
}

int fx_current_isa(void)
{
    if (fx_isa < 0) fx_select_isa(-1);
    return fx_isa;
}

const char *fx_isa_name(int isa)
{
    switch (isa) {
    case FX_ISA_BASELINE: return "baseline";
    case FX_ISA_AVX2: return "avx2";
    case FX_ISA_AVX512: return "avx512";
    default: return "unknown";
    }
}

const fx_isa_table *fx_table(void)
{
    return fx_tables[fx_current_isa()];
}

int fx_have_openmp(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

int fx_omp_max_threads(void)
{
    if (fx_serial_after_fork) return 1;
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

const char *fx_compiler(void)
{
#if defined(__clang__)
    return "clang " __clang_version__;
#elif defined(__GNUC__)
    return "gcc " __VERSION__;
#elif defined(_MSC_VER)
    return "msvc";
#else
    return "unknown";
#endif
}

int64_t fx_row_chunk(int dtype)
{
    return dtype == FX_F64 ? FX_CHUNK_F64 : FX_CHUNK_F32;   /* halves: float32's */
}

int fx_openmp_version(void)
{
#ifdef _OPENMP
    return _OPENMP;
#else
    return 0;
#endif
}

/* Pairwise sum of v[0], v[stride], ... (n values) in a fixed tree order. */
static double fx_pairwise_sum(const double *v, int64_t n, int64_t stride)
{
    if (n <= 8) {
        double s = 0.0;
        for (int64_t i = 0; i < n; i++) s += v[i * stride];
        return s;
    }
    int64_t h = n / 2;
    return fx_pairwise_sum(v, h, stride) + fx_pairwise_sum(v + h * stride, n - h, stride);
}

/* Checks labels (flat, n of them) against [0, C) or ignore_index and returns
 * the flat index of the first bad one, or -1. Also returns the sum over
 * non-ignored labels of weight[label] (or their count without weights),
 * summed in order in float64. */
int64_t fx_check_labels(const int64_t *labels, int64_t n, int64_t C, int64_t ignore_index,
                        const void *weight, int dtype, double *weight_sum)
{
    if (weight == NULL) {
        /* Without weights the sum is a count: counted in an integer (exact,
         * so the same double as adding 1.0 in order, below 2^53) and without
         * branches, the range test folded into one flag; the first bad label
         * is only looked for when there is one. */
        int64_t count = 0;
        uint64_t bad = 0;
        for (int64_t i = 0; i < n; i++) {
            const int64_t y = labels[i];
            const uint64_t counted = (uint64_t)(y != ignore_index);
            count += (int64_t)counted;
            bad |= counted & (uint64_t)((uint64_t)y >= (uint64_t)C);
        }
        if (!bad) {
            *weight_sum = (double)count;
            return -1;
        }
    }
    double ws = 0.0;
    for (int64_t i = 0; i < n; i++) {
        int64_t y = labels[i];
        if (y == ignore_index) continue;
        if (y < 0 || y >= C) return i;
        if (weight == NULL)
            ws += 1.0;
        else if (dtype == FX_F64)
            ws += ((const double *)weight)[y];
        else   /* float32, and the halves' float32 weights */
            ws += (double)((const float *)weight)[y];
    }
    *weight_sum = ws;
    return -1;
}

/* CPUs the process may use (its affinity), set once at import. */
static int fx_cpu_cap = 0;

void fx_set_cpu_cap(int n)
{
    fx_cpu_cap = n;
}

/* nthreads <= 0 means the default: min(omp_get_max_threads(), CPUs), where
 * omp_get_max_threads() carries OMP_NUM_THREADS and threadpoolctl's limit. */
static int fx_threads_for(int64_t work, int nthreads, int64_t nblocks)
{
    if (nthreads <= 0) {
        nthreads = fx_omp_max_threads();
        if (fx_cpu_cap > 0 && nthreads > fx_cpu_cap) nthreads = fx_cpu_cap;
    }
    if (fx_serial_after_fork) nthreads = 1;
    if (work < FX_SERIAL_WORK) return 1;
    if (nblocks < nthreads) nthreads = (int)nblocks;
    return nthreads < 1 ? 1 : nthreads;
}

/* Set once at import (fx_api.h): read, never written, while kernels run. */
static fx_interrupt_fn fx_interrupt_hook = NULL;

void fx_set_interrupt_hook(fx_interrupt_fn hook)
{
    fx_interrupt_hook = hook;
}

/* Blocks per range: about FX_RANGE_WORK elements of work per thread, a
 * multiple of the thread count so the threads stay balanced. */
static int64_t fx_range_blocks(int64_t work, int64_t nblocks, int nt)
{
    const int64_t per_block = work / nblocks > 0 ? work / nblocks : 1;
    const int64_t per_thread = FX_RANGE_WORK / per_block > 0 ? FX_RANGE_WORK / per_block : 1;
    return per_thread * nt;
}

typedef struct {
    fx_block_fn fn;
    const void *problem;
    const fx_plan *plan;
    int64_t b0;
    double *partial;
} fx_range_job;

static void fx_range_block(void *arg, int64_t i)
{
    const fx_range_job *job = (const fx_range_job *)arg;
    const int64_t b = job->b0 + i;
    job->fn(job->problem, job->plan, b, job->partial + b * FX_MAX_OUT);
}

/* Runs blocks [b0, b1) on up to nt threads. Every block writes its own
 * slot of partial, so which thread ran it never shows in a result. */
static void fx_run_range(fx_block_fn fn, const void *problem, const fx_plan *plan,
                         int64_t b0, int64_t b1, int nt, double *partial)
{
    const fx_range_job job = {fn, problem, plan, b0, partial};
    const int64_t n = b1 - b0;
#ifdef _OPENMP
    /* OpenMP's convention for nesting: inside an active parallel region
     * that may not nest further, a call runs on its own thread */
    if (nt > 1 && omp_get_active_level() >= omp_get_max_active_levels()) nt = 1;
    if (nt > 1) {
        fx_threads_used = 1;
        if (fx_runner == FX_RUN_OMP_STATIC) {
#pragma omp parallel for schedule(static) num_threads(nt)
            for (int64_t i = 0; i < n; i++) fx_range_block((void *)&job, i);
            return;
        }
        if (fx_runner == FX_RUN_OMP_DYNAMIC) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
            for (int64_t i = 0; i < n; i++) fx_range_block((void *)&job, i);
            return;
        }
        /* the pool busy with another thread's job: this one runs here */
        if (fx_pool_run(n, nt, fx_range_block, (void *)&job)) return;
    }
#endif
    /* one thread: no OpenMP construct and no pool, safe in a forked child */
    for (int64_t i = 0; i < n; i++) fx_range_block((void *)&job, i);
}

static void fx_combine(const double *partial, int64_t nblocks, int nout, const int *combine,
                       double *result)
{
    for (int k = 0; k < nout; k++) {
        if (combine[k] == FX_SUM) {
            result[k] = fx_pairwise_sum(partial + k, nblocks, FX_MAX_OUT);
        } else {
            for (int64_t b = 0; b < nblocks; b++) {
                double v = partial[b * FX_MAX_OUT + k];
                /* NaN wins, so a NaN anywhere is reported */
                if (v != v || (combine[k] == FX_MIN ? v < result[k] : v > result[k]))
                    result[k] = v;
                if (v != v) break;
            }
        }
    }
}

int fx_run_blocks(fx_block_fn fn, const void *problem, const fx_plan *plan,
                  int64_t nblocks, int64_t work, int nthreads, int nout,
                  const int *combine, double *result)
{
    for (int k = 0; k < nout; k++)
        result[k] = combine[k] == FX_SUM ? 0.0 : combine[k] == FX_MIN ? INFINITY : -INFINITY;
    if (nblocks <= 0) return 0;
    double partial_local[64 * FX_MAX_OUT];
    double *partial = partial_local;
    if (nblocks > 64) {
        partial = (double *)malloc((size_t)nblocks * FX_MAX_OUT * sizeof(double));
        if (partial == NULL) return -1;
    }
    const int nt = fx_threads_for(work, nthreads, nblocks);
    const int64_t step = fx_range_blocks(work, nblocks, nt);
    int rc = 0;
    for (int64_t b0 = 0; b0 < nblocks; b0 += step) {
        if (b0 > 0 && fx_interrupt_hook != NULL && fx_interrupt_hook()) {
            rc = 1;
            break;
        }
        fx_run_range(fn, problem, plan, b0, nblocks - b0 < step ? nblocks : b0 + step, nt,
                     partial);
    }
    if (rc == 0) fx_combine(partial, nblocks, nout, combine, result);
    if (partial != partial_local) free(partial);
    return rc;
}

int64_t fx_rows_per_block(int64_t C)
{
    int64_t rows = C > 0 ? FX_BLOCK_WORK / C : FX_MAX_BLOCK_ROWS;
    if (rows < 1) rows = 1;
    if (rows > FX_MAX_BLOCK_ROWS) rows = FX_MAX_BLOCK_ROWS;
    return rows;
}

int64_t fx_plan_rows(fx_plan *plan, int64_t outer, int64_t C, int64_t inner)
{
    return fx_plan_row_blocks(plan, outer, inner, fx_rows_per_block(C));
}

int64_t fx_plan_row_blocks(fx_plan *plan, int64_t outer, int64_t inner, int64_t rows)
{
    plan->rows_per_block = rows;
    if (inner == 1) {
        plan->per_outer = 0;
        return (outer + rows - 1) / rows;
    }
    plan->per_outer = (inner + rows - 1) / rows;
    return outer * plan->per_outer;
}

static fx_status fx_run(fx_block_fn fn, const void *problem, const fx_plan *plan,
                        int64_t nblocks, int64_t work, int nthreads, int nout,
                        const int *combine, double *result)
{
    const int rc = fx_run_blocks(fn, problem, plan, nblocks, work, nthreads, nout, combine,
                                 result);
    fx_status st = {rc == 0 ? FX_OK : rc > 0 ? FX_INTERRUPTED : FX_NO_MEMORY, -1, -1};
    return st;
}

/* The block functions report their first bad flat index as a double, +inf
 * for none (combined with FX_MIN); this is its only reader. */
static fx_status fx_first_bad(fx_status st, double first, int code, int arg)
{
    if (st.code == FX_OK && first != INFINITY) {
        st.code = code;
        st.arg = arg;
        st.index = (int64_t)first;
    }
    return st;
}

fx_status fx_xent(const fx_xent_problem *p, int dtype, int nthreads, fx_xent_sums *sums)
{
    const int64_t rows = p->outer * p->inner;
    double denom = (double)rows;
    sums->loss = 0.0;
    sums->denom = 0.0;
    if (p->labels != NULL) {
        /* nothing is computed past a bad label */
        int64_t bad = fx_check_labels(p->labels, rows, p->C, p->ignore_index,
                                      p->weight, dtype, &denom);
        if (bad >= 0) {
            fx_status st = {FX_BAD_LABEL, 1, bad};
            return st;
        }
    }
    sums->denom = denom;
    fx_plan plan = {0};
    plan.grad_scale = !p->grad_mean ? 1.0 : denom != 0.0 ? 1.0 / denom : NAN;
    const int64_t nblocks = p->C == 0 ? 0 : fx_plan_rows(&plan, p->outer, p->C, p->inner);
    static const int combine[1] = {FX_SUM};
    const fx_rows_job job = {p->outer, p->C, p->inner, p->x, p->y, p->grad, p->labels,
                             p->loss_out, p->weight, p->smoothing, p->ignore_index, FX_XENT};
    return fx_run(fx_table()->rows_block[dtype], &job, &plan, nblocks, rows * p->C,
                  nthreads, 1, combine, &sums->loss);
}

fx_status fx_softmax(const fx_softmax_problem *p, int dtype, int nthreads)
{
    fx_plan plan = {0};
    plan.grad_scale = 1.0;
    const int64_t nblocks = p->C == 0 ? 0 : fx_plan_rows(&plan, p->outer, p->C, p->inner);
    static const int combine[1] = {FX_SUM};
    double unused;
    const fx_view none = {NULL, 0, 0, 0};
    const fx_rows_job job = {p->outer, p->C, p->inner, p->x, none, p->out, NULL,
                             p->lse_out, NULL, 0.0, 0, p->op};
    return fx_run(fx_table()->rows_block[dtype], &job, &plan, nblocks,
                  p->outer * p->inner * p->C, nthreads, 1, combine, &unused);
}

static double fx_load(const void *a, int dtype, int64_t i)
{
    if (dtype == FX_F16) return (double)fx_f16_to_f32(((const fx_f16 *)a)[i]);
    if (dtype == FX_BF16) return (double)fx_bf16_to_f32(((const fx_bf16 *)a)[i]);
    return dtype == FX_F32 ? (double)((const float *)a)[i] : ((const double *)a)[i];
}

fx_status fx_bce(const fx_bce_problem *p, int dtype, int nthreads, double *loss_sum)
{
    /* the loss sum, the first bad element, and 1 from a block that had no
     * memory for its gather buffers */
    static const int combine[3] = {FX_SUM, FX_MIN, FX_MAX};
    fx_plan plan = {0};
    plan.block = FX_BLOCK_WORK;
    const int64_t nblocks = (p->n + plan.block - 1) / plan.block;
    double res[3];
    fx_status st = fx_run(fx_table()->bce_block[dtype], p, &plan, nblocks, p->n, nthreads,
                          3, combine, res);
    if (st.code == FX_OK && res[2] > 0) st.code = FX_NO_MEMORY;
    *loss_sum = res[0];
    if (st.code == FX_OK && res[1] != INFINITY) {
        /* the first bad element: the probability if it is out of range */
        const double v = fx_load(p->x, dtype, (int64_t)res[1]);
        st = fx_first_bad(st, res[1], FX_OUT_OF_RANGE, (v >= 0.0 && v <= 1.0) ? 1 : 0);
    }
    return st;
}

fx_status fx_info(const fx_info_problem *p, int dtype, int nthreads)
{
    static const int combine[1] = {FX_MIN};
    fx_plan plan = {0};
    const int64_t nblocks = fx_plan_rows(&plan, p->outer, p->C, p->inner);
    double first;
    fx_status st = fx_run(fx_table()->info_block[dtype], p, &plan, nblocks,
                          p->outer * p->inner * p->C, nthreads, 1, combine, &first);
    return fx_first_bad(st, first, FX_NEGATIVE, -1);
}

fx_status fx_logloss(const fx_logloss_problem *p, int dtype, int nthreads,
                     fx_logloss_stats *stats)
{
    static const int combine[4] = {FX_SUM, FX_MIN, FX_MAX, FX_SUM};
    fx_plan plan = {0};
    plan.rows_per_block = fx_rows_per_block(p->K);
    const int64_t nblocks = (p->n + plan.rows_per_block - 1) / plan.rows_per_block;
    double res[4];
    fx_status st = fx_run(fx_table()->logloss_block[dtype], p, &plan, nblocks, p->n * p->K,
                          nthreads, 4, combine, res);
    stats->loss = res[0];
    stats->lo = res[1];
    stats->hi = res[2];
    stats->not_close = res[3];
    return st;
}

void fx_math_eval(int fn, int dtype, const void *in, void *out, int64_t n)
{
    fx_table()->math_eval[dtype](fn, in, out, n);
}
