/* fx_rows_tmpl.h - the row machinery shared by the row families (softmax
 * cross-entropy, logsumexp / log_softmax / softmax), one instance per
 * dtype and ISA. Template parameters: fx_dtype_f32.h lists them; FX_VL_BYTES
 * and FX_ISA_SUFFIX come from the ISA variant (isa_*.c).
 *
 * Every row result is built from the same statistics of the row, gathered
 * in one read. A cross-entropy row loss is written as a sum of non-negative
 * terms,
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
 * The softmax family uses the same statistics with no target (A = 1, v = 0):
 * logsumexp = m + log(s).
 *
 * The families finish a contiguous row from these (fx_xent_tmpl.h:
 * xent_row_finish, the loss and gradient; fx_softmax_tmpl.h:
 * norm_row_finish, logsumexp / log_softmax / softmax); k->mode says which
 * (FX_XENT or an fx_softmax_op). The strided tiles (xent_rows_strided)
 * still finish both families in place, under mode branches.
 */

typedef struct {
    int64_t C;
    const FX_T *w;       /* class weights or NULL */
    FX_T *xbuf, *ybuf;   /* half dtypes: FX_VL + FX_CHUNK widened x, y (chunk_view) */
    double eps, eps_c;   /* smoothing and smoothing / C */
    double gsc;          /* gradient scale of the reduction */
    int64_t ignore_index;
    int mode;            /* FX_XENT, FX_LOGSUMEXP, FX_LOG_SOFTMAX or FX_SOFTMAX */
} FX_FN(xent_ctx);

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
 * opaque copy of the count keeps them one vector instruction each.
 * FX_TAIL_LANES(vl) declares that count; every tail loop is
 *     FX_TAIL_LANES(vl);
 *     for (int64_t l = 0; l < vl; l++) ... element tb + l, kept if tb + l >= nv
 */
#if defined(__GNUC__) || defined(__clang__)
#define FX_OPAQUE(v) __asm__("" : "+r"(v))
#else
#define FX_OPAQUE(v) ((void)0)
#endif
#define FX_TAIL_LANES(vl) int64_t vl = FX_VL; FX_OPAQUE(vl)

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
        FX_TAIL_LANES(vl);
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

/* The FX_T view of the chunk [c0, c0 + n) of a stored row s: the row itself,
 * or for a half dtype the chunk widened into buf (FX_VL + FX_CHUNK), after
 * the FX_VL elements before it that a short chunk's tail vector reaches
 * back to. The loops then read float32 exactly as for a float32 row, so the
 * compiler makes the same code and the results are float32's bit for bit
 * (inline conversions in the loops changed its contractions into FMAs). */
static inline const FX_T *FX_FN(chunk_view)(FX_T *buf, const FX_S *s, int64_t c0, int64_t n)
{
#if FX_HALF
    const int64_t back = c0 == 0 ? 0 : FX_VL;
    FX_WIDEN(buf + FX_VL - back, s + c0 - back, n + back);
    return buf + FX_VL;
#else
    (void)buf;
    (void)n;
    return s + c0;
#endif
}

/* The finishing of each family (fx_xent_tmpl.h, fx_softmax_tmpl.h). */
static inline double FX_FN(norm_lse)(const FX_S *x, int64_t C, int64_t cs,
                                     FX_T m, FX_T shift, double ls);
static inline double FX_FN(xent_finish)(const FX_FN(xent_ctx) *k, int soft,
                                        double ls, double shift, double tacc,
                                        double aacc, double xy, double wy,
                                        double *a_out);
static inline double FX_FN(xent_row_finish)(const FX_FN(xent_ctx) *k, const FX_S *x,
                                            const FX_S *y, int64_t label, FX_T *g,
                                            const FX_T *shifts,
                                            const FX_FN(xent_stats) *st, double ls);
static inline double FX_FN(xent_row_weight)(const FX_FN(xent_ctx) *k, int soft,
                                            double aacc, int64_t label);
static void FX_FN(xent_zero_weight_grad)(const FX_FN(xent_ctx) *k, int64_t C,
                                         const FX_S *yr, int64_t ycs,
                                         FX_T *gr, int64_t gcs);
static inline double FX_FN(norm_row_finish)(const FX_FN(xent_ctx) *k, const FX_S *x,
                                            FX_T *out, const FX_T *shifts,
                                            const FX_FN(xent_stats) *st, double ls);


/* Asks for the first min(n, FX_PREFETCH) elements of the next row to be
 * brought into the cache, one request per 64-byte line, while the current
 * row is computed: a row read straight from memory otherwise waits for the
 * hardware prefetcher to ramp up in its max pass, and computes its exps
 * with the memory idle. (Prefetching the next chunk of a long row, 4 or
 * 16 KiB ahead, measured no faster.) */
