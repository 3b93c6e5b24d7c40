/* fx_eval_tmpl.h - the evaluation metrics' row kernel, one instance per
 * dtype and ISA. Template parameters: fx_dtype_f32.h lists them (FX_T,
 * FX_EXP_SUM, FX_CHUNK); the row prefetch is fx_rows_tmpl.h's.
 *
 * One read of a row (blocked online max, as the cross-entropy kernel) gives,
 * with e_c = exp(x_c - m), m the row max and s = sum e = ties + small:
 *   nll = log s + (m - x_t)                 (log s = log1p(ties - 1 + small))
 *   entropy = log s - s1 / s,               s1 = sum e_c (x_c - m) <= 0
 *   brier = ((s - e_t)^2 + (s2 - e_t^2)) / s^2,   s2 = sum e^2
 *   max prob = 1 / s, argmax (ties first or last), rank of t (classes ahead)
 * and with reference logits r (P_ref = softmax(r), m_r, s_r alike)
 *   KL(P_ref || P) = (1 / s_r) sum er_c (r_c - x_c) + (m - m_r) + (log s - log s_r).
 * Each term is a sum of non-negative parts except KL's, clamped at 0.
 * Every sum runs in FX_T over one chunk, then in double.
 */
#if !FX_HALF
typedef struct {
    FX_T m;                       /* row max (the shift of every sum) */
    int64_t argmax;
    double small, ties, s1, small2;
    double gt, eq;                /* logits > x_t and == x_t (tiles), or gt the rank, eq 0 */
    int bad;                      /* the softmax is undefined */
    FX_T mr;
    int64_t argmax_r;
    double rsmall, rties, rdot;   /* rdot = sum er (r - x) */
} FX_FN(eval_stats);

/* log1p(s - 1) and exp(x_t - m) (1 at the max), the same expressions for
 * every path (fx_math.h's, vectorisable) */
#define FX_EVAL_LS(ties, small) fx_log1p_f64(((ties) - 1.0) + (small))
#define FX_EVAL_ET(xt, m) ((xt) == (m) ? 1.0 : fx_exp_f64((double)(xt) - (double)(m)))

/* The max of a chunk and, with `count`, the numbers of its entries > x_t
 * and == x_t, added to *gt and *eq (the tiles' counts: eval_rank turns
 * them into the rank, looking at the side of the target only when another
 * entry ties with it). One compare per entry and count, in integers
 * (exact, associative: the vectoriser's lanes cannot change them). Whole
 * vectors, then one tail vector ending at the chunk's end whose lanes
 * already seen are dropped (it may reach back into the row's previous
 * chunk: C >= FX_VL, as fx_rows_tmpl.h's FX_TAIL_LANES). NaN entries are
 * left out of the max; they are found through the NaN they make of the
 * sums of exps. */
static inline FX_ALWAYS_INLINE FX_T FX_FN(eval_chunk_max)(const FX_T *xc, int64_t n, FX_T xt,
                                                          const int count, double *gt,
                                                          double *eq)
{
    const int64_t nv = n - n % FX_VL, tb = n - FX_VL;
    FX_T cm = -(FX_T)INFINITY;
    int kg = 0, ke = 0;
    if (!count) {
#pragma omp simd reduction(max : cm)
        for (int64_t j = 0; j < nv; j++) cm = xc[j] > cm ? xc[j] : cm;
    } else {
#pragma omp simd reduction(max : cm) reduction(+ : kg, ke)
        for (int64_t j = 0; j < nv; j++) {
            cm = xc[j] > cm ? xc[j] : cm;
            kg += xc[j] > xt;
            ke += xc[j] == xt;
        }
    }
    if (nv < n) {
        FX_TAIL_LANES(vl);
        const FX_T *xe = xc + tb;
        if (!count) {
#pragma omp simd reduction(max : cm)
            for (int64_t l = 0; l < vl; l++)
                cm = (tb + l >= nv && xe[l] > cm) ? xe[l] : cm;
        } else {
#pragma omp simd reduction(max : cm) reduction(+ : kg, ke)
            for (int64_t l = 0; l < vl; l++) {
                const int keep = tb + l >= nv;
                cm = (keep && xe[l] > cm) ? xe[l] : cm;
                kg += keep & (xe[l] > xt);
                ke += keep & (xe[l] == xt);
            }
        }
    }
    if (count) {
        *gt += (double)kg;
        *eq += (double)ke;
    }
    return cm;
}

