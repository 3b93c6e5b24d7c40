/* fx_dtype_f64.h - the template parameters of float64; fx_dtype_f32.h
 * documents each of them. */
#define FX_T double
#define FX_TBYTES 8
#define FX_SFX f64
#define FX_S double
#define FX_SBYTES 8
#define FX_LD(v) (v)
#define FX_HALF 0
#define FX_SFX_T f64
#define FX_TROWS 32
#define FX_CHUNK FX_CHUNK_F64
#define FX_EXP fx_exp_f64
#define FX_EXP_SUM fx_exp_nonpos_f64
#define FX_EXP_SUM_LO FX_EXP_NONPOS_LO_F64
#define FX_LOG fx_log_f64
#define FX_LOG1P fx_log1p_f64
#define FX_LOG1P_UNIT fx_log1p_unit_f64
#define FX_TINY 2.2250738585072014e-308
#define FX_HUGE 1.7976931348623157e+308
