/* fx_bce_tmpl.h - binary cross-entropy, element-wise, one instance per
 * dtype and ISA. Template parameters: fx_dtype_f32.h lists them.
 *
 * From logits, with sp(z) = log(1 + e^z) = max(z, 0) + log1p(e^-|z|):
 *
 *     l = w [ (1 - y) sp(x) + pw y sp(-x) ]
 *
 * which is the usual (1-y) x + (1 + (pw-1) y) sp(-x) rearranged so that
 * both terms are non-negative and share one exp and one log1p. A term whose
 * coefficient is exactly 0 contributes exactly 0, so x = +-inf gives the
 * limit (0 or +inf) instead of 0 * inf = NaN.
 *
 * From probabilities (PyTorch's semantics): each log is clamped at -100,
 *     l = -w [ y max(log p, -100) + (1 - y) max(log1p(-p), -100) ].
 */
#define FX_BCE_CHUNK 1024

/* One chunk (n <= FX_BCE_CHUNK) from logits; w / pw are NULL or contiguous.
 * Returns the chunk's loss sum. Inlined with constant flags so every
 * combination becomes its own straight vector loop. Stored losses (want_l)
 * are formed in float64 and rounded once. A sum alone adds FX_T terms in
 * float64: as accurate once rounded, and cheaper in float32. Near FLT_MAX
 * such a float32 term (pw y sp(-x), or its product with w) overflows where
 * the float64 one does not; the sum is then not finite and bce_block
 * recomputes the chunk with bce_logits_chunk_wide. */
static inline __attribute__((always_inline)) double FX_FN(bce_logits_chunk)(
    int64_t n, const FX_T *x, const FX_T *y, const FX_T *w, const FX_T *pw,
    FX_T keep, FX_T half_a, FX_T *lout, FX_T *g, FX_T gsc,
    const int has_w, const int has_pw, const int want_l, const int want_g)
{
    double sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < n; j++) {
        const FX_T xv = x[j];
        const FX_T yv = y[j] * keep + half_a;
        const FX_T ax = xv < 0 ? -xv : xv;
        const FX_T e = FX_EXP(-ax);
        const FX_T lp = FX_LOG1P_UNIT(e);
        const FX_T sp_pos = (xv > 0 ? xv : (FX_T)0) + lp;   /* sp(x) */
        const FX_T sp_neg = (xv < 0 ? -xv : (FX_T)0) + lp;  /* sp(-x) */
        const FX_T c1 = (FX_T)1 - yv;
        const FX_T c2 = has_pw ? pw[j] * yv : yv;
        /* the coefficient pw * y is zero when a factor is: in FX_T it may
         * underflow to 0 (y = 1e-45) against sp(-x) = inf, so the loss
         * takes y sp(-x) first, then pw */
        const int z2 = has_pw ? (yv == 0) | (pw[j] == 0) : yv == 0;
        if (want_l) {
            double l = (c1 == 0 ? 0.0 : (double)c1 * (double)sp_pos)
                       + (z2 ? 0.0 : (double)yv * (double)sp_neg * (has_pw ? (double)pw[j] : 1.0));
            if (has_w) l = w[j] == 0 ? 0.0 : (double)w[j] * l;
            lout[j] = (FX_T)l;
            sum += l;
        } else {
            FX_T l = (c1 == 0 ? (FX_T)0 : c1 * sp_pos)
                     + (z2 ? (FX_T)0 : yv * sp_neg * (has_pw ? pw[j] : (FX_T)1));
            if (has_w) l = w[j] == 0 ? (FX_T)0 : w[j] * l;
            sum += (double)l;
        }
        if (want_g) {
            const FX_T inv = (FX_T)1 / ((FX_T)1 + e);
            const FX_T sig_pos = xv >= 0 ? inv : e * inv;   /* sigmoid(x) */
            const FX_T sig_neg = xv >= 0 ? e * inv : inv;   /* sigmoid(-x) */
            /* a zero coefficient contributes exactly 0, even against NaN x */
            FX_T gv = (c1 == 0 ? (FX_T)0 : c1 * sig_pos) - (c2 == 0 ? (FX_T)0 : c2 * sig_neg);
            if (has_w) gv = w[j] == 0 ? (FX_T)0 : w[j] * gv;
            g[j] = gsc * gv;
        }
    }
    return sum;
}

/* The loss sum of a chunk whose float32 terms overflowed, with float64
 * terms (the arithmetic of the stored losses). Out of line and scalar: it
 * runs near FLT_MAX only, and inlined copies would grow bce_block's stack
 * frame (an ASan build overflowed a 32 KiB thread stack). */
