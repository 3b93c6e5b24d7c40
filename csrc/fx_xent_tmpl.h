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
 *
 * s is kept as ties + small: the maxima contribute exactly 1 each and are
 * counted, the other terms are summed apart, and log(s) is taken as
 * log1p(ties - 1 + small). A float sum 1 + small would keep only ~6e-8 of
 * `small`, i.e. most of the loss of a confident row.
 *
 * The same kernels serve logsumexp, log_softmax and softmax (k->mode): no
 * target, "loss" = logsumexp, "gradient" = softmax (A = 1, v = 0) or
 * x - logsumexp.
 */
#define FX_FN(name) FX_CAT(name, FX_CAT(_, FX_SFX))

typedef struct {
    int64_t C;
    const FX_T *w;       /* class weights or NULL */
    double eps, eps_c;   /* smoothing and smoothing / C */
    double gsc;          /* gradient scale of the reduction */
    int64_t ignore_index;
    int mode;            /* FX_XENT, FX_LOGSUMEXP, FX_LOG_SOFTMAX or FX_SOFTMAX */
} FX_FN(xent_ctx);

/* logsumexp of a row from m, shift and ls = log(s), with the conventions of
 * logsumexp: NaN if the row has a NaN, else +inf if it has a +inf, else -inf
 * if it is all -inf. Only the +inf case needs another look at the row. */
static inline double FX_FN(norm_lse)(const FX_T *x, int64_t C, int64_t cs,
                                     FX_T m, FX_T shift, double ls)
{
    if (m == (FX_T)INFINITY) {
        for (int64_t c = 0; c < C; c++)
            if (x[c * cs] != x[c * cs]) return NAN;
        return INFINITY;
    }
    return (double)shift + ls;
}

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

/* A, the total effective target weight of a row (see the file header), for
 * rows whose statistics are not finite; aacc = sum v of the smoothing or
 * soft part. */
static inline double FX_FN(xent_row_weight)(const FX_FN(xent_ctx) *k, int soft,
                                            double aacc, int64_t label)
{
    if (soft) return aacc;
    const double wy = k->w != NULL ? (double)k->w[label] : 1.0;
    return (1.0 - k->eps) * wy + (k->eps > 0.0 ? k->eps_c * aacc : 0.0);
}

/* One row with contiguous classes (x, y, g all unit class stride), C >= FX_VL.
 * Blocked online max: each chunk is scanned for its max, then summed while
 * it is in L1; a larger max rescales the running sums once per chunk, so a
 * long row is read from memory once. With a gradient, exp(x - shift) is
 * stored in g during the sum and rescaled by exp(shift - lse) afterwards
 * (one exp per logit).
 *
 * Tails: every loop runs over whole vectors, and the last partial vector of
 * a chunk is handled by one vector that ends at the chunk's end and overlaps
 * elements already done; a select drops those lanes. The overlap may reach
 * back into the previous chunk, which is inside the row because C >= FX_VL. */
#define FX_VL (FX_VL_BYTES / (int64_t)sizeof(FX_T))
/* The tail loops run over one vector, a constant trip count that GCC
 * unrolls completely before vectorising, running their exps as scalars; an
 * opaque copy of the count keeps them one vector instruction each. */
#if defined(__GNUC__) || defined(__clang__)
#define FX_OPAQUE(v) __asm__("" : "+r"(v))
#else
#define FX_OPAQUE(v) ((void)0)
#endif

typedef struct {
    double small, ties;     /* s = sum exp(x - shift) = ties + small */
    double tacc, aacc;      /* sum v (shift - x); sum v */
    FX_T m, shift;          /* row max so far; the shift of the sums */
} FX_FN(xent_stats);

/* v_c, the effective target weight of class c (see the file header). */
#define FX_TARGET_V(j) (soft ? (has_w ? (one_m_eps * yc[j] + eps_c) * wc[j] : one_m_eps * yc[j] + eps_c) \
                             : (has_w ? wc[j] : (FX_T)1))
#define FX_SUB 512

