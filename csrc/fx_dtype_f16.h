/* fx_dtype_f16.h - the template parameters of float16 inputs: stored as
 * fx_f16 (fx_half.h), computed in float32 with float32's parameters, so a
 * result is bit for bit that of the float32 call on the widened input.
 * fx_dtype_f32.h documents the parameters; the storage ones are
 *
 * FX_S, FX_SBYTES  the type (and size) of the inputs as stored
 * FX_LD(v)         one stored value widened to FX_T
 * FX_WIDEN(d,s,n)  n contiguous stored values widened into d (FX_HALF only)
 * FX_HALF          1 where FX_S is not FX_T
 * FX_SFX_T         the suffix of the instantiation of FX_T's own dtype,
 *                  whose functions on FX_T arrays are reused (the
 *                  transposition of gradient tiles)
 */
#define FX_T float
#define FX_TBYTES 4
#define FX_S fx_f16
#define FX_SBYTES 2
#define FX_LD(v) fx_f16_to_f32(v)
#define FX_WIDEN fx_widen_f16
#define FX_HALF 1
#define FX_SFX f16
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
