/* fx_rows_tiles_tmpl.h - the tile strategies of the row machinery: rows of
 * any strides vectorised across rows (xent_rows_strided) and short rows
 * transposed into tiles (xent_rows_short). Part of fx_rows_tmpl.h, which
 * includes it where these stood (split out by length only: the same code),
 * one instance per dtype and ISA; parameters as fx_rows_tmpl.h. */

#define FX_TILE 64
#define FX_CCHUNK 256

/* The losses lse[j] and total target weights av[j] of a tile's rows with
 * index targets and no smoothing, as vectors: xent_finish over the tile
 * (w_y = 0 for an ignored row, so its loss and A are 0), and, for a row
 * with no finite maximum, 0 where A = 0 and NaN otherwise (xent_row_weight
 * with eps = 0 is xent_finish's A). */
static inline void FX_FN(xent_tile_finish)(const FX_FN(xent_ctx) *k, int64_t nt,
                                           const FX_S *xt, int64_t xrs, int64_t xcs,
                                           const int64_t *lab, const FX_T *m, const double *ls,
                                           double *av, double *lse)
{
    double xy[FX_TILE], wy[FX_TILE];
    for (int64_t j = 0; j < nt; j++) {
        const int64_t yl = lab[j];
        const int ign = yl == k->ignore_index;
        xy[j] = ign ? 0.0 : (double)FX_LD(xt[j * xrs + yl * xcs]);
        wy[j] = ign ? 0.0 : (k->w != NULL ? (double)k->w[yl] : 1.0);
    }
#pragma omp simd
    for (int64_t j = 0; j < nt; j++) {
        double a;
        const double fin = FX_FN(xent_finish)(k, 0, ls[j], (double)m[j], 0.0, 0.0, xy[j], wy[j], &a);
        const double bad = a == 0.0 ? 0.0 : (double)NAN;
        const int ok = m[j] > -(FX_T)INFINITY;
        lse[j] = ok ? fin : bad;
        av[j] = ok ? a : bad;
    }
}

/* Rows of any strides, vectorised across FX_TILE rows at a time: the class
 * loop is outside, the row loop inside. Serves PyTorch's (N, C, d...) layout
 * (row stride 1), class axes that are not last, mixed layouts, and short
 * rows transposed into a tile (see xent_block). Sums run in the compute
 * dtype over FX_CCHUNK classes, then in float64. */
