/* fx_isa_impl.h - body of one ISA variant. Included once by each isa_*.c
 * with FX_ISA_SUFFIX defined and the target set, so every static inline
 * helper below is compiled (and inlined) for that ISA. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "fx_isa.h"
#include "fx_math.h"
#include "fx_eval.h"

/* rows handled together by one vector log in the row kernel */
#define FX_GROUP 16

/* contiguous rows up to this many classes take the across-rows path, in
 * tiles of FX_TROWS rows transposed into buffers (32 KiB each) */
#ifndef FX_SMALL_C
#define FX_SMALL_C 128
#endif

#define FX_T float
#define FX_TBYTES 4
#define FX_TROWS 64
#define FX_SFX f32
#define FX_EXP fx_exp_f32
#define FX_EXP_SUM fx_exp_nonpos_f32
#define FX_LOG fx_log_f32
#define FX_LOG1P fx_log1p_f32
#define FX_LOG1P_UNIT fx_log1p_unit_f32
#define FX_CHUNK FX_CHUNK_F32
#define FX_TINY 1.17549435e-38f
#define FX_HUGE 3.40282347e+38f
#include "fx_transpose_tmpl.h"
#include "fx_xent_tmpl.h"
#include "fx_math_tmpl.h"
#include "fx_binary_tmpl.h"
#include "fx_info_tmpl.h"
#include "fx_eval_tmpl.h"
#undef FX_T
#undef FX_TBYTES
#undef FX_TROWS
#undef FX_SFX
#undef FX_EXP
#undef FX_EXP_SUM
#undef FX_LOG
#undef FX_LOG1P
#undef FX_LOG1P_UNIT
#undef FX_CHUNK
#undef FX_TINY
#undef FX_HUGE

#define FX_T double
#define FX_TBYTES 8
#define FX_TROWS 32
#define FX_SFX f64
#define FX_EXP fx_exp_f64
#define FX_EXP_SUM fx_exp_nonpos_f64
#define FX_LOG fx_log_f64
#define FX_LOG1P fx_log1p_f64
#define FX_LOG1P_UNIT fx_log1p_unit_f64
#define FX_CHUNK FX_CHUNK_F64
#define FX_TINY 2.2250738585072014e-308
#define FX_HUGE 1.7976931348623157e+308
#include "fx_transpose_tmpl.h"
#include "fx_xent_tmpl.h"
#include "fx_math_tmpl.h"
#include "fx_binary_tmpl.h"
#include "fx_info_tmpl.h"
#include "fx_eval_tmpl.h"
#undef FX_T
#undef FX_TBYTES
#undef FX_TROWS
#undef FX_SFX
#undef FX_EXP
#undef FX_EXP_SUM
#undef FX_LOG
#undef FX_LOG1P
#undef FX_LOG1P_UNIT
#undef FX_CHUNK
#undef FX_TINY
#undef FX_HUGE

const fx_isa_table FX_CAT(fx_table_, FX_ISA_SUFFIX) = {
    {xent_block_f32, xent_block_f64},
    {math_eval_f32, math_eval_f64},
    {bce_block_f32, bce_block_f64},
    {info_block_f32, info_block_f64},
    {logloss_block_f32, logloss_block_f64},
    {eval_block_f32, eval_block_f64},
};