/* The index of the first (last: the last) entry of x[0, n) equal to v, or
 * -1 (the argmax, in the chunk known to hold the row's max, n <= FX_CHUNK):
 * one pass with no early exit, a vectorised min (max) of int indices. */
static inline int64_t FX_FN(eval_find)(const FX_T *x, int64_t n, FX_T v, int last)
{
    const int nn = (int)n;
    int k;
    if (last) {
        k = -1;
#pragma omp simd reduction(max : k)
        for (int j = 0; j < nn; j++) {
            const int c = x[j] == v ? j : -1;   /* a select, then a max: no */
            k = c > k ? c : k;                  /* mask chained across iterations */
        }
    } else {
        k = nn;
#pragma omp simd reduction(min : k)
        for (int j = 0; j < nn; j++) {
            const int c = x[j] == v ? j : nn;
            k = c < k ? c : k;
        }
        k = k < nn ? k : -1;
    }
    return k;
}

/* s = ties + small, s1 and s2 of a row rescaled from shift `old` to `new` */
static inline void FX_FN(eval_rescale)(double *small, double *ties, double *s1,
                                       double *small2, double old, double new_)
{
    const double r = exp(old - new_), s = *small + *ties;
    if (s1 != NULL) *s1 = r * (*s1 + s * (old - new_));
    if (small2 != NULL) *small2 = (*small2 + *ties) * r * r;
    *small = s * r;
    *ties = 0.0;
}

/* Prefetch while a chunk's exps are computed: the chunk's sums run in
 * pieces of `piece` elements, and before each piece the same span of the
 * data read next (the row's next chunk, or the next row: `pf`, npf
 * elements, NULL for none) is asked for, a line per 64 bytes. A row read
 * from memory then streams in while the exps keep the cores busy, instead
 * of the max pass waiting for it with the vector units idle. Each piece is
 * one vector loop whose lanes are added in order at its end (GCC's omp
 * simd reduction), and a burst of more than about 32 lines stalls on the
 * line fill buffers: pieces of 2 KiB for rows of one chunk (the next row
 * in two bursts), of 1 KiB for longer rows (streamed from memory, where
 * smaller bursts measured faster). */
#define FX_EV_PIECE_ROW (2048 / (int64_t)sizeof(FX_T))
#define FX_EV_PIECE_LONG (1024 / (int64_t)sizeof(FX_T))
static inline FX_ALWAYS_INLINE void FX_FN(eval_prefetch_piece)(const FX_T *pf, int64_t npf,
                                                               int64_t j0, int64_t piece)
{
#if defined(__GNUC__) || defined(__clang__)
    if (pf == NULL || j0 >= npf) return;
    const int64_t j1 = j0 + piece < npf ? j0 + piece : npf;
    for (const char *q = (const char *)(pf + j0); q < (const char *)(pf + j1); q += 64)
        __builtin_prefetch(q, 0, 3);
#else
    (void)pf;
    (void)npf;
    (void)j0;
    (void)piece;
#endif
}

/* The sums of one chunk of exps e = exp(d), d = x - shift (see the file
 * header): the entries at the max (d == 0) are counted apart; e d is
 * taken at d clamped below at FX_EXP_SUM_LO (e is 0 there: the clamp the
 * exp does itself), so x = -inf adds 0, not NaN; a NaN d makes e, hence
 * cs, NaN: the row is then undefined. Values are selected, not added
 * under conditions: the vectoriser then gives one masked op each. Whole
 * vectors in pieces, then the tail vector as eval_chunk_max's. */