static inline FX_ALWAYS_INLINE double FX_FN(xent_rows_strided_in)(
    const FX_FN(xent_ctx) *k, int64_t n,
    const FX_S *x, int64_t xrs, int64_t xcs,
    const FX_S *y, int64_t yrs, int64_t ycs,
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
        const FX_S *xt = x + t0 * xrs;
        FX_T m[FX_TILE], ps[FX_TILE], pn[FX_TILE];
        double pt[FX_TILE], pa[FX_TILE];   /* float64: see tacc_chunk */
        double small[FX_TILE], ties[FX_TILE], tacc[FX_TILE], aacc[FX_TILE];
        double ls[FX_TILE], av[FX_TILE], lse[FX_TILE];
        for (int64_t j = 0; j < nt; j++) {
            m[j] = -(FX_T)INFINITY;
            small[j] = ties[j] = tacc[j] = aacc[j] = 0.0;
        }
        for (int64_t c = 0; c < C; c++) {
            const FX_S *xc = xt + c * xcs;
#pragma omp simd
            for (int64_t j = 0; j < nt; j++) {
                const FX_T v = FX_LD(xc[j * xrs]);
                m[j] = v > m[j] ? v : m[j];
            }
        }
        /* the shift: the row max, or 0 for an all -inf row (sums stay 0) */
        FX_T sh[FX_TILE];
        for (int64_t j = 0; j < nt; j++) sh[j] = m[j] > -(FX_T)INFINITY ? m[j] : (FX_T)0;
        for (int64_t c0 = 0; c0 < C; c0 += FX_CCHUNK) {
            const int64_t c1 = C - c0 < FX_CCHUNK ? C : c0 + FX_CCHUNK;
            for (int64_t j = 0; j < nt; j++) ps[j] = pn[j] = pt[j] = pa[j] = 0;
            for (int64_t c = c0; c < c1; c++) {
                const FX_S *xc = xt + c * xcs;
#pragma omp simd
                for (int64_t j = 0; j < nt; j++) {
                    const FX_T d = FX_LD(xc[j * xrs]) - sh[j];
                    const FX_T e = FX_EXP_SUM(d);
                    ps[j] += d == 0 ? (FX_T)0 : e;
                    pn[j] += d == 0 ? (FX_T)1 : (FX_T)0;
                }
            }
            if (need_t) {
                for (int64_t c = c0; c < c1; c++) {
                    const FX_T wc = w != NULL ? w[c] : (FX_T)1;
                    const FX_S *xc = xt + c * xcs;
                    if (soft) {
                        const FX_S *yc = y + t0 * yrs + c * ycs;
#pragma omp simd
                        for (int64_t j = 0; j < nt; j++) {
                            FX_T v = (one_m_eps * FX_LD(yc[j * yrs]) + eps_c) * wc;
                            pa[j] += (double)v;
                            pt[j] += v == 0 ? 0.0 : (double)v * ((double)m[j] - (double)FX_LD(xc[j * xrs]));
                        }
                    } else {
#pragma omp simd
                        for (int64_t j = 0; j < nt; j++) {
                            pa[j] += (double)wc;
                            pt[j] += wc == 0 ? 0.0 : (double)wc * ((double)m[j] - (double)FX_LD(xc[j * xrs]));
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
        if (xent && !soft && k->eps == 0.0) {
            FX_FN(xent_tile_finish)(k, nt, xt, xrs, xcs, lab + t0, m, ls, av, lse);
            for (int64_t j = 0; j < nt; j++) {
                if (lout != NULL) lout[t0 + j] = (FX_T)lse[j];
                total += lse[j];
            }
        } else for (int64_t j = 0; j < nt; j++) {
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
                double xy = soft ? 0.0 : (double)FX_LD(xt[j * xrs + yl * xcs]);
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
                const FX_S *xc = xt + c * xcs;
                FX_T *gc = gtile + c * gcs;
#pragma omp simd
                for (int64_t j = 0; j < nt; j++) gc[j * grs] = (FX_LD(xc[j * xrs]) - sh[j]) - lt[j];
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
                const FX_S *xc = xt + c * xcs;
                FX_T *gc = gtile + c * gcs;
                if (soft) {
                    const FX_S *yc = y + t0 * yrs + c * ycs;
#pragma omp simd
                    for (int64_t j = 0; j < nt; j++)
                        gc[j * grs] = gt_a[j] * FX_EXP(FX_LD(xc[j * xrs]) - sh[j])
                                      - b * ((one_m_eps * FX_LD(yc[j * yrs]) + eps_c) * wc);
                } else {
                    const FX_T bc = b * eps_c * wc;
#pragma omp simd
                    for (int64_t j = 0; j < nt; j++)
                        gc[j * grs] = gt_a[j] * FX_EXP(FX_LD(xc[j * xrs]) - sh[j]) - bc;
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

static double FX_FN(xent_rows_strided)(
    const FX_FN(xent_ctx) *k, int64_t n,
    const FX_S *x, int64_t xrs, int64_t xcs,
    const FX_S *y, int64_t yrs, int64_t ycs,
    const int64_t *lab, FX_T *lout,
    FX_T *g, int64_t grs, int64_t gcs)
{
    return FX_FN(xent_rows_strided_in)(k, n, x, xrs, xcs, y, yrs, ycs, lab, lout, g, grs, gcs);
}

/* Short contiguous rows: a within-row vector loop would be mostly tail and
 * horizontal reductions, so tiles of FX_TROWS rows are transposed into
 * class-major buffers (see fx_transpose_tmpl.h) and handled across rows by
 * xent_rows_strided; the gradient is transposed back. The buffers (up to
 * 3 x 32 KiB) are taken from the heap once per block: on a thread's stack
 * they overflow small stacks (musl's default is 128 KiB, Python threads may
 * have 32 KiB). Without memory the tiles are read in place, strided, with
 * the same arithmetic and the same bits. */
#if FX_HALF
/* The function `name` of the float32 instantiation of this ISA. */
#define FX_F32_FN(name) FX_CAT(FX_CAT(FX_CAT(name, _), FX_SFX_T), FX_CAT(_, FX_ISA_SUFFIX))
/* Short rows of a half dtype: each tile of FX_TROWS rows is widened into
 * float32 rows and handed to float32's own short-row function (the
 * contexts have one layout, the template's), so the arithmetic is
 * float32's, bit for bit. Without memory: strided, as above. */
static double FX_FN(xent_rows_short)(
    const FX_FN(xent_ctx) *k, int64_t n,
    const FX_S *x, int64_t xrs, const FX_S *y, int64_t yrs,
    const int64_t *lab, FX_T *lout, FX_T *g, int64_t grs)
{
    const int64_t C = k->C;
    const size_t tile = (size_t)FX_TROWS * (size_t)C;
    FX_T *xb = (FX_T *)malloc(tile * sizeof(FX_T) * (1 + (y != NULL)));
    if (xb == NULL)
        return FX_FN(xent_rows_strided)(k, n, x, xrs, 1, y, yrs, 1, lab, lout, g, grs, 1);
    FX_T *yb = y != NULL ? xb + tile : NULL;
    double total = 0.0;
    for (int64_t t0 = 0; t0 < n; t0 += FX_TROWS) {
        const int64_t nt = n - t0 < FX_TROWS ? n - t0 : FX_TROWS;
        for (int64_t r = 0; r < nt; r++) {
            FX_WIDEN(xb + r * C, x + (t0 + r) * xrs, C);
            if (y != NULL) FX_WIDEN(yb + r * C, y + (t0 + r) * yrs, C);
        }
        total += FX_F32_FN(xent_rows_short)(
            (const FX_F32_FN(xent_ctx) *)(const void *)k, nt, xb, C, yb, C,
            lab != NULL ? lab + t0 : NULL, lout != NULL ? lout + t0 : NULL,
            g != NULL ? g + t0 * grs : NULL, grs);
    }
    free(xb);
    return total;
}
#undef FX_F32_FN
#else
/* One whole transposed tile of FX_TROWS rows: the same code with the row
 * count and strides constant, so its row loops have fixed trip counts. */
static double FX_FN(xent_tile_full)(const FX_FN(xent_ctx) *k, const FX_S *x, const FX_S *y,
                                    const int64_t *lab, FX_T *lout, FX_T *g)
{
    return FX_FN(xent_rows_strided_in)(k, FX_TROWS, x, 1, FX_TROWS, y, 1, FX_TROWS, lab, lout,
                                       g, 1, FX_TROWS);
}

static double FX_FN(xent_rows_short)(
    const FX_FN(xent_ctx) *k, int64_t n,
    const FX_S *x, int64_t xrs, const FX_S *y, int64_t yrs,
    const int64_t *lab, FX_T *lout, FX_T *g, int64_t grs)
{
    const int64_t C = k->C;
    const size_t tile = (size_t)FX_TROWS * FX_SMALL_C;
    FX_T *xb = (FX_T *)malloc(tile * sizeof(FX_T) * (1 + (y != NULL) + (g != NULL)));
    FX_T *yb = xb != NULL && y != NULL ? xb + tile : NULL;
    FX_T *gb = xb != NULL && g != NULL ? xb + tile * (1 + (y != NULL)) : NULL;
    const uintptr_t pf = FX_FN(transpose_pf)(n, FX_TROWS, xrs, C);   /* see there */
    const uintptr_t ypf = y != NULL ? FX_FN(transpose_pf)(n, FX_TROWS, yrs, C) : 0;
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
        FX_FN(transpose)(x + t0 * xrs, xrs, xb, nt, nt, C, pf);
        if (y != NULL) FX_FN(transpose)(y + t0 * yrs, yrs, yb, nt, nt, C, ypf);
        total += nt == FX_TROWS ? FX_FN(xent_tile_full)(k, xb, yb, lt, lo, gb)
                                : FX_FN(xent_rows_strided)(k, nt, xb, 1, nt, yb, 1, nt, lt, lo, gb, 1, nt);
        if (g != NULL) FX_FN(transpose)(gb, nt, g + t0 * grs, grs, C, nt, 0);
    }
    free(xb);
    return total;
}
#endif