static __attribute__((noinline)) double FX_FN(bce_logits_chunk_wide)(
    int64_t n, const FX_T *x, const FX_T *y, const FX_T *w, const FX_T *pw,
    FX_T keep, FX_T half_a)
{
    double sum = 0.0;
    for (int64_t j = 0; j < n; j++) {
        const FX_T xv = x[j];
        const FX_T yv = y[j] * keep + half_a;
        const FX_T ax = xv < 0 ? -xv : xv;
        const FX_T lp = FX_LOG1P_UNIT(FX_EXP(-ax));
        const FX_T sp_pos = (xv > 0 ? xv : (FX_T)0) + lp;
        const FX_T sp_neg = (xv < 0 ? -xv : (FX_T)0) + lp;
        const FX_T c1 = (FX_T)1 - yv;
        const int z2 = pw != NULL ? (yv == 0) | (pw[j] == 0) : yv == 0;
        double l = (c1 == 0 ? 0.0 : (double)c1 * (double)sp_pos)
                   + (z2 ? 0.0 : (double)yv * (double)sp_neg * (pw != NULL ? (double)pw[j] : 1.0));
        if (w != NULL) l = w[j] == 0 ? 0.0 : (double)w[j] * l;
        sum += l;
    }
    return sum;
}

/* One chunk from probabilities; returns the loss sum and sets *bad to the
 * offset of the first p or y outside [0, 1] (or NaN), or -1. */
static inline __attribute__((always_inline)) FX_T FX_FN(bce_probs_chunk)(
    int64_t n, const FX_T *p, const FX_T *y, const FX_T *w, FX_T *lout,
    FX_T *g, FX_T gsc, int64_t *bad,
    const int has_w, const int want_l, const int want_g)
{
    FX_T sum = 0, nbad = 0;   /* a float count: an int reduction beside float
                               * ones kept GCC from vectorising the loop */
    /* torch's EPSILON for the gradient's denominator is float(1e-12) */
    const FX_T clamp_eps = (FX_T)1e-12f;
#pragma omp simd reduction(+ : sum, nbad)
    for (int64_t j = 0; j < n; j++) {
        const FX_T pv = p[j], yv = y[j];
        /* bitwise, not &&: short-circuit control flow stops vectorisation */
        nbad += ((pv >= 0) & (pv <= 1) & (yv >= 0) & (yv <= 1)) ? (FX_T)0 : (FX_T)1;
        if (want_l || !want_g) {
            FX_T lp = FX_LOG(pv), lq = FX_LOG1P(-pv);
            lp = lp < (FX_T)-100 ? (FX_T)-100 : lp;
            /* FX_LOG1P is defined for u > -1 only: p = 1 gives NaN there */
            lq = lq < (FX_T)-100 ? (FX_T)-100 : lq;
            lq = pv == 1 ? (FX_T)-100 : lq;
            FX_T l = -(yv * lp + ((FX_T)1 - yv) * lq);
            if (has_w) l = w[j] == 0 ? (FX_T)0 : w[j] * l;
            if (want_l) lout[j] = l;
            sum += l;
        }
        if (want_g) {
            FX_T den = ((FX_T)1 - pv) * pv;
            den = den < clamp_eps ? clamp_eps : den;
            FX_T gv = (pv - yv) / den;
            if (has_w) gv = w[j] == 0 ? (FX_T)0 : w[j] * gv;
            g[j] = gsc * gv;
        }
    }
    *bad = -1;
    if (nbad) {
        for (int64_t j = 0; j < n; j++) {
            if (!(p[j] >= 0 && p[j] <= 1 && y[j] >= 0 && y[j] <= 1)) {
                *bad = j;
                break;
            }
        }
    }
    return sum;
}

