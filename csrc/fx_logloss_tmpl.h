/* fx_logloss_tmpl.h - scikit-learn's log loss, one instance per dtype and
 * ISA. Template parameters: fx_dtype_f32.h lists them.
 *
 * One gather per row (the true class's probability), plus the
 * row's sum and range for scikit-learn's checks, in the same read.
 */

static void FX_FN(logloss_block)(const void *vp, const fx_plan *plan, int64_t b, double *out)
{
    const fx_logloss_problem *p = (const fx_logloss_problem *)vp;
    const int64_t r0 = b * plan->rows_per_block;
    const int64_t r1 = r0 + plan->rows_per_block < p->n ? r0 + plan->rows_per_block : p->n;
    const FX_S *P = (const FX_S *)p->prob.data;
    const FX_T *SW = (const FX_T *)p->sw;
    const int64_t K = p->K;
    const double eps = p->eps;
    double total = 0.0, lo = INFINITY, hi = -INFINITY, not_close = 0.0;
    for (int64_t r = r0; r < r1; r++) {
        const FX_S *pr = P + r * p->prob.s_outer;
        FX_T mn = FX_LD(pr[0]), mx = FX_LD(pr[0]), sum = 0;
        FX_T has_nan = 0;
        if (p->prob.s_class == 1) {
#pragma omp simd reduction(min : mn) reduction(max : mx) reduction(+ : sum, has_nan)
            for (int64_t c = 0; c < K; c++) {
                FX_T v = FX_LD(pr[c]);
                mn = v < mn ? v : mn;
                mx = v > mx ? v : mx;
                has_nan += v != v ? (FX_T)1 : (FX_T)0;
                sum += v;
            }
        } else {
            for (int64_t c = 0; c < K; c++) {
                FX_T v = FX_LD(pr[c * p->prob.s_class]);
                mn = v < mn ? v : mn;
                mx = v > mx ? v : mx;
                has_nan += v != v ? (FX_T)1 : (FX_T)0;
                sum += v;
            }
        }
        if (has_nan) { lo = NAN; hi = NAN; }
        else {
            if ((double)mn < lo) lo = (double)mn;
            if ((double)mx > hi) hi = (double)mx;
        }
        if (K > 1 && !(fabs((double)sum - 1.0) <= p->atol + p->rtol)) not_close += 1.0;
        const int64_t col = p->col[r];
        if (col < 0) continue;
        double v = K == 1 ? (col == 1 ? (double)FX_LD(pr[0]) : 1.0 - (double)FX_LD(pr[0]))
                          : (double)FX_LD(pr[col * p->prob.s_class]);
        v = v < eps ? eps : v;
        v = v > 1.0 - eps ? 1.0 - eps : v;
        double l = -log(v);
        if (SW != NULL) l *= (double)SW[r];
        total += l;
    }
    out[0] = total;
    out[1] = lo;
    out[2] = hi;
    out[3] = not_close;
}

