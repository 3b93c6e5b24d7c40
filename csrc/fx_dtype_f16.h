/* fx_dtype_f16.h - the template parameters of float16 inputs: stored as
 * fx_f16 (fx_half.h), computed with float32's parameters (included below),
 * so a result is bit for bit that of the float32 call on the widened input.
 * fx_dtype_f32.h documents those; the storage ones are
 *
 * FX_S, FX_SBYTES  the type (and size) of the inputs as stored
 * FX_LD(v)         one stored value widened to FX_T
 * FX_WIDEN(d,s,n)  n contiguous stored values widened into d (FX_HALF only)
 * FX_HALF          1 where FX_S is not FX_T
 * FX_SFX_T         the suffix of the instantiation of FX_T's own dtype,
 *                  whose functions on FX_T arrays are reused (float32's
 *                  short-row path)
 */
#include "fx_dtype_f32.h"
#undef FX_S
#undef FX_SBYTES
#undef FX_LD
#undef FX_HALF
#undef FX_SFX
#define FX_S fx_f16
#define FX_SBYTES 2
#define FX_LD(v) fx_f16_to_f32(v)
#define FX_WIDEN fx_widen_f16
#define FX_HALF 1
#define FX_SFX f16