/* Adds sum v_c (shift - x_c) and sum v_c of a chunk to *tacc, *aacc; a zero
 * v_c contributes exactly 0, even against x_c = -inf. Inlined with constant
 * flags, so each target kind is a plain vector loop; terms and sums in
 * float64 (in float32, shift - x_c and the sums overflow near FLT_MAX). */
static inline FX_ALWAYS_INLINE void FX_FN(tacc_chunk)(
    const FX_T *xc, const FX_T *yc, const FX_T *wc, int64_t n, FX_T shift,
    FX_T one_m_eps, FX_T eps_c, const int soft, const int has_w,
    double *tacc, double *aacc)
{
    const int64_t nv = n - n % FX_VL, tb = n - FX_VL;
    double t = 0.0, a = 0.0;
    for (int64_t s0 = 0; s0 < nv; s0 += FX_SUB) {
        const int64_t s1 = nv - s0 < FX_SUB ? nv : s0 + FX_SUB;
        double ct = 0, ca = 0;
#pragma omp simd reduction(+ : ct, ca)
        for (int64_t j = s0; j < s1; j++) {
            const FX_T v = FX_TARGET_V(j);
            ca += (double)v;
            ct += v == 0 ? 0.0 : (double)v * ((double)shift - (double)xc[j]);
        }
        t += (double)ct;
        a += (double)ca;
    }
    if (nv < n) {
        int64_t vl = FX_VL;
        FX_OPAQUE(vl);
        double ct = 0, ca = 0;
#pragma omp simd reduction(+ : ct, ca)
        for (int64_t l = 0; l < vl; l++) {
            const FX_T v = tb + l >= nv ? FX_TARGET_V(tb + l) : (FX_T)0;
            ca += (double)v;
            ct += v == 0 ? 0.0 : (double)v * ((double)shift - (double)xc[tb + l]);
        }
        t += (double)ct;
        a += (double)ca;
    }
    *tacc += t;
    *aacc += a;
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
        int64_t vl = FX_VL;
        FX_OPAQUE(vl);
#pragma omp simd
        for (int64_t l = 0; l < vl; l++)
            gc[tb + l] = tb + l >= nv ? sc * gc[tb + l] - FX_GV(tb + l) : gc[tb + l];
    }
#undef FX_GV
}

/* Asks for the first min(n, FX_PREFETCH) elements of the next row to be
 * brought into the cache, one request per 64-byte line, while the current
 * row is computed: a row read straight from memory otherwise waits for the
 * hardware prefetcher to ramp up in its max pass, and computes its exps
 * with the memory idle. (Prefetching the next chunk of a long row, 4 or
 * 16 KiB ahead, measured no faster.) */
#define FX_PREFETCH (4096 / (int64_t)sizeof(FX_T))
static inline void FX_FN(prefetch)(const FX_T *r, int64_t n)
{
#if defined(__GNUC__) || defined(__clang__)
    const char *p = (const char *)r;
    const char *e = (const char *)(r + (n < FX_PREFETCH ? n : FX_PREFETCH));
    for (; p < e; p += 64) __builtin_prefetch(p, 0, 3);
#else
    (void)r;
    (void)n;
#endif
}

/* First part of a row: the statistics above, in one read of the row. With
 * a gradient, stores exp(x - shift_k) in g and shift_k in shifts[k]. */
