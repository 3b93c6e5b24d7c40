/* fx_dtype_bf16.h - the template parameters of bfloat16 inputs: stored as
 * fx_bf16 (fx_half.h), computed in float32; fx_dtype_f16.h documents the
 * storage parameters, fx_dtype_f32.h the others. */
#define FX_T float
#define FX_TBYTES 4
#define FX_S fx_bf16
#define FX_SBYTES 2
#define FX_LD(v) fx_bf16_to_f32(v)
#define FX_WIDEN fx_widen_bf16
#define FX_HALF 1
#define FX_SFX bf16
#define FX_SFX_T f32
#define FX_TROWS 64
#define FX_CHUNK FX_CHUNK_F32
#define FX_EXP fx_exp_f32
#define FX_EXP_SUM fx_exp_nonpos_f32
#define FX_LOG fx_log_f32
#define FX_LOG1P fx_log1p_f32
#define FX_LOG1P_UNIT fx_log1p_unit_f32
#define FX_TINY 1.17549435e-38f
#define FX_HUGE 3.40282347e+38f
