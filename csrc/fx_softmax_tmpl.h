/* fx_softmax_tmpl.h - logsumexp, log_softmax and softmax along an axis, one
 * instance per dtype. Template parameters: FX_T, FX_SFX, FX_EXP, FX_CHUNK.
 *
 * Row conventions: logsumexp is NaN if the row has a NaN, else +inf if it
 * has a +inf, else -inf if it is all -inf (or empty). log_softmax and
 * softmax are NaN throughout a row whose logsumexp is not finite.
 */
#define FX_FN(name) FX_CAT(name, FX_CAT(_, FX_SFX))

/* logsumexp of a contiguous row, reading it once from memory (blocked
 * online max). If `e` is given, exp(x - shift_k) of each chunk k is stored
 * there and shift_k in shifts[k], for softmax to rescale afterwards.
 * *m_out and *logs_out receive the row maximum m and log(sum exp(x - m)):
 * log_softmax is (x - m) - logs, never x - (m + logs), which loses logs
 * entirely when |m| is large (rows of 1e30 gave softmax [1, 1, 1]). */
static double FX_FN(lse_row)(const FX_T *x, int64_t C, FX_T *e, FX_T *shifts,
                             double *m_out, double *logs_out)
{
    double s = 0.0;
    FX_T m = -(FX_T)INFINITY, shift = 0;
    for (int64_t c0 = 0, kk = 0; c0 < C; c0 += FX_CHUNK, kk++) {
        const int64_t n = C - c0 < FX_CHUNK ? C - c0 : FX_CHUNK;
        const FX_T *xc = x + c0;
        FX_T cm = xc[0];
#pragma omp simd reduction(max : cm)
        for (int64_t j = 0; j < n; j++) cm = xc[j] > cm ? xc[j] : cm;
        if (cm > m) {
            if (m > -(FX_T)INFINITY) s *= exp((double)shift - (double)cm);
            m = cm;
            shift = cm;
        }
        /* summed in double: the maximum contributes exactly 1, and a float32
         * sum 1 + small keeps only ~6e-8 of `small`, so log(s) lost up to
         * 7e-5 of its value for logsumexp([0, -7]) */
        double cs = 0.0;
        if (e != NULL) {
            FX_T *ec = e + c0;
#pragma omp simd reduction(+ : cs)
            for (int64_t j = 0; j < n; j++) {
                FX_T v = FX_EXP(xc[j] - shift);
                ec[j] = v;
                cs += (double)v;
            }
            shifts[kk] = shift;
        } else {
#pragma omp simd reduction(+ : cs)
            for (int64_t j = 0; j < n; j++) cs += (double)FX_EXP(xc[j] - shift);
        }
        s += cs;
    }
    if (m == (FX_T)INFINITY) {
        /* +inf dominates unless a NaN is present */
        for (int64_t c = 0; c < C; c++)
            if (x[c] != x[c]) return NAN;
        return INFINITY;
    }
    *m_out = (double)shift;
    *logs_out = log(s);
    return (double)shift + *logs_out;
}

/* Same for a strided row (scalar loop; used for class axes that are not
 * the last one). */
static double FX_FN(lse_row_strided)(const FX_T *x, int64_t C, int64_t cs,
                                     double *m_out, double *logs_out)
{
    FX_T m = -(FX_T)INFINITY;
    int has_nan = 0;
    for (int64_t c = 0; c < C; c++) {
        FX_T v = x[c * cs];
        has_nan |= v != v;
        m = v > m ? v : m;
    }
    if (has_nan) return NAN;
    if (m == (FX_T)INFINITY) return INFINITY;
    if (m == -(FX_T)INFINITY) return -INFINITY;
    double s = 0.0;
    for (int64_t c = 0; c < C; c++) s += (double)FX_EXP(x[c * cs] - m);
    *m_out = (double)m;
    *logs_out = log(s);
    return (double)m + *logs_out;
}