static inline void FX_FN(xent_row_stats)(const FX_FN(xent_ctx) *k, const FX_T *x,
                                         const FX_T *y, FX_T *g, FX_T *shifts,
                                         FX_FN(xent_stats) *st)
{
    const int64_t C = k->C;
    const FX_T *w = k->w;
    const int soft = y != NULL;
    const int need_t = soft || k->eps > 0.0;
    const FX_T one_m_eps = (FX_T)(1.0 - k->eps), eps_c = (FX_T)k->eps_c;
    double small = 0.0, ties = 0.0, tacc = 0.0, aacc = 0.0;
    FX_T m = -(FX_T)INFINITY, shift = 0;
    for (int64_t c0 = 0, kk = 0; c0 < C; c0 += FX_CHUNK, kk++) {
        const int64_t n = C - c0 < FX_CHUNK ? C - c0 : FX_CHUNK;
        const int64_t nv = n - n % FX_VL;      /* whole vectors */
        const int64_t tb = n - FX_VL;          /* start of the tail vector */
        const int has_tail = nv < n;
        const FX_T *xc = x + c0;
        FX_T cm = xc[n - 1];
#pragma omp simd reduction(max : cm)
        for (int64_t j = 0; j < nv; j++) cm = xc[j] > cm ? xc[j] : cm;
        if (has_tail) {
            int64_t vl = FX_VL;
            FX_OPAQUE(vl);
            /* lanes before nv are counted already; a short last chunk's
             * vector reaches back into the previous chunk, which in place
             * (g == x) already holds exps: select them out */
#pragma omp simd reduction(max : cm)
            for (int64_t l = 0; l < vl; l++)
                cm = (tb + l >= nv && xc[tb + l] > cm) ? xc[tb + l] : cm;
        }
        if (cm > m) {
            /* while only -inf was seen, sums are 0 or non-finite: keep them */
            if (m > -(FX_T)INFINITY) {
                small = (small + ties) * exp((double)shift - (double)cm);
                tacc += aacc * ((double)cm - (double)shift);
                ties = 0.0;
            }
            m = cm;
            shift = cm;
        }
        /* exps of the non-maximal entries, and the count of maximal ones */
        FX_T cs = 0, cn = 0;
        if (g != NULL) {
            FX_T *gc = g + c0;
#pragma omp simd reduction(+ : cs, cn)
            for (int64_t j = 0; j < nv; j++) {
                const FX_T d = xc[j] - shift;
                const FX_T e = FX_EXP_SUM(d);
                gc[j] = e;
                cs += d == 0 ? (FX_T)0 : e;
                cn += d == 0 ? (FX_T)1 : (FX_T)0;
            }
            if (has_tail) {
                int64_t vl = FX_VL;
                FX_OPAQUE(vl);
#pragma omp simd reduction(+ : cs, cn)
                for (int64_t l = 0; l < vl; l++) {
                    const int keep = tb + l >= nv;
                    const FX_T d = xc[tb + l] - shift;
                    const FX_T e = FX_EXP_SUM(d);
                    gc[tb + l] = keep ? e : gc[tb + l];
                    cs += (keep && d != 0) ? e : (FX_T)0;
                    cn += (keep && d == 0) ? (FX_T)1 : (FX_T)0;
                }
            }
            shifts[kk] = shift;
        } else {
#pragma omp simd reduction(+ : cs, cn)
            for (int64_t j = 0; j < nv; j++) {
                const FX_T d = xc[j] - shift;
                const FX_T e = FX_EXP_SUM(d);
                cs += d == 0 ? (FX_T)0 : e;
                cn += d == 0 ? (FX_T)1 : (FX_T)0;
            }
            if (has_tail) {
                int64_t vl = FX_VL;
                FX_OPAQUE(vl);
#pragma omp simd reduction(+ : cs, cn)
                for (int64_t l = 0; l < vl; l++) {
                    const int keep = tb + l >= nv;
                    const FX_T d = xc[tb + l] - shift;
                    const FX_T e = FX_EXP_SUM(d);
                    cs += (keep && d != 0) ? e : (FX_T)0;
                    cn += (keep && d == 0) ? (FX_T)1 : (FX_T)0;
                }
            }
        }
        small += (double)cs;
        ties += (double)cn;
        if (need_t) {
            const FX_T *yc = soft ? y + c0 : NULL;
            const FX_T *wc = w != NULL ? w + c0 : NULL;
            if (soft)
                if (w != NULL) FX_FN(tacc_chunk)(xc, yc, wc, n, shift, one_m_eps, eps_c, 1, 1, &tacc, &aacc);
                else FX_FN(tacc_chunk)(xc, yc, wc, n, shift, one_m_eps, eps_c, 1, 0, &tacc, &aacc);
            else if (w != NULL) FX_FN(tacc_chunk)(xc, yc, wc, n, shift, one_m_eps, eps_c, 0, 1, &tacc, &aacc);
            else FX_FN(tacc_chunk)(xc, yc, wc, n, shift, one_m_eps, eps_c, 0, 0, &tacc, &aacc);
        }
    }

    st->small = small;
    st->ties = ties;
    st->tacc = tacc;
    st->aacc = aacc;
    st->m = m;
    st->shift = shift;
}

