/* fx_pool.c - the persistent thread pool of fx_pool.h.
 *
 * Why not OpenMP: a parallel region ends in an implicit barrier that every
 * thread of its team must reach, including one the scheduler has not run
 * yet; nowait removes only the barriers of worksharing constructs inside a
 * region, and tasks (detached or not) are still joined at the region's end.
 * On a machine where another process holds a CPU that barrier costs a
 * time slice (milliseconds) per call. Here the caller claims indices itself
 * and only waits for indices that a running worker has claimed.
 *
 * The claim word holds the job's generation (32 bits), the next index to
 * claim (16) and the job's index count (16), so a claim is one
 * compare-and-swap that checks all three: a worker that read an old
 * generation fails its claim instead of taking an index of the next job.
 * The job's task, argument and base are plain fields: the caller writes
 * them before it publishes the word (release) and not again before every
 * index of the job has finished; a worker reads them only after a
 * successful claim (acquire), which keeps the caller from rewriting them
 * until that index is done. Jobs longer than 65535 indices run as several
 * generations. */
#include "fx_pool.h"

#if (defined(__unix__) || defined(__APPLE__)) && !defined(__STDC_NO_ATOMICS__) \
    && !defined(FX_NO_POOL)
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

#define FX_POOL_MAX_WORKERS 255
#define FX_POOL_CHUNK 65535
/* How long a worker waits actively for the next job before it parks, and a
 * caller for the last claimed indices: back-to-back calls then find their
 * workers awake, and an idle process stops spinning soon. OpenMP's
 * convention holds: OMP_WAIT_POLICY=passive parks at once, active spins
 * for a second; FASTXENT_POOL_SPIN_US sets the worker's time. */
#define FX_POOL_WORKER_SPIN_NS 100000
#define FX_POOL_CALLER_SPIN_NS 50000
static int64_t fx_pool_spin_ns = FX_POOL_WORKER_SPIN_NS;

#define FX_W_GEN(w) ((uint32_t)((w) >> 32))
#define FX_W_NEXT(w) ((uint32_t)((w) >> 16) & 0xffffu)
#define FX_W_COUNT(w) ((uint32_t)(w) & 0xffffu)

static struct {
    _Atomic uint64_t word;      /* generation | next | count */
    _Atomic int64_t done;       /* indices of the current job finished */
    _Atomic int want;           /* workers 0 .. want-1 take part in it */
    _Atomic int sleepers;       /* workers parked on wake */
    _Atomic int caller_parked;  /* the caller is parked on finished */
    _Atomic int nworkers;
    fx_pool_task task;
    void *arg;
    int64_t base;
    pthread_mutex_t lock;       /* for the two condition variables */
    pthread_cond_t wake, finished;
    pthread_mutex_t job;        /* held by the thread whose job runs */
    uint32_t start_gen[FX_POOL_MAX_WORKERS];
} fx_pool = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER,
             .finished = PTHREAD_COND_INITIALIZER, .job = PTHREAD_MUTEX_INITIALIZER};

static inline void fx_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static int64_t fx_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Claims the next index of generation gen: its offset in the job, or -1
 * when that job has none left or is no longer the current one. */
static int64_t fx_pool_claim(uint32_t gen, uint32_t *count)
{
    uint64_t w = atomic_load_explicit(&fx_pool.word, memory_order_acquire);
    for (;;) {
        if (FX_W_GEN(w) != gen || FX_W_NEXT(w) >= FX_W_COUNT(w)) return -1;
        if (atomic_compare_exchange_weak_explicit(&fx_pool.word, &w, w + (1u << 16),
                                                  memory_order_acquire,
                                                  memory_order_acquire)) {
            *count = FX_W_COUNT(w);
            return FX_W_NEXT(w);
        }
    }
}

/* Runs indices of generation gen until none is left to claim. */
static void fx_pool_work(uint32_t gen)
{
    uint32_t count;
    int64_t k = fx_pool_claim(gen, &count);
    if (k < 0) return;
    /* the job cannot change before this index is done */
    const fx_pool_task task = fx_pool.task;
    void *const arg = fx_pool.arg;
    const int64_t base = fx_pool.base;
    do {
        task(arg, base + k);
        const int64_t d = atomic_fetch_add(&fx_pool.done, 1) + 1;
        if (d == count && atomic_load(&fx_pool.caller_parked)) {
            pthread_mutex_lock(&fx_pool.lock);
            pthread_cond_broadcast(&fx_pool.finished);
            pthread_mutex_unlock(&fx_pool.lock);
        }
    } while ((k = fx_pool_claim(gen, &count)) >= 0);
}

/* Waits for a generation other than seen: spins a while, then parks. */
static uint32_t fx_pool_next_job(uint32_t seen)
{
    const int64_t t0 = fx_now_ns();
    for (uint32_t i = 1;; i++) {
        const uint32_t g = FX_W_GEN(atomic_load_explicit(&fx_pool.word, memory_order_acquire));
        if (g != seen) return g;
        fx_cpu_relax();
        if ((i & 255) == 0) {
            if (fx_now_ns() - t0 > fx_pool_spin_ns) break;
            sched_yield();   /* let a thread that shares this CPU run */
        }
    }
    pthread_mutex_lock(&fx_pool.lock);
    atomic_fetch_add(&fx_pool.sleepers, 1);
    uint32_t g;
    while ((g = FX_W_GEN(atomic_load(&fx_pool.word))) == seen)
        pthread_cond_wait(&fx_pool.wake, &fx_pool.lock);
    atomic_fetch_sub(&fx_pool.sleepers, 1);
    pthread_mutex_unlock(&fx_pool.lock);
    return g;
}