#define FX_EV_EXP_TERMS(v, keep)                                  \
    const FX_T d = (v) - shift;                                   \
    const FX_T e = FX_EXP_SUM(d);                                 \
    const int z = (keep) && d == 0;                               \
    const FX_T dc = d < FX_EXP_SUM_LO ? FX_EXP_SUM_LO : d;        \
    const FX_T ek = (keep) ? e : (FX_T)0;                         \
    const FX_T ez = z || !(keep) ? (FX_T)0 : e;                   \
    cs += ez;                                                     \
    cn += z;                                                      \
    c1 += ek * dc;                                                \
    c2 += ez * e
static inline FX_ALWAYS_INLINE void FX_FN(eval_chunk_exps)(const FX_T *xc, int64_t n,
                                                           FX_T shift, const FX_T *pf,
                                                           int64_t npf, int64_t piece,
                                                           double *small,
                                                           double *ties, double *s1,
                                                           double *small2)
{
    const int64_t nv = n - n % FX_VL, tb = n - FX_VL;
    for (int64_t j0 = 0; j0 < nv; j0 += piece) {
        const int64_t j1 = j0 + piece < nv ? j0 + piece : nv;
        FX_FN(eval_prefetch_piece)(pf, npf, j0, piece);
        FX_T cs = 0, c1 = 0, c2 = 0;
        int cn = 0;
#pragma omp simd reduction(+ : cs, cn, c1, c2)
        for (int64_t j = j0; j < j1; j++) {
            FX_EV_EXP_TERMS(xc[j], 1);
        }
        *small += (double)cs;
        *ties += (double)cn;
        *s1 += (double)c1;
        *small2 += (double)c2;
    }
    if (nv < n) {
        FX_TAIL_LANES(vl);
        FX_T cs = 0, c1 = 0, c2 = 0;
        int cn = 0;
#pragma omp simd reduction(+ : cs, cn, c1, c2)
        for (int64_t l = 0; l < vl; l++) {
            FX_EV_EXP_TERMS(xc[tb + l], tb + l >= nv);
        }
        *small += (double)cs;
        *ties += (double)cn;
        *s1 += (double)c1;
        *small2 += (double)c2;
    }
}
#undef FX_EV_EXP_TERMS

/* The same for the reference row r against x: rs, rn and rdot = sum
 * er (r - x), r - x clamped below at -FX_HUGE (er = 0 where r = -inf). */
#define FX_EV_REF_TERMS(j, keep)                                              \
    const FX_T d = rc[j] - shift;                                             \
    const FX_T e = FX_EXP_SUM(d);                                             \
    const int z = (keep) && d == 0;                                           \
    const FX_T g = rc[j] - xc[j];                                             \
    rs += z || !(keep) ? (FX_T)0 : e;                                         \
    rn += z;                                                                  \
    const FX_T eg = e * (g > -FX_HUGE ? g : -FX_HUGE); /* NaN g: er = 0 */  \
    rd += (keep) ? eg : (FX_T)0 /* a dropped lane's x may be -inf */
static inline FX_ALWAYS_INLINE void FX_FN(eval_chunk_ref)(const FX_T *rc, const FX_T *xc,
                                                          int64_t n, FX_T shift, const FX_T *pf,
                                                          int64_t npf, int64_t piece,
                                                          double *rsmall,
                                                          double *rties, double *rdot)
{
    const int64_t nv = n - n % FX_VL, tb = n - FX_VL;
    for (int64_t j0 = 0; j0 < nv; j0 += piece) {
        const int64_t j1 = j0 + piece < nv ? j0 + piece : nv;
        FX_FN(eval_prefetch_piece)(pf, npf, j0, piece);
        FX_T rs = 0, rd = 0;
        int rn = 0;
#pragma omp simd reduction(+ : rs, rn, rd)
        for (int64_t j = j0; j < j1; j++) {
            FX_EV_REF_TERMS(j, 1);
        }
        *rsmall += (double)rs;
        *rties += (double)rn;
        *rdot += (double)rd;
    }
    if (nv < n) {
        FX_TAIL_LANES(vl);
        FX_T rs = 0, rd = 0;
        int rn = 0;
#pragma omp simd reduction(+ : rs, rn, rd)
        for (int64_t l = 0; l < vl; l++) {
            FX_EV_REF_TERMS(tb + l, tb + l >= nv);
        }
        *rsmall += (double)rs;
        *rties += (double)rn;
        *rdot += (double)rd;
    }
}
#undef FX_EV_REF_TERMS