/* log(s) of a row: log1p(ties - 1 + small), see the file header. */
static inline double FX_FN(xent_sm1)(const FX_FN(xent_stats) *st)
{
    return (st->ties - 1.0) + st->small;
}

/* Second part for logsumexp / log_softmax / softmax: returns logsumexp and
 * writes out (softmax: the stored exps, rescaled). */
static inline double FX_FN(norm_row_finish)(const FX_FN(xent_ctx) *k, const FX_T *x,
                                            FX_T *out, const FX_T *shifts,
                                            const FX_FN(xent_stats) *st, double ls)
{
    const int64_t C = k->C;
    const double lse = FX_FN(norm_lse)(x, C, 1, st->m, st->shift, ls);
    if (k->mode == FX_LOGSUMEXP) return lse;
    if (!isfinite(lse)) {
        for (int64_t c = 0; c < C; c++) out[c] = (FX_T)NAN;
        return lse;
    }
    const FX_T shift = st->shift;
    if (k->mode == FX_LOG_SOFTMAX) {
        /* (x - m) - log s, never x - lse: lse rounds log s away next to a
         * huge m */
        const FX_T lt = (FX_T)ls;
#pragma omp simd
        for (int64_t c = 0; c < C; c++) out[c] = (x[c] - shift) - lt;
        return lse;
    }
    const double s = st->ties + st->small;
    for (int64_t c0 = 0, kk = 0; c0 < C; c0 += FX_CHUNK, kk++) {
        const int64_t n = C - c0 < FX_CHUNK ? C - c0 : FX_CHUNK;
        const int64_t nv = n - n % FX_VL, tb = n - FX_VL;
        const double dk = (double)shifts[kk] - (double)shift;
        const FX_T sc = (FX_T)(exp(dk > 0.0 ? 0.0 : dk) / s);
        FX_T *oc = out + c0;
#pragma omp simd
        for (int64_t j = 0; j < nv; j++) oc[j] *= sc;
        if (nv < n) {
            int64_t vl = FX_VL;
            FX_OPAQUE(vl);
#pragma omp simd
            for (int64_t l = 0; l < vl; l++)
                oc[tb + l] = tb + l >= nv ? oc[tb + l] * sc : oc[tb + l];
        }
    }
    return lse;
}

/* Second part: the row loss from its statistics and ls = log(s); with a
 * gradient, rescales the stored exps into the gradient row. */
