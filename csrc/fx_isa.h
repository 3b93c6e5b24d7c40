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

typedef void (*fx_math_fn)(int fn, const void *in, void *out, int64_t n);

/* What the driver decides for one call and hands to every block function,
 * never stored in the public problem structs: the block geometry and, for
 * gradients of a mean, the scale found once the labels are checked. */
typedef struct {
    int64_t rows_per_block;  /* row families: rows per block (depends on C only) */
    int64_t per_outer;       /* row families with inner > 1: blocks per outer index */
    int64_t block;           /* element-wise families: elements per block */
    double grad_scale;       /* fx_xent: gradient of the reduction per row loss */
} fx_plan;

/* The threaded runner every kernel family uses: calls fn(problem, plan, b,
 * out) for b in [0, nblocks) on up to nthreads threads (one thread when
 * work, in elements, is small). Each block writes nout doubles to out; they
 * are combined across blocks in block order, pairwise for FX_SUM, so
 * results do not depend on the thread count. Long calls run the blocks in
 * ranges of about FX_RANGE_WORK elements per thread, asking the interrupt
 * hook (fx_api.h) between ranges; the partials of all blocks are kept and
 * combined once at the end, so ranges change no bit. Returns -1 if memory
 * for the per-block results cannot be allocated, 1 if interrupted. */
enum fx_combine { FX_SUM = 0, FX_MIN = 1, FX_MAX = 2 };
#define FX_MAX_OUT 4
typedef void (*fx_block_fn)(const void *problem, const fx_plan *plan, int64_t block,
                            double *out);
int fx_run_blocks(fx_block_fn fn, const void *problem, const fx_plan *plan,
                  int64_t nblocks, int64_t work, int nthreads, int nout,
                  const int *combine, double *result);

/* The kernels of one ISA variant, one per dtype each: the one list of
 * names the tables are generated from (X-macro; fx_isa_impl.h). X(type,
 * name) refers to the instantiated functions name_<dtype>_<isa>. */
#define FX_KERNELS(X)                    \
    X(fx_block_fn, rows_block)           \
    X(fx_math_fn, math_eval)             \
    X(fx_block_fn, bce_block)            \
    X(fx_block_fn, info_block)           \
    X(fx_block_fn, logloss_block)        \
    X(fx_block_fn, eval_block)

/* The dtypes, in enum fx_dtype order: M(arg, suffix) for each. */
#define FX_PER_DTYPE(M, arg) M(arg, f32) M(arg, f64) M(arg, f16) M(arg, bf16)

#define FX_TABLE_FIELD(type, name) type name[FX_DTYPE_COUNT];
typedef struct {
    FX_KERNELS(FX_TABLE_FIELD)
} fx_isa_table;
#undef FX_TABLE_FIELD

extern const fx_isa_table fx_table_baseline;

/* The row kernels' mode: FX_XENT (cross-entropy), or an fx_softmax_op. */
#define FX_XENT 0

/* A row problem as the shared row machinery (fx_rows_tmpl.h) reads it:
 * fx_xent and fx_softmax build one from their problem and hand it to the
 * one row block function, rows_block, with the mode of their family. */
typedef struct {
    int64_t outer, C, inner;
    fx_view x, y, g;         /* y, g: data NULL when absent */
    const int64_t *labels;   /* contiguous over rows, or NULL */
    void *lout;              /* one result per row, contiguous, or NULL */
    const void *weight;      /* per-class weights or NULL */
    double smoothing;
    int64_t ignore_index;
    int mode;                /* FX_XENT or an fx_softmax_op */
} fx_rows_job;

/* Row blocking of an (outer, C, inner) problem; sizes depend on C only. */
int64_t fx_rows_per_block(int64_t C);
/* As fx_plan_rows with a given number of rows per block (fx_eval, whose
 * exact sums let the blocks follow the thread count). */
int64_t fx_plan_row_blocks(fx_plan *plan, int64_t outer, int64_t inner, int64_t rows);
/* The flat index of the first label outside [0, C) and not ignore_index,
 * or -1; *weight_sum: the sum of weight[label] (or the count without
 * weights) over the counted labels, in order in float64. */
int64_t fx_check_labels(const int64_t *labels, int64_t n, int64_t C, int64_t ignore_index,
                        const void *weight, int dtype, double *weight_sum);
/* Plans the row blocks of an (outer, C, inner) problem and returns their
 * count: runs of consecutive outer indices when inner == 1, else runs of
 * inner positions within one outer index, so each block is rows of one
 * stride. fx_row_block gives block b's first row (o, i0) and row count. */
int64_t fx_plan_rows(fx_plan *plan, int64_t outer, int64_t C, int64_t inner);
static inline void fx_row_block(const fx_plan *plan, int64_t outer, int64_t inner,
                                int64_t b, int64_t *o, int64_t *i0, int64_t *n)
{
    /* inline: the row count must not be a variable whose address escapes,
     * or every store of a block function would seem to change it */
    const int64_t rows = plan->rows_per_block;
    if (inner == 1) {
        *o = b * rows;
        *i0 = 0;
        *n = outer - *o < rows ? outer - *o : rows;
    } else {
        *o = b / plan->per_outer;
        *i0 = (b % plan->per_outer) * rows;
        *n = inner - *i0 < rows ? inner - *i0 : rows;
    }
}

/* The offset (in elements) of row (o, i0) of view v, a block's first row
 * (i0 == 0 when inner == 1), and in *row_stride the stride between the
 * rows of one block. */
static inline int64_t fx_row_origin(const fx_view *v, int64_t inner, int64_t o, int64_t i0,
                                    int64_t *row_stride)
{
    *row_stride = inner == 1 ? v->s_outer : v->s_inner;
    return o * v->s_outer + i0 * v->s_inner;
}

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