static void FX_FN(bce_block)(const void *vp, const fx_plan *plan, int64_t b, double *out)
{
    const fx_bce_problem *p = (const fx_bce_problem *)vp;
    const int64_t L = p->L;
    const int64_t i0 = b * plan->block;
    const int64_t i1 = i0 + plan->block < p->n ? i0 + plan->block : p->n;
    const FX_S *X = (const FX_S *)p->x, *Y = (const FX_S *)p->y;
    const FX_T *W = (const FX_T *)p->w.data, *PW = (const FX_T *)p->pw.data;
    FX_T *LO = (FX_T *)p->loss_out, *G = (FX_T *)p->grad;
    const FX_T keep = (FX_T)(1.0 - p->smoothing), half_a = (FX_T)(0.5 * p->smoothing);
    const FX_T gsc = (FX_T)p->grad_scale;
    double total = 0.0;
    double first_bad = INFINITY;
    const int has_w = W != NULL, has_pw = PW != NULL && !p->probs;
    const int want_l = LO != NULL, want_g = G != NULL;
    /* broadcast or strided weights are gathered into buffers of a chunk, on
     * the heap: on the stack (8-16 KiB) they overflowed small thread stacks */
    FX_T *wbuf = NULL, *pwbuf = NULL;
    const int gather_w = has_w && p->w.s_class != 1, gather_pw = has_pw && p->pw.s_class != 1;
    /* a half dtype: each chunk of x and y widened into two more buffers,
     * then float32's loops (float32's bits) */
    FX_T *bufs = NULL;
    if (FX_HALF || gather_w || gather_pw) {
        bufs = (FX_T *)malloc((FX_HALF ? 4 : 2) * FX_BCE_CHUNK * sizeof(FX_T));
        if (bufs == NULL) {
            out[0] = 0.0;
            out[1] = INFINITY;
            out[2] = 1.0;   /* no memory */
            return;
        }
        wbuf = bufs;
        pwbuf = bufs + FX_BCE_CHUNK;
    }
#if FX_HALF
    FX_T *xbuf = bufs + 2 * FX_BCE_CHUNK, *ybuf = bufs + 3 * FX_BCE_CHUNK;
#endif

    for (int64_t i = i0; i < i1;) {
        /* a chunk never crosses a row of the last axis, so the broadcast
         * weights have one stride inside it: 1 (read in place), else 0 or
         * any other stride (gathered into a buffer) */
        const int64_t r = i / L, c = i - r * L;
        int64_t n = L - c;
        if (n > i1 - i) n = i1 - i;
        if (n > FX_BCE_CHUNK) n = FX_BCE_CHUNK;
        const FX_T *wc = NULL, *pwc = NULL;
        if (has_w) {
            const FX_T *w0 = W + r * p->w.s_outer + c * p->w.s_class;
            if (!gather_w) {
                wc = w0;
            } else {  /* broadcast (stride 0) or strided: gather */
                for (int64_t j = 0; j < n; j++) wbuf[j] = w0[j * p->w.s_class];
                wc = wbuf;
            }
        }
        if (has_pw) {
            const FX_T *q0 = PW + r * p->pw.s_outer + c * p->pw.s_class;
            if (!gather_pw) {
                pwc = q0;
            } else {
                for (int64_t j = 0; j < n; j++) pwbuf[j] = q0[j * p->pw.s_class];
                pwc = pwbuf;
            }
        }
#if FX_HALF
        FX_WIDEN(xbuf, X + i, n);
        FX_WIDEN(ybuf, Y + i, n);
        const FX_T *x = xbuf, *y = ybuf;
#else
        const FX_T *x = X + i, *y = Y + i;
#endif
        FX_T *lo = want_l ? LO + i : NULL, *g = want_g ? G + i : NULL;
        double cs;
        if (p->probs) {
            int64_t bad;
#define FX_BCEP(HW, WL, WG) FX_FN(bce_probs_chunk)(n, x, y, wc, lo, g, gsc, &bad, HW, WL, WG)
            if (has_w) {
                if (want_g) cs = want_l ? FX_BCEP(1, 1, 1) : FX_BCEP(1, 0, 1);
                else cs = want_l ? FX_BCEP(1, 1, 0) : FX_BCEP(1, 0, 0);
            } else {
                if (want_g) cs = want_l ? FX_BCEP(0, 1, 1) : FX_BCEP(0, 0, 1);
                else cs = want_l ? FX_BCEP(0, 1, 0) : FX_BCEP(0, 0, 0);
            }
#undef FX_BCEP
            if (bad >= 0 && first_bad == INFINITY) first_bad = (double)(i + bad);
        } else {
#define FX_BCEL(HW, HP, WL, WG) FX_FN(bce_logits_chunk)(n, x, y, wc, pwc, keep, half_a, lo, g, gsc, HW, HP, WL, WG)
#define FX_BCEL_G(HW, HP) (want_g ? (want_l ? FX_BCEL(HW, HP, 1, 1) : FX_BCEL(HW, HP, 0, 1)) \
                                  : (want_l ? FX_BCEL(HW, HP, 1, 0) : FX_BCEL(HW, HP, 0, 0)))
            if (has_w) cs = has_pw ? FX_BCEL_G(1, 1) : FX_BCEL_G(1, 0);
            else cs = has_pw ? FX_BCEL_G(0, 1) : FX_BCEL_G(0, 0);
            if (sizeof(FX_T) < sizeof(double) && !want_l && !isfinite(cs))
                cs = FX_FN(bce_logits_chunk_wide)(n, x, y, wc, pwc, keep, half_a);
#undef FX_BCEL_G
#undef FX_BCEL
        }
        total += (double)cs;
        i += n;
    }
    free(bufs);
    out[0] = total;
    out[1] = first_bad;
    out[2] = 0.0;
}