static inline double FX_FN(xent_row_finish)(const FX_FN(xent_ctx) *k, const FX_T *x,
                                            const FX_T *y, int64_t label, FX_T *g,
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
        double xy = soft ? 0.0 : (double)x[label];
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
            const FX_T *yc = soft ? y + c0 : NULL;
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

/* A whole row of any length (C >= FX_VL). */
static double FX_FN(xent_row)(const FX_FN(xent_ctx) *k, const FX_T *x,
                              const FX_T *y, int64_t label, FX_T *g)
{
    const int64_t nchunks = (k->C + FX_CHUNK - 1) / FX_CHUNK;
    FX_T shifts_local[64];
    FX_T *shifts = shifts_local;
    if (g != NULL && nchunks > 64) {
        shifts = (FX_T *)malloc((size_t)nchunks * sizeof(FX_T));
        if (shifts == NULL) {   /* cannot happen in practice: tiny request */
            for (int64_t c = 0; c < k->C; c++) g[c] = (FX_T)NAN;
            return NAN;
        }
    }
    FX_FN(xent_stats) st;
    /* log_softmax writes x - lse at the end; no exps to store */
    FX_FN(xent_row_stats)(k, x, y, k->mode == FX_LOG_SOFTMAX ? NULL : g, shifts, &st);
    double loss = FX_FN(xent_row_finish)(k, x, y, label, g, shifts, &st,
                                         log1p(FX_FN(xent_sm1)(&st)));
    if (shifts != shifts_local) free(shifts);
    return loss;
}

/* The gradient row -scale v_c of a row with A = 0 (its softmax term is 0),
 * the onehot part of index targets excluded, as in xent_rows_strided. */
static void FX_FN(xent_zero_weight_grad)(const FX_FN(xent_ctx) *k, int64_t C,
                                         const FX_T *yr, int64_t ycs,
                                         FX_T *gr, int64_t gcs)
{
    const FX_T b = (FX_T)k->gsc;
    const FX_T one_m_eps = (FX_T)(1.0 - k->eps), eps_c = (FX_T)k->eps_c;
    for (int64_t c = 0; c < C; c++) {
        const FX_T wc = k->w != NULL ? k->w[c] : (FX_T)1;
        /* the products in the order of the main loops: the same bits */
        gr[c * gcs] = yr != NULL ? (FX_T)0 - b * ((one_m_eps * yr[c * ycs] + eps_c) * wc)
                                 : (FX_T)0 - (b * eps_c) * wc;
    }
}

#define FX_TILE 64
#define FX_CCHUNK 256

/* Rows of any strides, vectorised across FX_TILE rows at a time: the class
 * loop is outside, the row loop inside. Serves PyTorch's (N, C, d...) layout
 * (row stride 1), class axes that are not last, mixed layouts, and short
 * rows transposed into a tile (see xent_block). Sums run in the compute
 * dtype over FX_CCHUNK classes, then in float64. */
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
    const int xent = k->mode == FX_XENT;
    const int need_t = soft || k->eps > 0.0;
    const FX_T one_m_eps = (FX_T)(1.0 - k->eps), eps_c = (FX_T)k->eps_c;
    double total = 0.0;
    for (int64_t t0 = 0; t0 < n; t0 += FX_TILE) {
        const int64_t nt = n - t0 < FX_TILE ? n - t0 : FX_TILE;
        const FX_T *xt = x + t0 * xrs;
        FX_T m[FX_TILE], ps[FX_TILE], pn[FX_TILE];
        double pt[FX_TILE], pa[FX_TILE];   /* float64: see tacc_chunk */
        double small[FX_TILE], ties[FX_TILE], tacc[FX_TILE], aacc[FX_TILE];
        double ls[FX_TILE], av[FX_TILE], lse[FX_TILE];
        for (int64_t j = 0; j < nt; j++) {
            m[j] = -(FX_T)INFINITY;
            small[j] = ties[j] = tacc[j] = aacc[j] = 0.0;
        }
        for (int64_t c = 0; c < C; c++) {
            const FX_T *xc = xt + c * xcs;
#pragma omp simd
            for (int64_t j = 0; j < nt; j++) m[j] = xc[j * xrs] > m[j] ? xc[j * xrs] : m[j];
        }
        /* the shift: the row max, or 0 for an all -inf row (sums stay 0) */
        FX_T sh[FX_TILE];
        for (int64_t j = 0; j < nt; j++) sh[j] = m[j] > -(FX_T)INFINITY ? m[j] : (FX_T)0;
        for (int64_t c0 = 0; c0 < C; c0 += FX_CCHUNK) {
            const int64_t c1 = C - c0 < FX_CCHUNK ? C : c0 + FX_CCHUNK;
            for (int64_t j = 0; j < nt; j++) ps[j] = pn[j] = pt[j] = pa[j] = 0;
            for (int64_t c = c0; c < c1; c++) {
                const FX_T *xc = xt + c * xcs;
#pragma omp simd
                for (int64_t j = 0; j < nt; j++) {
                    const FX_T d = xc[j * xrs] - sh[j];
                    const FX_T e = FX_EXP_SUM(d);
                    ps[j] += d == 0 ? (FX_T)0 : e;
                    pn[j] += d == 0 ? (FX_T)1 : (FX_T)0;
                }
            }
            if (need_t) {
                for (int64_t c = c0; c < c1; c++) {
                    const FX_T wc = w != NULL ? w[c] : (FX_T)1;
                    const FX_T *xc = xt + c * xcs;
                    if (soft) {
                        const FX_T *yc = y + t0 * yrs + c * ycs;
#pragma omp simd
                        for (int64_t j = 0; j < nt; j++) {
                            FX_T v = (one_m_eps * yc[j * yrs] + eps_c) * wc;
                            pa[j] += (double)v;
                            pt[j] += v == 0 ? 0.0 : (double)v * ((double)m[j] - (double)xc[j * xrs]);
                        }
                    } else {
#pragma omp simd
                        for (int64_t j = 0; j < nt; j++) {
                            pa[j] += (double)wc;
                            pt[j] += wc == 0 ? 0.0 : (double)wc * ((double)m[j] - (double)xc[j * xrs]);
                        }
                    }
                }
            }
            for (int64_t j = 0; j < nt; j++) {
                small[j] += (double)ps[j];
                ties[j] += (double)pn[j];
                tacc[j] += (double)pt[j];
                aacc[j] += (double)pa[j];
            }
        }
#pragma omp simd
        for (int64_t j = 0; j < nt; j++) ls[j] = fx_log1p_f64((ties[j] - 1.0) + small[j]);
        for (int64_t j = 0; j < nt; j++) {
            const int64_t r = t0 + j;
            double loss;
            if (!xent) {
                loss = FX_FN(norm_lse)(xt + j * xrs, C, xcs, m[j], sh[j], ls[j]);
                av[j] = 1.0;
            } else if (lab != NULL && lab[r] == k->ignore_index) {
                loss = 0.0;
                av[j] = 0.0;
            } else if (!(m[j] > -(FX_T)INFINITY)) {
                const double a = FX_FN(xent_row_weight)(k, soft, aacc[j], soft ? 0 : lab[r]);
                loss = a == 0.0 ? 0.0 : NAN;
                av[j] = a == 0.0 ? 0.0 : NAN;
            } else {
                const int64_t yl = soft ? 0 : lab[r];
                double xy = soft ? 0.0 : (double)xt[j * xrs + yl * xcs];
                double wy = (!soft && w != NULL) ? (double)w[yl] : 1.0;
                loss = FX_FN(xent_finish)(k, soft, ls[j], (double)m[j], tacc[j],
                                          aacc[j], xy, wy, &av[j]);
            }
            lse[j] = loss;
            if (lout != NULL) lout[r] = (FX_T)loss;
            total += loss;
        }
        if (g == NULL) continue;
        FX_T *gtile = g + t0 * grs;
        if (k->mode == FX_LOG_SOFTMAX) {
            FX_T lt[FX_TILE];
            for (int64_t j = 0; j < nt; j++) lt[j] = (FX_T)ls[j];
            for (int64_t c = 0; c < C; c++) {
                const FX_T *xc = xt + c * xcs;
                FX_T *gc = gtile + c * gcs;
#pragma omp simd
                for (int64_t j = 0; j < nt; j++) gc[j * grs] = (xc[j * xrs] - sh[j]) - lt[j];
            }
        } else {
            FX_T gt_a[FX_TILE];
            for (int64_t j = 0; j < nt; j++) {
                /* A exp(x - lse) = (A / s) exp(x - m): m is exact, while
                 * lse rounded to FX_T is off by |lse| ulps */
                gt_a[j] = (FX_T)(k->gsc * av[j] / (ties[j] + small[j]));
            }
            const FX_T b = (FX_T)k->gsc;
            for (int64_t c = 0; c < C; c++) {
                const FX_T wc = w != NULL ? w[c] : (FX_T)1;
                const FX_T *xc = xt + c * xcs;
                FX_T *gc = gtile + c * gcs;
                if (soft) {
                    const FX_T *yc = y + t0 * yrs + c * ycs;
#pragma omp simd
                    for (int64_t j = 0; j < nt; j++)
                        gc[j * grs] = gt_a[j] * FX_EXP(xc[j * xrs] - sh[j])
                                      - b * ((one_m_eps * yc[j * yrs] + eps_c) * wc);
                } else {
                    const FX_T bc = b * eps_c * wc;
#pragma omp simd
                    for (int64_t j = 0; j < nt; j++)
                        gc[j * grs] = gt_a[j] * FX_EXP(xc[j * xrs] - sh[j]) - bc;
                }
            }
        }
        for (int64_t j = 0; j < nt; j++) {
            const int64_t r = t0 + j;
            FX_T *gr = gtile + j * grs;
            if (!xent) {
                if (!isfinite(lse[j]))
                    for (int64_t c = 0; c < C; c++) gr[c * gcs] = (FX_T)NAN;
            } else if (av[j] == 0.0 && !(lab != NULL && lab[r] == k->ignore_index)) {
                /* A = 0: the softmax term is exactly 0 even where exp(x - m)
                 * is NaN (a NaN or +inf row); what is left is -scale v */
                FX_FN(xent_zero_weight_grad)(k, C, soft ? y + r * yrs : NULL, ycs, gr, gcs);
                if (!soft) gr[lab[r] * gcs] -= (FX_T)(k->gsc * (1.0 - k->eps) * (w != NULL ? (double)w[lab[r]] : 1.0));
            } else if (!soft) {
                if (lab[r] == k->ignore_index) {
                    for (int64_t c = 0; c < C; c++) gr[c * gcs] = 0;
                } else {
                    double wy = w != NULL ? (double)w[lab[r]] : 1.0;
                    gr[lab[r] * gcs] -= (FX_T)(k->gsc * (1.0 - k->eps) * wy);
                }
            }
        }
    }
    return total;
}