#define FX_PREFETCH (4096 / (int64_t)sizeof(FX_S))
static inline void FX_FN(prefetch)(const FX_S *r, int64_t n)
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

/* The exp loop of a chunk, written once for both uses: adds to cs the sum
 * of exp(x - shift) over the entries below shift and to cn the count of
 * those equal to it; STORE / STORE_TAIL store the exps (gc[j] = e) or do
 * nothing ((void)0). A macro, not a function, so each use compiles to the
 * very loop it replaced. Uses xc, nv, tb, has_tail, shift, cs, cn. */
#define FX_EXP_CHUNK(STORE, STORE_TAIL)                                      \
    do {                                                                     \
        _Pragma("omp simd reduction(+ : cs, cn)")                            \
        for (int64_t j = 0; j < nv; j++) {                                   \
            const FX_T d = xc[j] - shift;                                    \
            const FX_T e = FX_EXP_SUM(d);                                    \
            STORE;                                                           \
            cs += d == 0 ? (FX_T)0 : e;                                      \
            cn += d == 0 ? (FX_T)1 : (FX_T)0;                                \
        }                                                                    \
        if (has_tail) {                                                      \
            FX_TAIL_LANES(vl);                                               \
            _Pragma("omp simd reduction(+ : cs, cn)")                        \
            for (int64_t l = 0; l < vl; l++) {                               \
                const int keep = tb + l >= nv;                               \
                const FX_T d = xc[tb + l] - shift;                           \
                const FX_T e = FX_EXP_SUM(d);                                \
                STORE_TAIL;                                                  \
                cs += (keep && d != 0) ? e : (FX_T)0;                        \
                cn += (keep && d == 0) ? (FX_T)1 : (FX_T)0;                  \
            }                                                                \
        }                                                                    \
    } while (0)

/* First part of a row: the statistics above, in one read of the row. With
 * a gradient, stores exp(x - shift_k) in g and shift_k in shifts[k]. */