/* The statistics of one contiguous row x (and reference row xr) whose
 * target holds xt; the argmax (and the reference's) only when asked
 * (need_am), found afterwards in the chunk that holds the max. xn and rn
 * (or NULL) are the rows read next, prefetched during the last chunk. */
static inline FX_ALWAYS_INLINE void FX_FN(eval_row)(const FX_T *x, const FX_T *xr, int64_t C,
                                                    FX_T xt, int last,
                                                    const int has_ref, int need_am,
                                                    const FX_T *xn, const FX_T *rn,
                                                    FX_FN(eval_stats) *st)
{
    FX_T m = -(FX_T)INFINITY, mr = -(FX_T)INFINITY;
    int64_t amc = 0, amcr = 0;   /* the chunks that hold the argmax */
    const int64_t piece = C > FX_CHUNK ? FX_EV_PIECE_LONG : FX_EV_PIECE_ROW;
    double small = 0, ties = 0, s1 = 0, small2 = 0, gt = 0, eq = 0;
    double rsmall = 0, rties = 0, rdot = 0;
    for (int64_t c0 = 0; c0 < C; c0 += FX_CHUNK) {
        const int64_t n = C - c0 < FX_CHUNK ? C - c0 : FX_CHUNK;
        const FX_T *xc = x + c0;
        const FX_T cm = FX_FN(eval_chunk_max)(xc, n, xt, 1, &gt, &eq);
        if (cm > m || (last && cm == m)) amc = c0;
        if (cm > m) {
            if (m > -(FX_T)INFINITY) FX_FN(eval_rescale)(&small, &ties, &s1, &small2, m, cm);
            m = cm;
        }
        const int more = c0 + FX_CHUNK < C;   /* else prefetch the next row */
        const int64_t np = more ? C - c0 - FX_CHUNK : C;
        const int64_t npf = np < FX_CHUNK ? np : FX_CHUNK;
        FX_FN(eval_chunk_exps)(xc, n, m, more ? xc + FX_CHUNK : xn, npf, piece, &small, &ties,
                               &s1, &small2);
        if (has_ref) {
            const FX_T *rc = xr + c0;
            const FX_T cr = FX_FN(eval_chunk_max)(rc, n, 0, 0, NULL, NULL);
            if (cr > mr || (last && cr == mr)) amcr = c0;
            if (cr > mr) {
                if (mr > -(FX_T)INFINITY) {
                    rdot *= exp((double)mr - (double)cr);
                    FX_FN(eval_rescale)(&rsmall, &rties, NULL, NULL, mr, cr);
                }
                mr = cr;
            }
            FX_FN(eval_chunk_ref)(rc, xc, n, mr, more ? rc + FX_CHUNK : rn, npf, piece,
                                  &rsmall, &rties, &rdot);
        }
    }
    st->m = m;
    st->argmax = -1;
    st->argmax_r = -1;
    if (need_am) {
        const int64_t n = C - amc < FX_CHUNK ? C - amc : FX_CHUNK;
        const int64_t j = FX_FN(eval_find)(x + amc, n, m, last);
        st->argmax = j < 0 ? -1 : amc + j;
        if (has_ref) {
            const int64_t nr = C - amcr < FX_CHUNK ? C - amcr : FX_CHUNK;
            const int64_t jr = FX_FN(eval_find)(xr + amcr, nr, mr, last);
            st->argmax_r = jr < 0 ? -1 : amcr + jr;
        }
    }
    st->small = small;
    st->ties = ties;
    st->s1 = s1;
    st->small2 = small2;
    st->gt = gt;
    st->eq = eq;
    /* undefined softmax: a NaN (NaN sums), +inf or only -inf */
    st->bad = small != small || s1 != s1 || m == (FX_T)INFINITY || m == -(FX_T)INFINITY
              || (has_ref && (rsmall != rsmall || mr == (FX_T)INFINITY
                              || mr == -(FX_T)INFINITY));
    st->mr = mr;
    st->rsmall = rsmall;
    st->rties = rties;
    st->rdot = rdot;
}

