/* fx_families.h - every kernel family, instantiated for the dtype whose
 * parameter header (fx_dtype_*.h) was included just before; included by
 * fx_isa_impl.h once per dtype. Adding a family: its template here and its
 * name in FX_KERNELS (fx_isa.h). The parameters are undefined at the end so
 * the next dtype can define them. */
#if !FX_HALF
#include "fx_transpose_tmpl.h"   /* halves use float32's short-row path */
#endif
#include "fx_rows_tmpl.h"
#include "fx_xent_tmpl.h"
#include "fx_softmax_tmpl.h"
#include "fx_math_tmpl.h"
#include "fx_bce_tmpl.h"
#include "fx_info_tmpl.h"
#include "fx_logloss_tmpl.h"
#include "fx_eval_tmpl.h"

#undef FX_T
#undef FX_TBYTES
#undef FX_SFX
#undef FX_TROWS
#undef FX_CHUNK
#undef FX_EXP
#undef FX_EXP_SUM
#undef FX_EXP_SUM_LO
#undef FX_LOG
#undef FX_LOG1P
#undef FX_LOG1P_UNIT
#undef FX_TINY
#undef FX_HUGE
#undef FX_S
#undef FX_SBYTES
#undef FX_LD
#undef FX_WIDEN
#undef FX_HALF
#undef FX_SFX_T
