/* fx_isa.h - what each ISA variant of the kernels exports to the driver. */
#ifndef FX_ISA_H
#define FX_ISA_H

#include "fx_api.h"

/* x86 builds get AVX2 and AVX-512 variants next to the baseline when the
 * compiler understands target pragmas (GCC, Clang); others build the
 * baseline only. */
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__)) \
    && !defined(FX_NO_DISPATCH)
#define FX_X86_DISPATCH 1
#endif

/* Loss sum of the rows of one block: rows (o, i0 .. i0+n) when inner > 1,
 * rows (o .. o+n, 0) when inner == 1. */
typedef double (*fx_xent_block_fn)(const fx_xent_problem *p, int64_t o,
                                   int64_t i0, int64_t n);
typedef void (*fx_math_fn)(int fn, const void *in, void *out, int64_t n);

/* The threaded runner every kernel family uses: calls fn(problem, b, out)
 * for b in [0, nblocks) on up to nthreads threads (one thread when work, in
 * elements, is small). Each block writes nout doubles to out; they are
 * combined across blocks in block order, pairwise for FX_SUM, so results do
 * not depend on the thread count. Returns -1 if memory for the per-block
 * results cannot be allocated. */
enum fx_combine { FX_SUM = 0, FX_MIN = 1, FX_MAX = 2 };
#define FX_MAX_OUT 4
typedef void (*fx_block_fn)(const void *problem, int64_t block, double *out);
int fx_run_blocks(fx_block_fn fn, const void *problem, int64_t nblocks,
                  int64_t work, int nthreads, int nout, const int *combine,
                  double *result);

typedef struct {
    fx_xent_block_fn xent_block[2];   /* indexed by fx_dtype */
    fx_math_fn math[2];
    fx_block_fn bce_block[2];
    fx_block_fn info_block[2];
    fx_block_fn logloss_block[2];
    fx_block_fn eval_block[2];
} fx_isa_table;

extern const fx_isa_table fx_table_baseline;

/* Row blocking of an (outer, C, inner) problem; sizes depend on C only. */
int64_t fx_rows_per_block(int64_t C);
int64_t fx_row_blocks(int64_t outer, int64_t inner, int64_t rows_per_block,
                      int64_t *per_outer);
void fx_row_block(int64_t outer, int64_t inner, int64_t rows_per_block,
                  int64_t per_outer, int64_t b, int64_t *o, int64_t *i0, int64_t *n);

/* The table of the ISA level in use. */
const fx_isa_table *fx_table(void);
#if defined(FX_X86_DISPATCH)
extern const fx_isa_table fx_table_avx2;
extern const fx_isa_table fx_table_avx512;
#endif

/* Row chunk of the blocked online max (elements): 16 KiB, half of L1. */
#define FX_CHUNK_F32 4096
#define FX_CHUNK_F64 2048

#define FX_CAT_(a, b) a##b
#define FX_CAT(a, b) FX_CAT_(a, b)

#endif
