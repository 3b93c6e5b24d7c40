/* fx_xent_tmpl.h - softmax cross-entropy: the finishing of a row (loss and
 * gradient from the statistics of fx_rows_tmpl.h, whose header gives the
 * formulas), called by rows_block for FX_XENT. One instance per dtype and
 * ISA; parameters as fx_rows_tmpl.h. */

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
        return (aacc == 0.0 ? 0.0 : aacc * ls) + tacc;
    }
    /* a zero coefficient contributes exactly 0, even against -inf logits */
    double a = (1.0 - k->eps) * wy;
    double loss = a == 0.0 ? 0.0 : a * (ls + (shift - xy));
    if (k->eps > 0.0) {
        loss += k->eps_c * ((aacc == 0.0 ? 0.0 : aacc * ls) + tacc);
        a += k->eps_c * aacc;
    }
    *a_out = a;
    return loss;
}

/* A, the total effective target weight of a row (see fx_rows_tmpl.h's
 * header), for rows whose statistics are not finite; aacc = sum v of the
 * smoothing or soft part. */
static inline double FX_FN(xent_row_weight)(const FX_FN(xent_ctx) *k, int soft,
                                            double aacc, int64_t label)
{
    if (soft) return aacc;
    const double wy = k->w != NULL ? (double)k->w[label] : 1.0;
    return (1.0 - k->eps) * wy + (k->eps > 0.0 ? k->eps_c * aacc : 0.0);
}

/* The gradient row -scale v_c of a row with A = 0 (its softmax term is 0),
 * the onehot part of index targets excluded, as in xent_rows_strided. */
static void FX_FN(xent_zero_weight_grad)(const FX_FN(xent_ctx) *k, int64_t C,
                                         const FX_S *yr, int64_t ycs,
                                         FX_T *gr, int64_t gcs)
{
    const FX_T b = (FX_T)k->gsc;
    const FX_T one_m_eps = (FX_T)(1.0 - k->eps), eps_c = (FX_T)k->eps_c;
    for (int64_t c = 0; c < C; c++) {
        const FX_T wc = k->w != NULL ? k->w[c] : (FX_T)1;
        /* the products in the order of the main loops: the same bits */
        gr[c * gcs] = yr != NULL ? (FX_T)0 - b * ((one_m_eps * FX_LD(yr[c * ycs]) + eps_c) * wc)
                                 : (FX_T)0 - (b * eps_c) * wc;
    }
}

/* Rescales a chunk of stored exps into the gradient: g = sc e - b v. */
static inline FX_ALWAYS_INLINE void FX_FN(grad_chunk)(
    FX_T *gc, const FX_T *yc, const FX_T *wc, int64_t n, FX_T sc, FX_T b,
    FX_T one_m_eps, FX_T eps_c, const int soft, const int has_w, const int has_v)
{
    const int64_t nv = n - n % FX_VL, tb = n - FX_VL;
#define FX_GV(j) (has_v ? b * FX_TARGET_V(j) : (FX_T)0)
#pragma omp simd
    for (int64_t j = 0; j < nv; j++) gc[j] = sc * gc[j] - FX_GV(j);
    if (nv < n) {
        FX_TAIL_LANES(vl);
#pragma omp simd
        for (int64_t l = 0; l < vl; l++)
            gc[tb + l] = tb + l >= nv ? sc * gc[tb + l] - FX_GV(tb + l) : gc[tb + l];
    }
#undef FX_GV
}

/* Second part of a row (the softmax family's is norm_row_finish): the row loss from its statistics and ls = log(s); with a
 * gradient, rescales the stored exps into the gradient row. */
static inline double FX_FN(xent_row_finish)(const FX_FN(xent_ctx) *k, const FX_S *x,
                                            const FX_S *y, int64_t label, FX_T *g,
                                            const FX_T *shifts,
                                            const FX_FN(xent_stats) *st, double ls)
{
    if (k->mode != FX_XENT) return FX_FN(norm_row_finish)(k, x, g, shifts, st, ls);
    const int64_t C = k->C;
    const FX_T *w = k->w;
    const int soft = y != NULL;
    const FX_T one_m_eps = (FX_T)(1.0 - k->eps), eps_c = (FX_T)k->eps_c;
    const FX_T m = st->m, shift = st->shift;
    const double tacc = st->tacc, aacc = st->aacc;
    double loss, a;
    if (!(m > -(FX_T)INFINITY)) {
        /* all -inf (or NaN): log-softmax is NaN, like -inf - (-inf), unless
         * every coefficient is 0 (then the row contributes exactly 0) */
        a = FX_FN(xent_row_weight)(k, soft, aacc, label);
        loss = a == 0.0 ? 0.0 : NAN;
        a = a == 0.0 ? 0.0 : NAN;
    } else {
        double xy = soft ? 0.0 : (double)FX_LD(x[label]);
        double wy = (!soft && w != NULL) ? (double)w[label] : 1.0;
        loss = FX_FN(xent_finish)(k, soft, ls, (double)shift, tacc, aacc, xy, wy, &a);
    }
    if (g != NULL) {
        const FX_T b = (FX_T)k->gsc;
        /* A = 0: the softmax term is exactly 0, even where the stored exps
         * are NaN (a NaN or +inf row) */
        if (a == 0.0)
            for (int64_t c = 0; c < C; c++) g[c] = 0;
        for (int64_t c0 = 0, kk = 0; c0 < C; c0 += FX_CHUNK, kk++) {
            const int64_t n = C - c0 < FX_CHUNK ? C - c0 : FX_CHUNK;
            /* exp(shift_k - lse) as exp(shift_k - shift) / s: shift + log s
             * would lose log s next to a huge shift. A chunk summed while the
             * row was all -inf kept shift_k = 0 (its exps are 0), which may
             * exceed shift: clamp so its scale stays finite, not 0 * inf. */
            const double dk = (double)shifts[kk] - (double)shift;
            const FX_T sc = a == 0.0 ? (FX_T)0
                            : (FX_T)(k->gsc * a * exp(dk > 0.0 ? 0.0 : dk) / (st->ties + st->small));
            FX_T *gc = g + c0;
            const FX_T *yc = soft ? FX_FN(chunk_view)(k->ybuf, y, c0, n) : NULL;
            const FX_T *wc = w != NULL ? w + c0 : NULL;
            /* gradient = scale * (A softmax - v); v is the smoothing part
             * for index targets (the onehot part is subtracted below) */
            if (soft)
                if (w != NULL) FX_FN(grad_chunk)(gc, yc, wc, n, sc, b, one_m_eps, eps_c, 1, 1, 1);
                else FX_FN(grad_chunk)(gc, yc, wc, n, sc, b, one_m_eps, eps_c, 1, 0, 1);
            else if (k->eps > 0.0)
                if (w != NULL) FX_FN(grad_chunk)(gc, yc, wc, n, sc, b * eps_c, (FX_T)0, eps_c, 0, 1, 1);
                else FX_FN(grad_chunk)(gc, yc, wc, n, sc, b * eps_c, (FX_T)0, eps_c, 0, 0, 1);
            else FX_FN(grad_chunk)(gc, yc, wc, n, sc, b, (FX_T)0, eps_c, 0, 0, 0);
        }
        if (!soft) {
            double wy = w != NULL ? (double)w[label] : 1.0;
            g[label] -= (FX_T)(k->gsc * (1.0 - k->eps) * wy);
        }
    }
    return loss;
}
