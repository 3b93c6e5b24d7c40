/* fx_isa_impl.h - body of one ISA variant. Included once by each isa_*.c
 * with FX_ISA_SUFFIX defined and the target set, so every static inline
 * helper below is compiled (and inlined) for that ISA.
 *
 * Every instantiated function is named FX_FN(name) = name_<dtype>_<isa>
 * (xent_block_f32_avx512), so a profile tells which dtype and ISA ran. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "fx_isa.h"
#include "fx_math.h"
#include "fx_eval.h"
#include "fx_half.h"

#define FX_FN(name) FX_CAT(FX_CAT(FX_CAT(name, _), FX_SFX), FX_CAT(_, FX_ISA_SUFFIX))

/* rows handled together by one vector log in the row kernel */
#define FX_GROUP 16

/* contiguous rows up to this many classes take the across-rows path, in
 * tiles of FX_TROWS rows transposed into buffers (32 KiB each) */
#ifndef FX_SMALL_C
#define FX_SMALL_C 128
#endif

/* one parameter header and one instantiation per dtype (FX_PER_DTYPE) */
#include "fx_dtype_f32.h"
#include "fx_families.h"
#include "fx_dtype_f64.h"
#include "fx_families.h"
#include "fx_dtype_f16.h"
#include "fx_families.h"
#include "fx_dtype_bf16.h"
#include "fx_families.h"

/* The table of this ISA, generated from FX_KERNELS x FX_PER_DTYPE. */
#define FX_TABLE_NAME(name, sfx) FX_CAT(FX_CAT(FX_CAT(name, _), sfx), FX_CAT(_, FX_ISA_SUFFIX)),
#define FX_TABLE_ROW(type, name) .name = {FX_PER_DTYPE(FX_TABLE_NAME, name)},
const fx_isa_table FX_CAT(fx_table_, FX_ISA_SUFFIX) = {FX_KERNELS(FX_TABLE_ROW)};
#undef FX_TABLE_ROW
#undef FX_TABLE_NAME
