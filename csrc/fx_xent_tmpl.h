/* fx_xent_tmpl.h - softmax cross-entropy kernels, one instance per dtype.
 * Template parameters: FX_T (float/double), FX_SFX, FX_EXP, FX_CHUNK.
 *
 * Every row loss is written as a sum of non-negative terms,
 *
 *     loss = A log(s) + sum_c v_c (m - x_c),   s = sum_c exp(x_c - m),
 *
 * with m the row maximum, v_c the effective target weight of class c and
 * A = sum_c v_c, so no cancellation occurs however confident the row is:
 *   index target y:     v = (1-eps) w_y onehot(y) + (eps/C) w
 *   soft target t:      v = ((1-eps) t + eps/C) w
 * and the gradient of the row loss is A softmax(x) - v.
 */
#define FX_FN(name) FX_CAT(name, FX_CAT(_, FX_SFX))

typedef struct {
    int64_t C;
    const FX_T *w;       /* class weights or NULL */
    double eps, eps_c;   /* smoothing and smoothing / C */
    double gsc;          /* gradient scale of the reduction */
    int64_t ignore_index;
} FX_FN(xent_ctx);

/* Row loss from its accumulated statistics (see the header comment).
 * tacc = sum v_c (shift - x_c) of the smoothing/soft part, aacc = sum v_c of
 * that part; for index targets the onehot part is added here. Returns the
 * total effective weight A in *a_out for the gradient. */
static inline double FX_FN(xent_finish)(const FX_FN(xent_ctx) *k, int soft,
                                        double ls, double shift, double tacc,
                                        double aacc, double xy, double wy,
                                        double *a_out)
{
    if (soft) {
        *a_out = aacc;
        return aacc * ls + tacc;
    }
    /* a zero coefficient contributes exactly 0, even against -inf logits */
    double a = (1.0 - k->eps) * wy;
    double loss = a == 0.0 ? 0.0 : a * (ls + (shift - xy));
    if (k->eps > 0.0) {
        loss += k->eps_c * (aacc * ls + tacc);
        a += k->eps_c * aacc;
    }
    *a_out = a;
    return loss;
}

/* One row with contiguous classes (x, y, g all unit class stride).
 * Blocked online max: each chunk is scanned for its max, then summed while
 * it is in L1; a larger max rescales the running sums once per chunk, so a
 * long row is read from memory once. With a gradient, exp(x - shift) is
 * stored in g during the sum and rescaled by exp(shift - lse) afterwards
 * (one exp per logit). */
