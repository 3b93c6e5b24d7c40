/* Template (per dtype): applies a vector math function to a contiguous
 * array. Used by the accuracy tests of fx_math.h for each ISA variant. */

static void FX_FN(math_eval)(int fn, const void *in, void *out, int64_t n)
{
    const FX_T *a = (const FX_T *)in;
    FX_T *b = (FX_T *)out;
    if (fn == 0) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) b[i] = FX_EXP(a[i]);
    } else if (fn == 1) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) b[i] = FX_LOG(a[i]);
    } else if (fn == 2) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) b[i] = FX_LOG1P(a[i]);
    } else if (fn == 3) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) b[i] = FX_EXP_SUM(a[i]);
    } else {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) b[i] = FX_LOG1P_UNIT(a[i]);
    }
}