static void *fx_pool_worker(void *p)
{
    const int id = (int)(intptr_t)p;
    uint32_t seen = fx_pool.start_gen[id];
    for (;;) {
        seen = fx_pool_next_job(seen);
        if (id < atomic_load_explicit(&fx_pool.want, memory_order_relaxed)) fx_pool_work(seen);
    }
    return NULL;
}

static void fx_pool_read_wait_policy(void)
{
    const char *policy = getenv("OMP_WAIT_POLICY");
    const char *us = getenv("FASTXENT_POOL_SPIN_US");
    if (policy != NULL && strcasecmp(policy, "passive") == 0) fx_pool_spin_ns = 0;
    if (policy != NULL && strcasecmp(policy, "active") == 0) fx_pool_spin_ns = 1000000000;
    if (us != NULL && *us != 0) fx_pool_spin_ns = (int64_t)strtol(us, NULL, 10) * 1000;
}

/* Starts workers up to n (with the job lock held); returns how many run.
 * Workers block every signal: they belong to the thread that raised them. */
static int fx_pool_grow(int n)
{
    if (n > FX_POOL_MAX_WORKERS) n = FX_POOL_MAX_WORKERS;
    int have = atomic_load(&fx_pool.nworkers);
    if (have >= n) return have;
    if (have == 0) fx_pool_read_wait_policy();
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (; have < n; have++) {
        pthread_t t;
        fx_pool.start_gen[have] = FX_W_GEN(atomic_load(&fx_pool.word));
        if (pthread_create(&t, &attr, fx_pool_worker, (void *)(intptr_t)have) != 0) break;
        atomic_store(&fx_pool.nworkers, have + 1);
    }
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return have;
}

/* Waits until count indices of the current job have finished: every index
 * is claimed by now, so this waits only for threads that are running them. */
static void fx_pool_await(int64_t count)
{
    const int64_t t0 = fx_now_ns();
    for (uint32_t i = 1; atomic_load_explicit(&fx_pool.done, memory_order_acquire) < count; i++) {
        fx_cpu_relax();
        if ((i & 255) == 0 && fx_now_ns() - t0 > FX_POOL_CALLER_SPIN_NS) {
            pthread_mutex_lock(&fx_pool.lock);
            atomic_store(&fx_pool.caller_parked, 1);
            while (atomic_load(&fx_pool.done) < count)
                pthread_cond_wait(&fx_pool.finished, &fx_pool.lock);
            atomic_store(&fx_pool.caller_parked, 0);
            pthread_mutex_unlock(&fx_pool.lock);
            return;
        }
    }
}

int fx_pool_available(void)
{
    return 1;
}

int fx_pool_workers(void)
{
    return atomic_load(&fx_pool.nworkers);
}

int fx_pool_run(int64_t n, int nt, fx_pool_task task, void *arg)
{
    if (nt < 2) return 0;
    if (pthread_mutex_trylock(&fx_pool.job) != 0) return 0;
    const int helpers = fx_pool_grow(nt - 1);
    if (helpers == 0) {
        pthread_mutex_unlock(&fx_pool.job);
        return 0;
    }
    for (int64_t base = 0; base < n; base += FX_POOL_CHUNK) {
        const uint32_t count = (uint32_t)(n - base < FX_POOL_CHUNK ? n - base : FX_POOL_CHUNK);
        fx_pool.task = task;
        fx_pool.arg = arg;
        fx_pool.base = base;
        atomic_store_explicit(&fx_pool.done, 0, memory_order_relaxed);
        atomic_store_explicit(&fx_pool.want, helpers, memory_order_relaxed);
        const uint32_t gen = FX_W_GEN(atomic_load(&fx_pool.word)) + 1;
        /* seq_cst: a worker that counted itself a sleeper sees the new
         * generation, or this thread sees the sleeper and wakes it */
        atomic_store(&fx_pool.word, (uint64_t)gen << 32 | count);
        if (atomic_load(&fx_pool.sleepers) > 0) {
            pthread_mutex_lock(&fx_pool.lock);
            pthread_cond_broadcast(&fx_pool.wake);
            pthread_mutex_unlock(&fx_pool.lock);
        }
        fx_pool_work(gen);
        fx_pool_await(count);
    }
    pthread_mutex_unlock(&fx_pool.job);
    return 1;
}

#else   /* no POSIX threads or C11 atomics: the driver uses OpenMP alone */

int fx_pool_available(void)
{
    return 0;
}

int fx_pool_workers(void)
{
    return 0;
}

int fx_pool_run(int64_t n, int nt, fx_pool_task task, void *arg)
{
    (void)n, (void)nt, (void)task, (void)arg;
    return 0;
}

#endif