static double FX_FN(xent_row)(const FX_FN(xent_ctx) *k, const FX_T *x,
                              const FX_T *y, int64_t label, FX_T *g)
{
    const int64_t C = k->C;
    const FX_T *w = k->w;
    const int soft = y != NULL;
    const int need_t = soft || k->eps > 0.0;
    const FX_T one_m_eps = (FX_T)(1.0 - k->eps), eps_c = (FX_T)k->eps_c;
    const int64_t nchunks = (C + FX_CHUNK - 1) / FX_CHUNK;
    FX_T shifts_local[64];
    FX_T *shifts = shifts_local;
    if (g != NULL && nchunks > 64) {
        shifts = (FX_T *)malloc((size_t)nchunks * sizeof(FX_T));
        if (shifts == NULL) {   /* cannot happen in practice: tiny request */
            for (int64_t c = 0; c < C; c++) g[c] = (FX_T)NAN;
            return NAN;
        }
    }
    double s = 0.0, tacc = 0.0, aacc = 0.0;
    FX_T m = -(FX_T)INFINITY, shift = 0;
    for (int64_t c0 = 0, kk = 0; c0 < C; c0 += FX_CHUNK, kk++) {
        const int64_t n = C - c0 < FX_CHUNK ? C - c0 : FX_CHUNK;
        const FX_T *xc = x + c0;
        FX_T cm = xc[0];
#pragma omp simd reduction(max : cm)
        for (int64_t j = 0; j < n; j++) cm = xc[j] > cm ? xc[j] : cm;
        if (cm > m) {
            /* while only -inf was seen, sums are 0 or non-finite: keep them */
            if (m > -(FX_T)INFINITY) {
                s *= exp((double)shift - (double)cm);
                tacc += aacc * ((double)cm - (double)shift);
            }
            m = cm;
            shift = cm;
        }
        FX_T cs = 0;
        if (g != NULL) {
            FX_T *gc = g + c0;
#pragma omp simd reduction(+ : cs)
            for (int64_t j = 0; j < n; j++) {
                FX_T e = FX_EXP(xc[j] - shift);
                gc[j] = e;
                cs += e;
            }
            shifts[kk] = shift;
        } else {
#pragma omp simd reduction(+ : cs)
            for (int64_t j = 0; j < n; j++) cs += FX_EXP(xc[j] - shift);
        }
        s += (double)cs;
        if (need_t) {
            FX_T ct = 0, ca = 0;
            if (soft) {
                const FX_T *yc = y + c0;
                if (w != NULL) {
                    const FX_T *wc = w + c0;
#pragma omp simd reduction(+ : ct, ca)
                    for (int64_t j = 0; j < n; j++) {
                        FX_T v = (one_m_eps * yc[j] + eps_c) * wc[j];
                        ca += v;
                        ct += v == 0 ? 0 : v * (shift - xc[j]);
                    }
                } else {
#pragma omp simd reduction(+ : ct, ca)
                    for (int64_t j = 0; j < n; j++) {
                        FX_T v = one_m_eps * yc[j] + eps_c;
                        ca += v;
                        ct += v == 0 ? 0 : v * (shift - xc[j]);
                    }
                }
            } else if (w != NULL) {
                const FX_T *wc = w + c0;
#pragma omp simd reduction(+ : ct, ca)
                for (int64_t j = 0; j < n; j++) {
                    ca += wc[j];
                    ct += wc[j] == 0 ? 0 : wc[j] * (shift - xc[j]);
                }
            } else {
#pragma omp simd reduction(+ : ct)
                for (int64_t j = 0; j < n; j++) ct += shift - xc[j];
                ca = (FX_T)n;
            }
            tacc += (double)ct;
            aacc += (double)ca;
        }
    }

    double loss, a;
    if (!(m > -(FX_T)INFINITY)) {
        /* all -inf (or NaN): log-softmax is NaN, like -inf - (-inf) */
        loss = NAN;
        a = NAN;
    } else {
        double xy = soft ? 0.0 : (double)x[label];
        double wy = (!soft && w != NULL) ? (double)w[label] : 1.0;
        loss = FX_FN(xent_finish)(k, soft, log(s), (double)shift, tacc, aacc,
                                  xy, wy, &a);
    }
    if (g != NULL) {
        const double lse = (double)shift + log(s);
        const FX_T b = (FX_T)k->gsc;
        for (int64_t c0 = 0, kk = 0; c0 < C; c0 += FX_CHUNK, kk++) {
            const int64_t n = C - c0 < FX_CHUNK ? C - c0 : FX_CHUNK;
            const FX_T sc = (FX_T)(k->gsc * a * exp((double)shifts[kk] - lse));
            FX_T *gc = g + c0;
            if (soft) {
                const FX_T *yc = y + c0;
                if (w != NULL) {
                    const FX_T *wc = w + c0;
#pragma omp simd
                    for (int64_t j = 0; j < n; j++)
                        gc[j] = sc * gc[j] - b * ((one_m_eps * yc[j] + eps_c) * wc[j]);
                } else {
#pragma omp simd
                    for (int64_t j = 0; j < n; j++)
                        gc[j] = sc * gc[j] - b * (one_m_eps * yc[j] + eps_c);
                }
            } else if (k->eps > 0.0) {
                if (w != NULL) {
                    const FX_T *wc = w + c0;
#pragma omp simd
                    for (int64_t j = 0; j < n; j++) gc[j] = sc * gc[j] - b * (eps_c * wc[j]);
                } else {
                    const FX_T bc = b * eps_c;
#pragma omp simd
                    for (int64_t j = 0; j < n; j++) gc[j] = sc * gc[j] - bc;
                }
            } else {
#pragma omp simd
                for (int64_t j = 0; j < n; j++) gc[j] = sc * gc[j];
            }
        }
        if (!soft) {
            double wy = w != NULL ? (double)w[label] : 1.0;
            g[label] -= (FX_T)(k->gsc * (1.0 - k->eps) * wy);
        }
        if (shifts != shifts_local) free(shifts);
    }
    return loss;
}