static inline void FX_FN(xent_row_stats)(const FX_FN(xent_ctx) *k, const FX_S *x,
                                         const FX_S *y, FX_T *g, FX_T *shifts,
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
        const FX_T *xc = FX_FN(chunk_view)(k->xbuf, x, c0, n);
        FX_T cm = xc[n - 1];
#pragma omp simd reduction(max : cm)
        for (int64_t j = 0; j < nv; j++) cm = xc[j] > cm ? xc[j] : cm;
        if (has_tail) {
            FX_TAIL_LANES(vl);
#pragma omp simd reduction(max : cm)
            /* lanes before nv are counted already; a short last chunk's
             * vector reaches back into the previous chunk, which in place
             * (g == x) already holds exps: select them out */
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
            FX_EXP_CHUNK(gc[j] = e, gc[tb + l] = keep ? e : gc[tb + l]);
            shifts[kk] = shift;
        } else {
            FX_EXP_CHUNK((void)0, (void)0);
        }
        small += (double)cs;
        ties += (double)cn;
        if (need_t) {
            const FX_T *yc = soft ? FX_FN(chunk_view)(k->ybuf, y, c0, n) : NULL;
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

/* A whole row of any length (C >= FX_VL). */
static double FX_FN(xent_row)(const FX_FN(xent_ctx) *k, const FX_S *x,
                              const FX_S *y, int64_t label, FX_T *g)
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

/* the tile strategies: xent_rows_strided, xent_rows_short */
#include "fx_rows_tiles_tmpl.h"

/* The rows of block b of a row problem, by the strategy their layout
 * takes: short contiguous rows transposed into tiles, strided rows in
 * tiles, contiguous rows one by one (groups of rows of one chunk share a
 * vector log). Writes the sum of the row results to out[0]. The block
 * function of both row families: fx_xent and fx_softmax hand it an
 * fx_rows_job built from their problem, and it calls their finishing. */
static void FX_FN(rows_block)(const void *vjob, const fx_plan *plan, int64_t b,
                              double *out)
{
    const fx_rows_job *jb = (const fx_rows_job *)vjob;
    int64_t o, i0, n;
    fx_row_block(plan, jb->outer, jb->inner, b, &o, &i0, &n);
    FX_FN(xent_ctx) kl;
    kl.C = jb->C;
    kl.w = (const FX_T *)jb->weight;
    kl.eps = jb->smoothing;
    kl.eps_c = jb->smoothing / (double)jb->C;
    kl.gsc = plan->grad_scale;
    kl.ignore_index = jb->ignore_index;
    kl.mode = jb->mode;
    const FX_FN(xent_ctx) *k = &kl;

    /* first row of the block and the stride between its rows */
    const int64_t r0 = o * jb->inner + i0;
    int64_t xrs, yrs, grs;
    const int64_t xo = fx_row_origin(&jb->x, jb->inner, o, i0, &xrs);
    const int64_t yo = fx_row_origin(&jb->y, jb->inner, o, i0, &yrs);
    const int64_t go = fx_row_origin(&jb->g, jb->inner, o, i0, &grs);
    const FX_S *x = (const FX_S *)jb->x.data + xo;
    const FX_S *y = jb->y.data != NULL ? (const FX_S *)jb->y.data + yo : NULL;
    FX_T *g = jb->g.data != NULL ? (FX_T *)jb->g.data + go : NULL;
    const int64_t *lab = jb->labels != NULL ? jb->labels + r0 : NULL;
    FX_T *lout = jb->lout != NULL ? (FX_T *)jb->lout + r0 : NULL;

    const int contiguous = jb->x.s_class == 1 && (y == NULL || jb->y.s_class == 1)
                           && (g == NULL || jb->g.s_class == 1);
    if (contiguous && (k->C <= FX_SMALL_C || k->C < FX_VL)) {
        out[0] = FX_FN(xent_rows_short)(k, n, x, xrs, y, yrs, lab, lout, g, grs);
        return;
    }
    kl.xbuf = kl.ybuf = NULL;
#if FX_HALF
    /* chunk_view's buffers; without them (or without unit class strides,
     * which the Python layer never passes for halves) the rows are read
     * strided: the same results to rounding, not float32's bits */
    const size_t nbuf = (size_t)(FX_VL + FX_CHUNK);
    if (contiguous) kl.xbuf = (FX_T *)malloc(nbuf * sizeof(FX_T) * (y != NULL ? 2 : 1));
    kl.ybuf = kl.xbuf != NULL && y != NULL ? kl.xbuf + nbuf : NULL;
    if (kl.xbuf == NULL) {
#else
    if (!contiguous) {
#endif
        out[0] = FX_FN(xent_rows_strided)(k, n, x, xrs, jb->x.s_class, y, yrs,
                                          jb->y.s_class, lab, lout, g, grs, jb->g.s_class);
        return;
    }

    /* log_softmax writes x - lse at the end; there are no exps to store */
    FX_T *store = k->mode == FX_LOG_SOFTMAX ? NULL : g;
#define FX_IGNORED(j) (lab != NULL && y == NULL && lab[j] == k->ignore_index)
    double total = 0.0;
    if (k->C <= FX_CHUNK) {
        /* rows of one chunk: statistics for a group of rows, one vector log
         * for the group, then the losses (and gradients) */
        FX_FN(xent_stats) st[FX_GROUP];
        double sm1[FX_GROUP], ls[FX_GROUP];
        for (int64_t j0 = 0; j0 < n; j0 += FX_GROUP) {
            const int64_t ng = n - j0 < FX_GROUP ? n - j0 : FX_GROUP;
            for (int64_t j = j0; j < j0 + ng; j++) {
                if (j + 1 < n) FX_FN(prefetch)(x + (j + 1) * xrs, k->C);
                if (FX_IGNORED(j)) {
                    sm1[j - j0] = 0.0;
                    continue;
                }
                FX_FN(xent_row_stats)(k, x + j * xrs, y != NULL ? y + j * yrs : NULL,
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
                        for (int64_t c = 0; c < k->C; c++) gr[c] = 0;
                } else {
                    loss = FX_FN(xent_row_finish)(k, x + j * xrs, y != NULL ? y + j * yrs : NULL,
                                                  lab != NULL ? lab[j] : 0, gr, &st[j - j0].shift,
                                                  &st[j - j0], ls[j - j0]);
                }
                if (lout != NULL) lout[j] = (FX_T)loss;
                total += loss;
            }
        }
        free(kl.xbuf);
        out[0] = total;
        return;
    }
    for (int64_t j = 0; j < n; j++) {
        const FX_S *xr = x + j * xrs;
        FX_T *gr = g != NULL ? g + j * grs : NULL;
        double loss;
        if (FX_IGNORED(j)) {
            loss = 0.0;
            if (gr != NULL)
                for (int64_t c = 0; c < k->C; c++) gr[c] = 0;
        } else {
            loss = FX_FN(xent_row)(k, xr, y != NULL ? y + j * yrs : NULL,
                                   lab != NULL ? lab[j] : 0, gr);
        }
        if (lout != NULL) lout[j] = (FX_T)loss;
        total += loss;
    }
#undef FX_IGNORED
    free(kl.xbuf);
    out[0] = total;
}