static void FX_FN(softmax_block)(const void *vp, int64_t b, double *out)
{
    const fx_softmax_problem *p = (const fx_softmax_problem *)vp;
    int64_t o, i0, n;
    fx_row_block(p->outer, p->inner, p->rows_per_block, p->per_outer, b, &o, &i0, &n);
    const int64_t C = p->C;
    int64_t r0, xrs, ors;
    const FX_T *x;
    FX_T *y = (FX_T *)p->out;
    if (p->inner == 1) {
        r0 = o;
        x = (const FX_T *)p->x + o * p->xs_outer;
        xrs = p->xs_outer;
        ors = p->os_outer;
        if (p->mode != FX_LOGSUMEXP) y += o * p->os_outer;
    } else {
        r0 = o * p->inner + i0;
        x = (const FX_T *)p->x + o * p->xs_outer + i0 * p->xs_inner;
        xrs = p->xs_inner;
        ors = p->os_inner;
        if (p->mode != FX_LOGSUMEXP) y += o * p->os_outer + i0 * p->os_inner;
    }
    const int64_t xcs = p->xs_class, ocs = p->os_class;
    const int64_t nchunks = (C + FX_CHUNK - 1) / FX_CHUNK;
    FX_T shifts_local[64];
    FX_T *shifts = shifts_local;
    if (p->mode == FX_SOFTMAX && nchunks > 64) {
        shifts = (FX_T *)malloc((size_t)nchunks * sizeof(FX_T));
        if (shifts == NULL) { out[0] = 1.0; return; }
    }
    for (int64_t j = 0; j < n; j++) {
        const FX_T *xr = x + j * xrs;
        double m = 0.0, logs = 0.0;
        if (p->mode == FX_LOGSUMEXP) {
            double lse = xcs == 1 ? FX_FN(lse_row)(xr, C, NULL, NULL, &m, &logs)
                                  : FX_FN(lse_row_strided)(xr, C, xcs, &m, &logs);
            y[r0 + j] = (FX_T)lse;
            continue;
        }
        FX_T *yr = y + j * ors;
        const int contiguous = xcs == 1 && ocs == 1;
        if (p->mode == FX_SOFTMAX && contiguous) {
            double lse = FX_FN(lse_row)(xr, C, yr, shifts, &m, &logs);
            if (!isfinite(lse)) {
                for (int64_t c = 0; c < C; c++) yr[c] = (FX_T)NAN;
                continue;
            }
            for (int64_t c0 = 0, kk = 0; c0 < C; c0 += FX_CHUNK, kk++) {
                const int64_t nn = C - c0 < FX_CHUNK ? C - c0 : FX_CHUNK;
                const FX_T f = (FX_T)exp(((double)shifts[kk] - m) - logs);
                FX_T *yc = yr + c0;
#pragma omp simd
                for (int64_t c = 0; c < nn; c++) yc[c] *= f;
            }
            continue;
        }
        double lse = xcs == 1 ? FX_FN(lse_row)(xr, C, NULL, NULL, &m, &logs)
                              : FX_FN(lse_row_strided)(xr, C, xcs, &m, &logs);
        if (!isfinite(lse)) {
            for (int64_t c = 0; c < C; c++) yr[c * ocs] = (FX_T)NAN;
            continue;
        }
        /* (x - m) - logs in double: x - lse would round away logs for large
         * |m|, and rounding lse to float32 first would cost up to half an
         * ulp of |lse| (5e-4 at |x| ~ 1e4) in every output */
        if (p->mode == FX_LOG_SOFTMAX) {
            if (contiguous) {
#pragma omp simd
                for (int64_t c = 0; c < C; c++) yr[c] = (FX_T)(((double)xr[c] - m) - logs);
            } else {
                for (int64_t c = 0; c < C; c++)
                    yr[c * ocs] = (FX_T)(((double)xr[c * xcs] - m) - logs);
            }
        } else {
            for (int64_t c = 0; c < C; c++)
                yr[c * ocs] = FX_EXP((FX_T)(((double)xr[c * xcs] - m) - logs));
        }
    }
    if (shifts != shifts_local) free(shifts);
    out[0] = 0.0;
}

#undef FX_FN