#define FX_TILE 32

/* Rows of any strides, vectorised across FX_TILE rows at a time: the class
 * loop is outside, the row loop inside. Serves PyTorch's (N, C, d...) layout
 * (row stride 1), class axes that are not last, and mixed layouts. */
static double FX_FN(xent_rows_strided)(
    const FX_FN(xent_ctx) *k, int64_t n,
    const FX_T *x, int64_t xrs, int64_t xcs,
    const FX_T *y, int64_t yrs, int64_t ycs,
    const int64_t *lab, FX_T *lout,
    FX_T *g, int64_t grs, int64_t gcs)
{
    const int64_t C = k->C;
    const FX_T *w = k->w;
    const int soft = y != NULL;
    const int need_t = soft || k->eps > 0.0;
    const FX_T one_m_eps = (FX_T)(1.0 - k->eps), eps_c = (FX_T)k->eps_c;
    double total = 0.0;
    for (int64_t t0 = 0; t0 < n; t0 += FX_TILE) {
        const int64_t nt = n - t0 < FX_TILE ? n - t0 : FX_TILE;
        const FX_T *xt = x + t0 * xrs;
        FX_T m[FX_TILE];
        double s[FX_TILE], tacc[FX_TILE], aacc[FX_TILE], lse[FX_TILE], av[FX_TILE];
        for (int64_t j = 0; j < nt; j++) {
            m[j] = -(FX_T)INFINITY;
            s[j] = tacc[j] = aacc[j] = 0.0;
        }
        for (int64_t c = 0; c < C; c++) {
#pragma omp simd
            for (int64_t j = 0; j < nt; j++) {
                FX_T v = xt[j * xrs + c * xcs];
                m[j] = v > m[j] ? v : m[j];
            }
        }
        for (int64_t c = 0; c < C; c++) {
#pragma omp simd
            for (int64_t j = 0; j < nt; j++)
                s[j] += (double)FX_EXP(xt[j * xrs + c * xcs] - m[j]);
        }
        if (need_t) {
            for (int64_t c = 0; c < C; c++) {
                const FX_T wc = w != NULL ? w[c] : (FX_T)1;
                if (soft) {
                    const FX_T *yt = y + t0 * yrs + c * ycs;
#pragma omp simd
                    for (int64_t j = 0; j < nt; j++) {
                        FX_T v = (one_m_eps * yt[j * yrs] + eps_c) * wc;
                        aacc[j] += (double)v;
                        tacc[j] += v == 0 ? 0.0 : (double)(v * (m[j] - xt[j * xrs + c * xcs]));
                    }
                } else {
#pragma omp simd
                    for (int64_t j = 0; j < nt; j++) {
                        aacc[j] += (double)wc;
                        tacc[j] += wc == 0 ? 0.0 : (double)(wc * (m[j] - xt[j * xrs + c * xcs]));
                    }
                }
            }
        }
        for (int64_t j = 0; j < nt; j++) {
            const int64_t r = t0 + j;
            double loss;
            if (!soft && lab[r] == k->ignore_index) {
                loss = 0.0;
                av[j] = 0.0;
            } else if (!(m[j] > -(FX_T)INFINITY)) {
                loss = NAN;
                av[j] = NAN;
            } else {
                const int64_t yl = soft ? 0 : lab[r];
                double xy = soft ? 0.0 : (double)xt[j * xrs + yl * xcs];
                double wy = (!soft && w != NULL) ? (double)w[yl] : 1.0;
                loss = FX_FN(xent_finish)(k, soft, log(s[j]), (double)m[j], tacc[j],
                                          aacc[j], xy, wy, &av[j]);
            }
            lse[j] = (double)m[j] + log(s[j]);
            if (lout != NULL) lout[r] = (FX_T)loss;
            total += loss;
        }
        if (g != NULL) {
            FX_T gt_a[FX_TILE], gt_l[FX_TILE];
            for (int64_t j = 0; j < nt; j++) {
                gt_a[j] = (FX_T)(k->gsc * av[j]);
                gt_l[j] = (FX_T)lse[j];
            }
            const FX_T b = (FX_T)k->gsc;
            FX_T *gtile = g + t0 * grs;
            for (int64_t c = 0; c < C; c++) {
                const FX_T wc = w != NULL ? w[c] : (FX_T)1;
                const FX_T *xc = xt + c * xcs;
                FX_T *gc = gtile + c * gcs;
                if (soft) {
                    const FX_T *yc = y + t0 * yrs + c * ycs;
#pragma omp simd
                    for (int64_t j = 0; j < nt; j++)
                        gc[j * grs] = gt_a[j] * FX_EXP(xc[j * xrs] - gt_l[j])
                                      - b * ((one_m_eps * yc[j * yrs] + eps_c) * wc);
                } else {
                    const FX_T bc = b * eps_c * wc;
#pragma omp simd
                    for (int64_t j = 0; j < nt; j++)
                        gc[j * grs] = gt_a[j] * FX_EXP(xc[j * xrs] - gt_l[j]) - bc;
                }
            }
            if (!soft) {
                for (int64_t j = 0; j < nt; j++) {
                    const int64_t r = t0 + j;
                    FX_T *gr = gtile + j * grs;
                    if (lab[r] == k->ignore_index) {
                        for (int64_t c = 0; c < C; c++) gr[c * gcs] = 0;
                    } else {
                        double wy = w != NULL ? (double)w[lab[r]] : 1.0;
                        gr[lab[r] * gcs] -= (FX_T)(k->gsc * (1.0 - k->eps) * wy);
                    }
                }
            }
        }
    }
    return total;
}

