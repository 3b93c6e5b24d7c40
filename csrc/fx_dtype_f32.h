/* fx_dtype_f32.h - the template parameters of float32 (see fx_families.h).
 *
 * FX_T           the element type; FX_TBYTES its size (for preprocessor tests)
 * FX_SFX         the suffix of every instantiated name (xent_block_f32_<isa>)
 * FX_TROWS       rows per transposed tile of the short-row path (32 KiB buffers)
 * FX_CHUNK       elements per chunk of the blocked online max (16 KiB, half of L1)
 * FX_EXP         exp; FX_EXP_SUM exp of x <= 0 for sums (flushes subnormal results),
 *                0 below FX_EXP_SUM_LO
 * FX_LOG, FX_LOG1P, FX_LOG1P_UNIT   log, log1p, log1p on [0, 1]
 * FX_TINY, FX_HUGE  the smallest normal and the largest finite value
 * FX_S, FX_SBYTES, FX_LD, FX_HALF, FX_SFX_T  storage of the inputs, the
 *                  same as FX_T here (fx_dtype_f16.h documents them)
 */
#define FX_T float
#define FX_TBYTES 4
#define FX_SFX f32
#define FX_S float
#define FX_SBYTES 4
#define FX_LD(v) (v)
#define FX_HALF 0
#define FX_SFX_T f32
#define FX_TROWS 64
#define FX_CHUNK FX_CHUNK_F32
#define FX_EXP fx_exp_f32
#define FX_EXP_SUM fx_exp_nonpos_f32
#define FX_EXP_SUM_LO FX_EXP_NONPOS_LO_F32
#define FX_LOG fx_log_f32
#define FX_LOG1P fx_log1p_f32
#define FX_LOG1P_UNIT fx_log1p_unit_f32
#define FX_TINY 1.17549435e-38f
#define FX_HUGE 3.40282347e+38f