/* The row's metrics from its statistics (see the file header), written
 * once for a group of long rows (eval_group_finish) and a tile's rows
 * (eval_tile_stats), vectorised: the same operations in every lane. */
static inline FX_ALWAYS_INLINE void FX_FN(eval_core)(double m, double xt, double ties,
                                                     double small, double s1, double small2,
                                                     double ls, double et, double *nll,
                                                     double *max_prob, double *entropy,
                                                     double *brier, double *p_t)
{
    const double s = ties + small;
    const int t_is_max = xt == m;
    *nll = ls + (m - xt);
    *max_prob = 1.0 / s;
    *entropy = ls - s1 / s;
    const double om = t_is_max ? (ties - 1.0) + small : s - et;
    const double rest = t_is_max ? (ties - 1.0) + small2 : ties + small2 - et * et;
    *brier = (om * om + rest) / (s * s);
    *p_t = et / s;
}

static inline FX_ALWAYS_INLINE void FX_FN(eval_core_ref)(double m, double mr, double ls,
                                                         double lsr, double rdot, double sr,
                                                         double ert, double p_t, double *kl,
                                                         double *delta_p)
{
    const double k = rdot / sr + (m - mr) + (ls - lsr);
    *kl = k > 0.0 ? k : 0.0;
    *delta_p = p_t - ert / sr;
}

/* The classes ahead of the target: gt, plus, when other classes tie with
 * it (eq > 1), those of them on the side `ties` puts ahead (a vector
 * count of equal entries over that side: ties are common in low-precision
 * logits). */
static inline int64_t FX_FN(eval_rank)(double gt, double eq, const FX_T *x, int64_t xcs,
                                       int64_t C, int64_t t, int last)
{
    int64_t ahead = (int64_t)gt;
    if (eq > 1.0) {
        const FX_T xt = x[t * xcs];
        const int64_t c0 = last ? t + 1 : 0, c1 = last ? C : t;
        int64_t k = 0;
#pragma omp simd reduction(+ : k)
        for (int64_t c = c0; c < c1; c++) k += x[c * xcs] == xt;
        ahead += k;
    }
    return ahead;
}

#include "fx_eval_tiles_tmpl.h"

#include "fx_eval_long_tmpl.h"

/* One block of rows: statistics, per-row outputs, exact sums. Rows of at
 * most FX_SMALL_C classes go through tiles whatever their layout, longer
 * ones one by one (a row's values do not depend on its memory layout). */
static void FX_FN(eval_block)(const void *vctx, const fx_plan *plan, int64_t b, double *out)
{
    const fx_eval_ctx *ctx = (const fx_eval_ctx *)vctx;
    const fx_eval_problem *p = ctx->p;
    const fx_eval_span sp = fx_eval_block_span(p, plan, b);
    const int64_t C = p->C, n = sp.n, r0 = sp.r0, xrs = sp.xrs, rrs = sp.rrs;
    const int has_ref = p->xr.data != NULL;
    const FX_T *X = (const FX_T *)p->x.data + sp.x0;
    const FX_T *R = has_ref ? (const FX_T *)p->xr.data + sp.xr0 : NULL;
    const int tiles = C <= FX_SMALL_C;
    const int copy = p->x.s_class != 1 || (has_ref && p->xr.s_class != 1);
    /* heap, not stack: small thread stacks (see xent_rows_short) */
    const size_t tile_bytes = sizeof(FX_FN(eval_tile));
    size_t bytes = 0;
    if (tiles) bytes = tile_bytes + (size_t)(has_ref ? 2 : 1) * FX_ET * C * sizeof(FX_T);
    else if (copy) bytes = (size_t)C * 2 * sizeof(FX_T);
    void *work;
    fx_eval_tally tally;
    int64_t *acc;
    if (!fx_eval_block_begin(ctx, bytes, &work, &acc, &tally, out)) return;
    if (tiles) {
        char *w = (char *)work;
        FX_FN(eval_rows_short)(ctx, &tally, acc, r0, n, X, xrs, R, rrs, (FX_FN(eval_tile) *)w,
                               (FX_T *)(w + tile_bytes));
    } else {
        FX_FN(eval_rows_long)(ctx, &tally, acc, r0, n, X, xrs, R, rrs, copy ? (FX_T *)work : NULL);
    }
    fx_eval_block_end(ctx, &tally, acc, work, out);
}