/* Short contiguous rows: a within-row vector loop would be mostly tail and
 * horizontal reductions, so tiles of FX_TROWS rows are transposed into
 * class-major buffers (see fx_transpose_tmpl.h) and handled across rows by
 * xent_rows_strided; the gradient is transposed back. The buffers (up to
 * 3 x 32 KiB) are taken from the heap once per block: on a thread's stack
 * they overflow small stacks (musl's default is 128 KiB, Python threads may
 * have 32 KiB). Without memory the tiles are read in place, strided, with
 * the same arithmetic and the same bits. */
static double FX_FN(xent_rows_short)(
    const FX_FN(xent_ctx) *k, int64_t n,
    const FX_T *x, int64_t xrs, const FX_T *y, int64_t yrs,
    const int64_t *lab, FX_T *lout, FX_T *g, int64_t grs)
{
    const int64_t C = k->C;
    const size_t tile = (size_t)FX_TROWS * FX_SMALL_C;
    FX_T *xb = (FX_T *)malloc(tile * sizeof(FX_T) * (1 + (y != NULL) + (g != NULL)));
    FX_T *yb = xb != NULL && y != NULL ? xb + tile : NULL;
    FX_T *gb = xb != NULL && g != NULL ? xb + tile * (1 + (y != NULL)) : NULL;
    double total = 0.0;
    for (int64_t t0 = 0; t0 < n; t0 += FX_TROWS) {
        const int64_t nt = n - t0 < FX_TROWS ? n - t0 : FX_TROWS;
        const int64_t *lt = lab != NULL ? lab + t0 : NULL;
        FX_T *lo = lout != NULL ? lout + t0 : NULL;
        if (xb == NULL) {
            total += FX_FN(xent_rows_strided)(k, nt, x + t0 * xrs, xrs, 1,
                                              y != NULL ? y + t0 * yrs : NULL, yrs, 1, lt, lo,
                                              g != NULL ? g + t0 * grs : NULL, grs, 1);
            continue;
        }
        FX_FN(transpose)(x + t0 * xrs, xrs, xb, nt, nt, C);
        if (y != NULL) FX_FN(transpose)(y + t0 * yrs, yrs, yb, nt, nt, C);
        total += FX_FN(xent_rows_strided)(k, nt, xb, 1, nt, yb, 1, nt, lt, lo, gb, 1, nt);
        if (g != NULL) FX_FN(transpose)(gb, nt, g + t0 * grs, grs, C, nt);
    }
    free(xb);
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
    k.mode = p->mode;

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
    if (contiguous && (k.C <= FX_SMALL_C || k.C < FX_VL))
        return FX_FN(xent_rows_short)(&k, n, x, xrs, y, yrs, lab, lout, g, grs);
    if (!contiguous)
        return FX_FN(xent_rows_strided)(&k, n, x, xrs, p->xs_class, y, yrs,
                                        p->ys_class, lab, lout, g, grs, p->gs_class);

    /* log_softmax writes x - lse at the end; there are no exps to store */
    FX_T *store = k.mode == FX_LOG_SOFTMAX ? NULL : g;
#define FX_IGNORED(j) (lab != NULL && y == NULL && lab[j] == k.ignore_index)
    double total = 0.0;
    if (k.C <= FX_CHUNK) {
        /* rows of one chunk: statistics for a group of rows, one vector log
         * for the group, then the losses (and gradients) */
        FX_FN(xent_stats) st[FX_GROUP];
        double sm1[FX_GROUP], ls[FX_GROUP];
        for (int64_t j0 = 0; j0 < n; j0 += FX_GROUP) {
            const int64_t ng = n - j0 < FX_GROUP ? n - j0 : FX_GROUP;
            for (int64_t j = j0; j < j0 + ng; j++) {
                if (j + 1 < n) FX_FN(prefetch)(x + (j + 1) * xrs, k.C);
                if (FX_IGNORED(j)) {
                    sm1[j - j0] = 0.0;
                    continue;
                }
                FX_FN(xent_row_stats)(&k, x + j * xrs, y != NULL ? y + j * yrs : NULL,
                                      store != NULL ? store + j * grs : NULL,
                                      &st[j - j0].shift, &st[j - j0]);
                sm1[j - j0] = FX_FN(xent_sm1)(&st[j - j0]);
            }
#pragma omp simd
            for (int64_t j = 0; j < ng; j++) ls[j] = fx_log1p_f64(sm1[j]);
            for (int64_t j = j0; j < j0 + ng; j++) {
                FX_T *gr = g != NULL ? g + j * grs : NULL;
                double loss;
                if (FX_IGNORED(j)) {
                    loss = 0.0;
                    if (gr != NULL)
                        for (int64_t c = 0; c < k.C; c++) gr[c] = 0;
                } else {
                    loss = FX_FN(xent_row_finish)(&k, x + j * xrs, y != NULL ? y + j * yrs : NULL,
                                                  lab != NULL ? lab[j] : 0, gr, &st[j - j0].shift,
                                                  &st[j - j0], ls[j - j0]);
                }
                if (lout != NULL) lout[j] = (FX_T)loss;
                total += loss;
            }
        }
        return total;
    }
    for (int64_t j = 0; j < n; j++) {
        const FX_T *xr = x + j * xrs;
        FX_T *gr = g != NULL ? g + j * grs : NULL;
        double loss;
        if (FX_IGNORED(j)) {
            loss = 0.0;
            if (gr != NULL)
                for (int64_t c = 0; c < k.C; c++) gr[c] = 0;
        } else {
            loss = FX_FN(xent_row)(&k, xr, y != NULL ? y + j * yrs : NULL,
                                   lab != NULL ? lab[j] : 0, gr);
        }
        if (lout != NULL) lout[j] = (FX_T)loss;
        total += loss;
    }
#undef FX_IGNORED
    return total;
}

#undef FX_FN
