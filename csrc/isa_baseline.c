/* Kernels for the baseline ISA of the target (SSE2 on x86-64, NEON on
 * AArch64, whatever the compiler defaults to elsewhere). */
#define FX_ISA_SUFFIX baseline
#define FX_VL_BYTES 16
#include "fx_isa_impl.h"