static double FX_FN(xent_block)(const fx_xent_problem *p, int64_t o, int64_t i0,
                                int64_t n)
{
    FX_FN(xent_ctx) k;
    k.C = p->C;
    k.w = (const FX_T *)p->weight;
    k.eps = p->smoothing;
    k.eps_c = p->smoothing / (double)p->C;
    k.gsc = p->grad_scale;
    k.ignore_index = p->ignore_index;

    /* first row of the block and the stride between its rows */
    int64_t r0, xo, yo, go, xrs, yrs, grs;
    if (p->inner == 1) {
        r0 = o;
        xo = o * p->xs_outer; yo = o * p->ys_outer; go = o * p->gs_outer;
        xrs = p->xs_outer; yrs = p->ys_outer; grs = p->gs_outer;
    } else {
        r0 = o * p->inner + i0;
        xo = o * p->xs_outer + i0 * p->xs_inner;
        yo = o * p->ys_outer + i0 * p->ys_inner;
        go = o * p->gs_outer + i0 * p->gs_inner;
        xrs = p->xs_inner; yrs = p->ys_inner; grs = p->gs_inner;
    }
    const FX_T *x = (const FX_T *)p->x + xo;
    const FX_T *y = p->y != NULL ? (const FX_T *)p->y + yo : NULL;
    FX_T *g = p->grad != NULL ? (FX_T *)p->grad + go : NULL;
    const int64_t *lab = p->labels != NULL ? p->labels + r0 : NULL;
    FX_T *lout = p->loss_out != NULL ? (FX_T *)p->loss_out + r0 : NULL;

    const int contiguous = p->xs_class == 1 && (y == NULL || p->ys_class == 1)
                           && (g == NULL || p->gs_class == 1);
    if (!contiguous)
        return FX_FN(xent_rows_strided)(&k, n, x, xrs, p->xs_class, y, yrs,
                                        p->ys_class, lab, lout, g, grs, p->gs_class);

    double total = 0.0;
    for (int64_t j = 0; j < n; j++) {
        const FX_T *xr = x + j * xrs;
        FX_T *gr = g != NULL ? g + j * grs : NULL;
        double loss;
        if (y == NULL && lab[j] == k.ignore_index) {
            loss = 0.0;
            if (gr != NULL)
                for (int64_t c = 0; c < k.C; c++) gr[c] = 0;
        } else {
            loss = FX_FN(xent_row)(&k, xr, y != NULL ? y + j * yrs : NULL,
                                   y == NULL ? lab[j] : 0, gr);
        }
        if (lout != NULL) lout[j] = (FX_T)loss;
        total += loss;
    }
    return total;
}

#undef FX_FN
