/* fx_dtype_bf16.h - the template parameters of bfloat16 inputs: stored as
 * fx_bf16 (fx_half.h), computed with float32's parameters; fx_dtype_f16.h
 * documents the storage parameters. */
#include "fx_dtype_f32.h"
#undef FX_S
#undef FX_SBYTES
#undef FX_LD
#undef FX_HALF
#undef FX_SFX
#define FX_S fx_bf16
#define FX_SBYTES 2
#define FX_LD(v) fx_bf16_to_f32(v)
#define FX_WIDEN fx_widen_bf16
#define FX_HALF 1
#define FX_SFX bf16