#undef FX_ET
#else
/* A row of C stored values with class stride cs into buf as FX_T. */
static inline void FX_FN(eval_gather)(FX_T *buf, const FX_S *row, int64_t C, int64_t cs)
{
#if FX_HALF
    if (cs == 1) {
        FX_WIDEN(buf, row, C);
        return;
    }
#endif
    for (int64_t c = 0; c < C; c++) buf[c] = FX_LD(row[c * cs]);
}

/* A half dtype: its rows are widened into float32 rows (FX_TROWS at a time
 * for the tiles of short rows, one at a time else) and handed to float32's
 * own row functions, so the statistics, sums and per-row outputs are
 * float32's, bit for bit. Their problem is a copy whose class strides are 1
 * (they read the widened rows); every output pointer is the caller's. */
#define FX_F32_FN(name) FX_CAT(FX_CAT(FX_CAT(name, _), FX_SFX_T), FX_CAT(_, FX_ISA_SUFFIX))
static void FX_FN(eval_block)(const void *vctx, const fx_plan *plan, int64_t b, double *out)
{
    const fx_eval_ctx *ctx = (const fx_eval_ctx *)vctx;
    const fx_eval_problem *p = ctx->p;
    const fx_eval_span sp = fx_eval_block_span(p, plan, b);
    const int64_t C = p->C, n = sp.n, r0 = sp.r0, xrs = sp.xrs, rrs = sp.rrs;
    const int has_ref = p->xr.data != NULL;
    const FX_S *X = (const FX_S *)p->x.data + sp.x0;
    const FX_S *R = has_ref ? (const FX_S *)p->xr.data + sp.xr0 : NULL;
    fx_eval_problem unit = *p;
    unit.x.s_class = 1;
    unit.xr.s_class = 1;
    fx_eval_ctx uctx = *ctx;
    uctx.p = &unit;
    const int tiles = C <= FX_SMALL_C;
    const int64_t group = tiles ? FX_TROWS : 1;   /* rows widened together */
    const size_t nin = has_ref ? 2 : 1;
    const size_t tile_bytes = tiles ? sizeof(FX_F32_FN(eval_tile)) : 0;
    const size_t bytes = tile_bytes + (size_t)(tiles ? 2 : 1) * nin * (size_t)(group * C) * sizeof(FX_T);
    void *work;
    fx_eval_tally tally;
    int64_t *acc;
    if (!fx_eval_block_begin(ctx, bytes, &work, &acc, &tally, out)) return;
    char *w = (char *)work;
    FX_T *tbuf = (FX_T *)(w + tile_bytes);            /* float32's tile buffer */
    FX_T *wx = tbuf + (tiles ? nin * (size_t)(group * C) : 0);   /* widened rows */
    FX_T *wr = has_ref ? wx + group * C : NULL;
    for (int64_t t0 = 0; t0 < n; t0 += group) {
        const int64_t nt = n - t0 < group ? n - t0 : group;
        for (int64_t j = 0; j < nt; j++) {
            FX_FN(eval_gather)(wx + j * C, X + (t0 + j) * xrs, C, p->x.s_class);
            if (has_ref) FX_FN(eval_gather)(wr + j * C, R + (t0 + j) * rrs, C, p->xr.s_class);
        }
        if (tiles)
            FX_F32_FN(eval_rows_short)(&uctx, &tally, acc, r0 + t0, nt, wx, C, wr, C,
                                       (FX_F32_FN(eval_tile) *)w, tbuf);
        else
            FX_F32_FN(eval_rows_long)(&uctx, &tally, acc, r0 + t0, nt, wx, C, wr, C, NULL);
    }
    fx_eval_block_end(ctx, &tally, acc, work, out);
}
#undef FX_F32_FN
#endif
