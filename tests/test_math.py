"""Accuracy of the vector math in csrc/fx_math.h (exp, log, log1p and the exp
used for softmax sums), per ISA.

``fastxent._kernels.math_eval(fn, inp, out)`` applies the current ISA's
function (0 exp, 1 log, 2 log1p, 3 exp for sums) to a contiguous array.
Errors are counted in float steps ("ulp") between the result and the
correctly rounded value; the contract is 2 ulp.

* float32: the reference is computed in float64 by NumPy and rounded to
  float32 (double rounding can move a near-tie by one step; the 2 ulp bound
  leaves room for it). exp is checked on every float32 in [-104, 89] (below
  |x| = 2^-60, where exp(x) rounds to 1, on every 61st); log and log1p on
  every 7th bit pattern of their domains plus every subnormal and every
  pattern of the ranges where they are hardest (near 1, near -1, near 0).
* float64: the reference is computed in x87 extended precision (64-bit
  significand, ``np.longdouble``) and rounded to float64, on a few million
  points drawn uniformly in bit patterns and in value; where long double is
  no wider than double the reference is NumPy's float64 (< 1 ulp).

The step distance between two floats of the same sign is the difference of
their bit patterns, which counts subnormal steps correctly and is never less
than ``|got - want| / np.spacing(want)``.
"""
import numpy as np
import pytest

from _helpers import fx_kernels as _kernels

EXP, LOG, LOG1P, EXP_SUM, LOG1P_UNIT = 0, 1, 2, 3, 4   # math_eval's function codes
REFERENCE = (np.exp, np.log, np.log1p, np.exp, np.log1p)
MAX_ULP = 2
LONGDOUBLE_IS_WIDER = np.finfo(np.longdouble).nmant > np.finfo(np.float64).nmant
# a value far outside any tolerance, for results that are off in kind
HUGE = 1 << 40


def bits32(v):
    return int(np.array(v, dtype=np.float32).view(np.uint32))


def float32_bits(lo_bits, hi_bits, stride):
    """The float32 values of bit patterns lo_bits, lo_bits + stride, ... < hi_bits."""
    return np.arange(lo_bits, hi_bits, stride, dtype=np.uint32).view(np.float32)


def evaluate(fn, x):
    out = np.empty_like(x)
    _kernels.math_eval(fn, np.ascontiguousarray(x), out)
    return out


def ulp_steps(got, want):
    """Float steps between got and want (same dtype), elementwise as int64.

    NaN must match NaN and an infinity the same infinity (0 steps); a result
    that differs from the reference in kind (NaN vs number, inf vs finite,
    opposite signs of non-zero values) counts as HUGE steps.
    """
    ibits = np.int32 if got.dtype == np.float32 else np.int64
    mask = ibits(np.iinfo(ibits).max)
    g, w = got.view(ibits), want.view(ibits)
    ga, wa = (g & mask).astype(np.int64), (w & mask).astype(np.int64)
    same_sign = ((g < 0) == (w < 0)) | (ga == 0) | (wa == 0)
    # signed keys: -0 and +0 coincide, so a step across zero counts once
    gk = np.where(g < 0, -ga, ga)
    wk = np.where(w < 0, -wa, wa)
    steps = np.where(same_sign, np.abs(np.where(same_sign, gk - wk, 0)), HUGE)
    gnan, wnan = np.isnan(got), np.isnan(want)
    steps = np.where(gnan | wnan, np.where(gnan & wnan, 0, HUGE), steps)
    either_inf = (np.isinf(got) | np.isinf(want)) & ~(gnan | wnan)
    return np.where(either_inf, np.where(got == want, 0, HUGE), steps)


def worst(got, want, x):
    """(max steps, input, result, reference) at the worst input."""
    steps = ulp_steps(got, want)
    i = int(np.argmax(steps))
    return int(steps[i]), x[i], got[i], want[i]


def reference32(fn, x, out64=None, out32=None):
    """fn(x) for float32 x: computed in float64, rounded to float32."""
    with np.errstate(all="ignore"):
        r = REFERENCE[fn](x, out=out64, dtype=np.float64)
        if out32 is None:
            return r.astype(np.float32)
        np.copyto(out32, r, casting="same_kind")
        return out32


