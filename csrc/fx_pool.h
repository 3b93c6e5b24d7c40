/* fx_pool.h - a small persistent thread pool that never makes its caller
 * wait for a thread that has not started.
 *
 * fx_pool_run(n, nt, task, arg) runs task(arg, i) once for every i in
 * [0, n) on the calling thread and up to nt - 1 pool workers. Indices are
 * claimed one at a time from a shared counter, the caller claiming too;
 * once every index is claimed the caller waits only for the ones another
 * thread has claimed and not yet finished. A worker that wakes after that
 * finds nothing to claim and does nothing: a job is identified by a
 * generation number, and a claim names the generation it is for, so a late
 * worker can never take an index of a later job.
 *
 * One job runs at a time. A caller that finds the pool busy (another thread
 * of the process is running a job) gets 0 back and runs its indices itself;
 * 1 means the indices have all been run. Which thread runs an index never
 * matters to fastxent's results (each block writes its own slot). */
#ifndef FX_POOL_H
#define FX_POOL_H
#include <stdint.h>

typedef void (*fx_pool_task)(void *arg, int64_t i);

/* 1 where this build has the pool (POSIX threads and C11 atomics). */
int fx_pool_available(void);
/* nt >= 2. Returns 1 when every index has run, 0 when nothing ran (the pool
 * is busy with another thread's job, or is unavailable). */
int fx_pool_run(int64_t n, int nt, fx_pool_task task, void *arg);
/* Workers started so far (for tests). */
int fx_pool_workers(void);

#endif