class Sweep32:
    """Max step error of a float32 function over ranges of bit patterns.

    Works in L2-sized chunks with preallocated buffers; a chunk whose bit
    differences all lie in [-2, 2] with finite values on both sides is
    settled without the general (slower) step count.
    """

    CHUNK = 1 << 16

    def __init__(self, fn):
        self.fn = fn
        n = self.CHUNK
        self.bits = np.empty(n, np.uint32)
        self.got = np.empty(n, np.float32)
        self.r64 = np.empty(n, np.float64)
        self.r32 = np.empty(n, np.float32)
        self.diff = np.empty(n, np.int32)
        self.record = (0, None, None, None)

    def __call__(self, lo_bits, hi_bits, stride=1):
        """Sweep bit patterns lo_bits, lo_bits + stride, ... < hi_bits."""
        step = np.arange(self.CHUNK, dtype=np.uint32) * np.uint32(stride)
        span = self.CHUNK * stride
        for b0 in range(lo_bits, hi_bits, span):
            n = min(self.CHUNK, -(-(hi_bits - b0) // stride))
            bits, got, r32, diff = self.bits[:n], self.got[:n], self.r32[:n], self.diff[:n]
            np.add(step[:n], np.uint32(b0), out=bits)
            x = bits.view(np.float32)
            _kernels.math_eval(self.fn, x, got)
            reference32(self.fn, x, self.r64[:n], r32)
            np.subtract(got.view(np.int32), r32.view(np.int32), out=diff)
            dmin, dmax = int(diff.min()), int(diff.max())
            if (-MAX_ULP <= dmin and dmax <= MAX_ULP
                    and np.isfinite(got.min()) and np.isfinite(got.max())
                    and np.isfinite(r32.min()) and np.isfinite(r32.max())):
                m = max(dmax, -dmin)
                if m > self.record[0]:
                    i = int(np.argmax(np.abs(diff)))
                    self.record = (m, x[i], got[i], r32[i])
                continue
            w = worst(got, r32, x)
            if w[0] > self.record[0]:
                self.record = w
        return self

    def message(self, what):
        r = self.record
        return f"{what}: {r[0]} ulp at x={r[1]!r}: got {r[2]!r}, want {r[3]!r}"


# --------------------------------------------------------------------------
# float32: exhaustive exp, dense log and log1p

def test_exp_f32_exhaustive(isa):
    """Every float32 in [-104, 89]: |x| > 2^-25 against the rounded float64
    exp, |x| <= 2^-25 against its correctly rounded value, exactly 1 (every
    pattern down to 2^-60, every 61st below, where the kernel's intermediates
    are subnormal and each evaluation costs tens of nanoseconds)."""
    tiny = bits32(2.0 ** -25)
    for what, lo, hi in (("x > 0", tiny + 1, bits32(89.0) + 1),
                         ("x < 0", 0x80000000 + tiny + 1, bits32(-104.0) + 1)):
        sweep = Sweep32(EXP)(lo, hi)
        assert sweep.record[0] <= MAX_ULP, sweep.message(f"{isa} exp f32 {what}")
    # 1 - 2 ulp and 1 + 2 ulp (the ulp below 1 is half the ulp above it)
    lo = np.float32(1) - np.float32(2.0 ** -23)
    hi = np.float32(1) + np.float32(2.0 ** -22)
    n = 1 << 17
    step = np.arange(n, dtype=np.uint32)
    bits, got = np.empty(n, np.uint32), np.empty(n, np.float32)
    small = bits32(2.0 ** -60)
    for sign in (0, 0x80000000):
        for start, end, stride in ((sign, sign + small, 61), (sign + small, sign + tiny + 1, 1)):
            for b0 in range(start, end, n * stride):
                m = min(n, -(-(end - b0) // stride))
                np.multiply(step[:m], np.uint32(stride), out=bits[:m])
                np.add(bits[:m], np.uint32(b0), out=bits[:m])
                g = got[:m]
                _kernels.math_eval(EXP, bits[:m].view(np.float32), g)
                assert g.min() >= lo and g.max() <= hi, (
                    f"{isa} exp f32 |x| <= 2^-25: results in [{g.min()!r}, {g.max()!r}] "
                    f"for bit patterns {b0:#x}.. step {stride}")


def test_exp_f32_specials(isa):
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 88.72283, 88.72284,
                  89.0, 100.0, 1e30, np.finfo(np.float32).max, -87.33655, -87.33656,
                  -103.27893, -103.97208, -104.0, -104.5, -1e30, -np.finfo(np.float32).max,
                  1e-45, -1e-45, 1e-38, -1e-38],
                 dtype=np.float32)
    got = evaluate(EXP, x)
    want = reference32(EXP, x)
    steps = ulp_steps(got, want)
    assert steps.max() <= MAX_ULP, list(zip(x, got, want, steps))
    assert got[0] == 1 and got[1] == 1
    assert got[2] == np.inf and got[3] == 0 and np.isnan(got[4]) and np.isnan(got[5])
    assert got[9] == np.inf and got[10] == np.inf and got[11] == np.inf
    assert (got[16:20] == 0).all(), got[16:20]
    # results in the subnormal range are subnormal, not flushed to zero
    sub = evaluate(EXP, np.linspace(-103.9, -87.4, 4001, dtype=np.float32))
    assert (sub > 0).all() and (sub < np.finfo(np.float32).tiny).all()


def test_log_f32_dense(isa):
    """Every positive subnormal, every 7th normal float32, every one near 1."""
    lo1, hi1 = bits32(0.70710677), bits32(1.4142135)
    for what, lo, hi, stride in (
            ("subnormal", 1, 0x00800000, 1),
            ("(0, sqrt(1/2))", 0x00800000, lo1, 7),
            ("[sqrt(2), inf)", hi1, 0x7F800000, 7),
            ("[sqrt(1/2), sqrt(2))", lo1, hi1, 1)):
        sweep = Sweep32(LOG)(lo, hi, stride)
        assert sweep.record[0] <= MAX_ULP, sweep.message(f"{isa} log f32 {what}")


def test_log_f32_specials(isa):
    x = np.array([0.0, -0.0, 1.0, np.inf, -np.inf, np.nan, -1.0, -1e-45, -np.finfo(np.float32).max,
                  1e-45, np.finfo(np.float32).tiny, np.finfo(np.float32).max,
                  np.nextafter(np.float32(1), np.float32(2)),
                  np.nextafter(np.float32(1), np.float32(0)), 2.0, 0.5],
                 dtype=np.float32)
    got = evaluate(LOG, x)
    assert got[0] == -np.inf and got[1] == -np.inf
    assert got[2] == 0 and got[3] == np.inf
    assert np.isnan(got[4:9]).all(), got[4:9]
    steps = ulp_steps(got, reference32(LOG, x))
    assert steps.max() <= MAX_ULP, list(zip(x, got, steps))


def test_log1p_f32_dense(isa):
    """Every subnormal, every 7th float32 of (-1, inf), every one just above -1
    and every one with 2^-11 <= |u| <= 2^-8 (where 1 + u rounds)."""
    near = bits32(2.0 ** -8)
    for what, lo, hi, stride in (
            ("subnormal > 0", 1, 0x00800000, 1),
            ("subnormal < 0", 0x80000001, 0x80800000, 1),
            ("[2^-126, inf)", 0x00800000, 0x7F800000, 7),
            ("(-1, -2^-126]", 0x80800000, bits32(-1.0), 7),
            ("(-1, -1 + 2^-8]", bits32(-1.0) - (1 << 16), bits32(-1.0), 1),
            ("[2^-11, 2^-8]", bits32(2.0 ** -11), near + 1, 1),
            ("[-2^-8, -2^-11]", bits32(-(2.0 ** -11)), 0x80000000 + near + 1, 1)):
        sweep = Sweep32(LOG1P)(lo, hi, stride)
        assert sweep.record[0] <= MAX_ULP, sweep.message(f"{isa} log1p f32 {what}")


def test_log1p_unit_f32_dense(isa):
    """BCE's log1p(exp(-|x|)) on [0, 1]: every float32 in [2^-11, 1] (where the
    polynomial works hardest) and every 5th below, subnormals included."""
    for what, lo, hi, stride in (
            ("[0, 2^-11)", 0, bits32(2.0 ** -11), 5),
            ("[2^-11, 1]", bits32(2.0 ** -11), bits32(1.0) + 1, 1)):
        sweep = Sweep32(LOG1P_UNIT)(lo, hi, stride)
        assert sweep.record[0] <= MAX_ULP, sweep.message(f"{isa} log1p_unit f32 {what}")


def test_log1p_unit_specials(isa):
    for dtype in (np.float32, np.float64):
        x = np.array([0.0, 1.0, np.nan, 1e-45 if dtype == np.float32 else 5e-324], dtype=dtype)
        got = evaluate(LOG1P_UNIT, x)
        assert got[0] == 0.0 and got[1] == np.log1p(dtype(1.0)).astype(dtype)
        assert np.isnan(got[2]) and got[3] == x[3]


def test_log1p_f32_specials(isa):
    x = np.array([0.0, -1.0, np.inf, np.nan, -1.5, -np.inf, -np.finfo(np.float32).max,
                  np.finfo(np.float32).max, 1e-30, -1e-30, 1e-45, -1e-45,
                  np.nextafter(np.float32(-1), np.float32(0)), -0.0],
                 dtype=np.float32)
    got = evaluate(LOG1P, x)
    assert got[0] == 0 and not np.signbit(got[0])
    assert got[1] == -np.inf and got[2] == np.inf
    assert np.isnan(got[3:7]).all(), got[3:7]
    assert got[8] == np.float32(1e-30) and got[9] == np.float32(-1e-30)
    assert got[10] == np.float32(1e-45) and got[11] == np.float32(-1e-45)
    assert got[13] == 0 and np.signbit(got[13]), "log1p(-0) must be -0"
    steps = ulp_steps(got, reference32(LOG1P, x))
    assert steps.max() <= MAX_ULP, list(zip(x, got, steps))


# EXP_SUM is exp for the sums of a softmax: arguments x - max <= 0, results
# below the smallest normal float flushed to 0 (they cannot change a sum that
# holds 1).


def test_exp_sum_f32_exhaustive(isa):
    """Every float32 in [log(2^-126), -2^-25) against the rounded exp, every
    one in [-2^-25, 0] against 1; below log(2^-126) the result is 0 or the
    correctly rounded value."""
    lo = bits32(-87.33654)      # log(2^-126), the flush threshold
    sweep = Sweep32(EXP_SUM)(0x80000000 + bits32(2.0 ** -25) + 1, lo + 1)
    assert sweep.record[0] <= MAX_ULP, sweep.message(f"{isa} exp-for-sums f32")
    x = float32_bits(0x80000000, 0x80000000 + bits32(2.0 ** -25) + 1, 61)
    got = evaluate(EXP_SUM, x)
    assert got.min() >= np.float32(1) - np.float32(2.0 ** -23) and got.max() <= 1
    x = float32_bits(lo + 1, bits32(-np.inf) + 1, 997)
    got = evaluate(EXP_SUM, x)
    want = reference32(EXP, x)
    assert ((got == 0) | (ulp_steps(got, want) <= MAX_ULP)).all()
    assert (got < np.finfo(np.float32).tiny).all()


def test_exp_sum_specials(isa):
    for dtype in (np.float32, np.float64):
        x = np.array([0.0, -0.0, -np.inf, np.nan, -1e30, -1.0, -0.5], dtype=dtype)
        got = evaluate(EXP_SUM, x)
        assert got[0] == 1 and got[1] == 1 and got[2] == 0 and np.isnan(got[3])
        assert got[4] == 0
        ref = reference32(EXP, x) if dtype == np.float32 else reference64(EXP, x)
        assert ulp_steps(got[5:], ref[5:]).max() <= MAX_ULP


def test_exp_sum_f64_sampled(isa, rng):
    tiny = np.finfo(np.float64).smallest_normal
    lo = np.log(tiny)
    n = 1_000_000
    x = np.concatenate([random_f64_bits(rng, n, -1e-300, lo), rng.uniform(lo, 0.0, n)])
    x = x[x >= lo]
    check64(EXP_SUM, x, isa, "exp-for-sums")
    x = rng.uniform(-1000.0, lo, 10_000)
    got = evaluate(EXP_SUM, x)
    assert ((got == 0) | (ulp_steps(got, reference64(EXP, x)) <= MAX_ULP)).all()
    assert (got < tiny).all()


# --------------------------------------------------------------------------
# float64: dense random sampling against an extended-precision reference

def reference64(fn, x):
    with np.errstate(all="ignore"):
        f = REFERENCE[fn]
        if LONGDOUBLE_IS_WIDER:
            return f(x.astype(np.longdouble)).astype(np.float64)
        return f(x)


def random_f64_bits(rng, n, lo, hi):
    """n doubles uniform in bit pattern between finite doubles lo < hi of one sign."""
    a, b = sorted(int(np.float64(v).view(np.int64) & 0x7FFFFFFFFFFFFFFF) for v in (lo, hi))
    bits = rng.integers(a, b, size=n, endpoint=True, dtype=np.int64)
    out = bits.view(np.float64)
    return -out if lo < 0 else out


def check64(fn, x, isa, name, tol=MAX_ULP):
    got = evaluate(fn, x)
    want = reference64(fn, x)
    w = worst(got, want, x)
    assert w[0] <= tol, (
        f"{isa} {name} f64: {w[0]} ulp at x={w[1]!r}: got {w[2]!r}, want {w[3]!r}")


def test_exp_f64_sampled(isa, rng):
    n = 1_000_000
    x = np.concatenate([
        random_f64_bits(rng, n, 1e-300, 710.0),
        random_f64_bits(rng, n, -1e-300, -746.0),
        rng.uniform(-746.0, 710.0, n),
        rng.uniform(-1.0, 1.0, n // 4),
        rng.uniform(-745.2, -708.3, n // 4),       # subnormal results
        rng.uniform(709.0, 709.8, n // 8),         # near overflow
    ])
    check64(EXP, x, isa, "exp")
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 709.78, 709.79, 710.0, 1e300,
                         -745.13, -745.14, -746.0, -1e300, 5e-324, -5e-324])
    got = evaluate(EXP, specials)
    assert got[0] == 1 and got[1] == 1 and got[2] == np.inf and got[3] == 0
    assert np.isnan(got[4]) and got[6] == np.inf and got[7] == np.inf and got[8] == np.inf
    assert got[10] == 0 and got[11] == 0 and got[12] == 0
    assert got[13] == 1 and got[14] == 1
    check64(EXP, specials, isa, "exp specials")


def test_log_f64_sampled(isa, rng):
    n = 1_000_000
    tiny = np.finfo(np.float64).smallest_subnormal
    x = np.concatenate([
        random_f64_bits(rng, n, tiny, np.finfo(np.float64).max),
        random_f64_bits(rng, n // 4, tiny, np.finfo(np.float64).smallest_normal),
        rng.uniform(0.0, 4.0, n),
        rng.uniform(0.7, 1.45, n // 2),             # around 1, where log -> 0
        rng.uniform(1e-300, 1e300, n // 4),
    ])
    x = x[x > 0]
    check64(LOG, x, isa, "log")
    specials = np.array([0.0, -0.0, 1.0, np.inf, -np.inf, np.nan, -1.0, -5e-324, 5e-324,
                         np.finfo(np.float64).max, 2.0, 0.5])
    got = evaluate(LOG, specials)
    assert got[0] == -np.inf and got[1] == -np.inf and got[2] == 0 and got[3] == np.inf
    assert np.isnan(got[4:8]).all()
    check64(LOG, specials, isa, "log specials")


def test_log1p_f64_sampled(isa, rng):
    n = 1_000_000
    tiny = np.finfo(np.float64).smallest_subnormal
    x = np.concatenate([
        random_f64_bits(rng, n, tiny, np.finfo(np.float64).max),
        random_f64_bits(rng, n, -tiny, -np.nextafter(1.0, 0.0)),
        rng.uniform(-1.0, 1.0, n),
        -1.0 + random_f64_bits(rng, n // 4, 1e-300, 1e-3),   # just above -1
    ])
    x = x[x > -1.0]
    check64(LOG1P, x, isa, "log1p")
    x = random_f64_bits(rng, n, 1e-300, 2.0 ** -8)     # near 0, both signs
    check64(LOG1P, np.concatenate([x, -x]), isa, "log1p near 0")
    specials = np.array([0.0, -1.0, np.inf, np.nan, -1.5, -np.inf, 1e-300, -1e-300, 5e-324,
                         -5e-324, np.finfo(np.float64).max, np.nextafter(-1.0, 0.0), -0.0])
    got = evaluate(LOG1P, specials)
    assert got[0] == 0 and not np.signbit(got[0]) and got[1] == -np.inf and got[2] == np.inf
    assert np.isnan(got[3:6]).all()
    assert got[12] == 0 and np.signbit(got[12]), "log1p(-0) must be -0"
    assert got[6] == 1e-300 and got[7] == -1e-300 and got[8] == 5e-324 and got[9] == -5e-324
    check64(LOG1P, specials, isa, "log1p specials")


@pytest.mark.skipif(not LONGDOUBLE_IS_WIDER, reason="long double is not wider than double")
def test_float64_reference_is_correctly_rounded():
    """The extended-precision float64 reference is within 1 ulp of mpmath at
    60 digits on a sample, so the 2 ulp bound above is a real bound."""
    mpmath = pytest.importorskip("mpmath")
    rng = np.random.default_rng(7)
    mpmath.mp.dps = 60
    x = np.concatenate([rng.uniform(-700, 700, 200), rng.uniform(-1, 1, 200),
                        random_f64_bits(rng, 200, 1e-300, 1e300)])
    for fn, mfn, sel in ((EXP, mpmath.exp, x), (LOG, mpmath.log, np.abs(x)),
                         (LOG1P, mpmath.log1p, np.abs(x))):
        sel = sel[sel != 0]
        want = np.array([float(mfn(mpmath.mpf(float(v)))) for v in sel])
        steps = ulp_steps(reference64(fn, sel), want)
        assert steps.max() <= 1, fn
