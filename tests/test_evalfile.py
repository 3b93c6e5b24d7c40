"""fastxent.evaluate_file: arrays read by chunks from files and array-likes
give the bits of fastxent.evaluate on the whole array in memory (itself
compared with the NumPy twin and the peers in test_evaluate.py), for every
chunk size; bad files raise before any work.
"""
import json
import os
import signal
import struct
import threading

import numpy as np
import pytest

import fastxent
from fastxent import _evalfile

# h5py, ml_dtypes, safetensors, zarr: the [files] extra, in [test] too; each test
# imports what it needs (.ci/run checks they are installed, so CI skips none)


def same(a, b):
    """Bitwise equal results (to_dict holds every field; NaN as None)."""
    assert a.to_dict() == b.to_dict()


def data(rng, n, c, dtype=np.float32, ignored=0.1):
    x = (rng.standard_normal((n, c), dtype=np.float32) * 3).astype(dtype)
    y = rng.integers(0, c, n)
    y[rng.random(n) < ignored] = -100
    return x, y


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """A 256 MiB float32 .npy file and its labels."""
    rng = np.random.default_rng(14)
    x, y = data(rng, 16384, 4096)
    d = tmp_path_factory.mktemp("big")
    np.save(d / "x.npy", x)
    np.save(d / "y.npy", y)
    return d / "x.npy", d / "y.npy", x, y


@pytest.mark.parametrize("batch_rows", [None, 1009, 5000, 16384])
def test_a_big_file_gives_the_bits_of_evaluate_in_memory(big, batch_rows):
    px, py, x, y = big
    opts = dict(topk=(1, 5, 10), per_class=batch_rows == 1009)
    same(fastxent.evaluate_file(px, py, batch_rows=batch_rows, **opts),
         fastxent.evaluate(x, y, **opts))


@pytest.mark.parametrize("batch_rows", [1, 2, 7, 64, 300, 301])
def test_every_chunk_size_and_every_option(tmp_path, rng, batch_rows):
    x, y = data(rng, 300, 37)
    x[5, 3] = np.nan
    xr = x + rng.standard_normal(x.shape, dtype=np.float32) * 0.1
    w = rng.random(300)
    seg = np.sort(rng.integers(0, 20, 300))
    for name, a in dict(x=x, y=y, w=w, s=seg, r=xr).items():
        np.save(tmp_path / f"{name}.npy", a)
    opts = dict(topk=(1, 3), n_bins=7, ties="last", per_class=True, nonfinite="skip")
    got = fastxent.evaluate_file(tmp_path / "x.npy", str(tmp_path / "y.npy"),
                                 batch_rows=batch_rows, sample_weight=tmp_path / "w.npy",
                                 segment_ids=seg, reference_logits=tmp_path / "r.npy", **opts)
    same(got, fastxent.evaluate(x, y, sample_weight=w, segment_ids=seg, reference_logits=xr,
                                **opts))


def test_three_dimensional_logits_and_other_axes(tmp_path, rng):
    x = rng.standard_normal((6, 5, 11)).astype(np.float32)
    y = rng.integers(0, 11, (6, 5))
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    for b in (1, 4):
        same(fastxent.evaluate_file(tmp_path / "x.npy", tmp_path / "y.npy", batch_rows=b),
             fastxent.evaluate(x, y))
    xt = np.ascontiguousarray(np.moveaxis(x, -1, 1))   # (6, 11, 5), classes on axis 1
    np.save(tmp_path / "xt.npy", xt)
    same(fastxent.evaluate_file(tmp_path / "xt.npy", y, axis=1, batch_rows=4),
         fastxent.evaluate(xt, y, axis=1))


def test_a_fortran_ordered_file_with_contiguous_classes_is_read(tmp_path, rng):
    x, y = data(rng, 200, 13)
    xf = np.asfortranarray(x.T)          # (13, 200): classes on axis 0, contiguous
    np.save(tmp_path / "xf.npy", xf)
    assert np.load(tmp_path / "xf.npy").flags.f_contiguous
    for b in (1, 33):
        same(fastxent.evaluate_file(tmp_path / "xf.npy", y, axis=0, batch_rows=b),
             fastxent.evaluate(x, y))


def test_a_fortran_ordered_file_with_strided_classes_is_refused(tmp_path, rng):
    x, y = data(rng, 50, 13)
    np.save(tmp_path / "xf.npy", np.asfortranarray(x))   # (50, 13), classes strided
    with pytest.raises(ValueError, match="Fortran-ordered.*rows cannot be read by chunks"):
        fastxent.evaluate_file(tmp_path / "xf.npy", y)
    np.save(tmp_path / "xc.npy", np.ascontiguousarray(x.T))   # C order, classes on axis 0
    with pytest.raises(ValueError, match="C-ordered"):
        fastxent.evaluate_file(tmp_path / "xc.npy", y, axis=0)


@pytest.mark.parametrize("dtype", [">f4", "<f8", ">f8", "<f2"])
def test_npy_dtypes(tmp_path, rng, dtype):
    x, y = data(rng, 120, 9, dtype)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y.astype(">i4"))
    same(fastxent.evaluate_file(tmp_path / "x.npy", tmp_path / "y.npy", batch_rows=17),
         fastxent.evaluate(x, y))


def test_safetensors_f32_f16_and_bf16(tmp_path, rng):
    torch = pytest.importorskip("torch")
    sf_torch = pytest.importorskip("safetensors.torch")
    x, y = data(rng, 250, 21)
    t = torch.from_numpy(x)
    sf_torch.save_file({"f32": t, "f16": t.half(), "bf16": t.bfloat16(),
                        "labels": torch.from_numpy(y)}, str(tmp_path / "m.safetensors"))
    p = tmp_path / "m.safetensors"
    for key, ref in (("f32", x), ("f16", t.half().float().numpy()),
                     ("bf16", t.bfloat16().float().numpy())):   # torch widens: independent
        same(fastxent.evaluate_file(p, p, key=key, labels_key="labels", batch_rows=19),
             fastxent.evaluate(ref, y))


def test_bfloat16_widening_is_exact_for_every_bit_pattern():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    bits = np.arange(1 << 16, dtype=np.uint16)
    got = _evalfile.widen(bits, True)
    want = bits.view(ml_dtypes.bfloat16).astype(np.float32)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))
    np.testing.assert_array_equal(_evalfile.widen(bits.view(ml_dtypes.bfloat16), False)
                                  .view(np.uint32), want.view(np.uint32))


def test_array_likes_memmap_h5py_zarr_and_bfloat16(tmp_path, rng):
    h5py, ml_dtypes, zarr = (pytest.importorskip(m) for m in ("h5py", "ml_dtypes", "zarr"))
    x, y = data(rng, 400, 17)
    want = fastxent.evaluate(x, y)
    np.save(tmp_path / "x.npy", x)
    same(fastxent.evaluate_file(np.load(tmp_path / "x.npy", mmap_mode="r"), y, batch_rows=51),
         want)
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f["logits"], f["labels"] = x, y
    with h5py.File(tmp_path / "d.h5", "r") as f:
        same(fastxent.evaluate_file(f["logits"], f["labels"], batch_rows=51), want)
    same(fastxent.evaluate_file(tmp_path / "d.h5", tmp_path / "d.h5", key="logits",
                                labels_key="labels", batch_rows=99), want)
    z = zarr.open_array(str(tmp_path / "z.zarr"), mode="w", shape=x.shape, dtype=x.dtype,
                        chunks=(64, 17))
    z[:] = x
    same(fastxent.evaluate_file(z, y, batch_rows=51), want)
    g = zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    for name, a in (("logits", x), ("labels", y)):
        if hasattr(g, "create_array"):   # zarr 3
            g.create_array(name, data=a)
        else:                            # zarr 2 (Python < 3.11)
            g.array(name, a)
    same(fastxent.evaluate_file(tmp_path / "g.zarr", tmp_path / "g.zarr", key="logits",
                                labels_key="labels", batch_rows=64), want)
    with pytest.raises(KeyError, match="g.zarr has no array 'x' \\(it holds \\['labels', "
                                       "'logits'\\]\\)"):
        fastxent.evaluate_file(tmp_path / "g.zarr", y, key="x")
    with pytest.raises(KeyError, match="d.h5 holds 2 datasets"):
        fastxent.evaluate_file(tmp_path / "d.h5", y)
    same(fastxent.evaluate_file(x, list(y), batch_rows=3), want)
    xb = x.astype(ml_dtypes.bfloat16)
    same(fastxent.evaluate_file(xb, y, batch_rows=51), fastxent.evaluate(xb.astype(np.float32), y))
    # an array-like with the classes on axis 0 is read along axis 1
    same(fastxent.evaluate_file(np.ascontiguousarray(x.T), y, axis=0, batch_rows=7), want)


def test_progress_callable_and_no_bar_without_a_terminal(tmp_path, rng, capsys):
    x, y = data(rng, 100, 5)
    calls = []
    fastxent.evaluate_file(x, y, batch_rows=30, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(0, 100), (30, 100), (60, 100), (90, 100), (100, 100)]
    fastxent.evaluate_file(x, y, progress=True)   # pytest's stderr is not a terminal
    assert capsys.readouterr().err == ""
    with pytest.raises(ValueError, match="progress: expected True, False or a callable"):
        fastxent.evaluate_file(x, y, progress="yes")


def test_ctrl_c_between_chunks_gives_the_partial_result(rng):
    x, y = data(rng, 100, 5)

    def stop(done, total):
        if done == 60:
            os.kill(os.getpid(), signal.SIGINT)   # as Ctrl-C: the default handler raises
    with pytest.raises(fastxent.EvaluationInterrupted) as info:
        fastxent.evaluate_file(x, y, batch_rows=20, progress=stop)
    e = info.value
    assert isinstance(e, KeyboardInterrupt) and (e.rows_done, e.rows_total) == (60, 100)
    same(e.result, fastxent.evaluate(x[:60], y[:60]))
    assert not [t for t in threading.enumerate() if t.name == "fastxent-reader"]


def test_ctrl_c_during_an_update_is_held_until_it_is_done():
    with pytest.raises(KeyboardInterrupt):
        with _evalfile._DeferSigint() as d:
            os.kill(os.getpid(), signal.SIGINT)
            assert d.hit          # delivered, held back: we are still here
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# ------------------------------------------------------------------ bad input

def npy_bytes(a):
    import io
    f = io.BytesIO()
    np.save(f, a)
    return f.getvalue()


@pytest.fixture
def small(tmp_path, rng):
    x, y = data(rng, 64, 8)
    np.save(tmp_path / "x.npy", x)
    return tmp_path, x, y


def test_missing_path(small):
    d, x, y = small
    with pytest.raises(FileNotFoundError, match="logits: no such file"):
        fastxent.evaluate_file(d / "nope.npy", y)
    with pytest.raises(FileNotFoundError, match="labels: no such file"):
        fastxent.evaluate_file(d / "x.npy", d / "nope.npy")


def test_unknown_format_and_folders(small):
    d, x, y = small
    (d / "x.bin").write_bytes(b"hello, this is not an array" * 10)
    with pytest.raises(ValueError, match="unknown format"):
        fastxent.evaluate_file(d / "x.bin", y)
    with pytest.raises(ValueError, match="is a folder but not a zarr store"):
        fastxent.evaluate_file(d, y)
    with pytest.raises(ValueError, match="x.npy is a .npy file, which holds one array; a key"):
        fastxent.evaluate_file(d / "x.npy", y, key="logits")


@pytest.mark.parametrize("cut", [4, 30, 200, -500, -1])
def test_truncated_npy(small, cut):
    d, x, y = small
    (d / "t.npy").write_bytes((d / "x.npy").read_bytes()[:cut])   # magic, header, data cut
    with pytest.raises(ValueError, match="t.npy (is not a valid .npy|has .* truncated)"):
        fastxent.evaluate_file(d / "t.npy", y)


def test_npy_of_the_wrong_size_or_dtype(small):
    d, x, y = small
    (d / "long.npy").write_bytes((d / "x.npy").read_bytes() + b"\0" * 32)
    with pytest.raises(ValueError, match="has 2\\d+ bytes, but its header .* needs"):
        fastxent.evaluate_file(d / "long.npy", y)
    np.save(d / "o.npy", np.array([[1, "a"]], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="holds dtype object; expected a numeric array"):
        fastxent.evaluate_file(d / "o.npy", y)
    raw = bytearray(npy_bytes(x))
    i = raw.index(b"<f4")
    raw[i:i + 3] = b"<c8"    # the header claims complex
    (d / "c.npy").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="holds dtype complex64"):
        fastxent.evaluate_file(d / "c.npy", y)
    np.save(d / "i.npy", (x * 10).astype(np.int32))
    with pytest.raises(ValueError, match="logits: expected floating-point logits, got dtype int32"):
        fastxent.evaluate_file(d / "i.npy", y)


def test_corrupt_npy_header(small):
    d, x, y = small
    raw = bytearray(npy_bytes(x))
    raw[10:20] = b"{'desc': 3"
    (d / "h.npy").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="h.npy is not a valid .npy file"):
        fastxent.evaluate_file(d / "h.npy", y)
    raw = bytearray(npy_bytes(x))
    raw[8:10] = struct.pack("<H", 60000)    # header length past the end
    (d / "l.npy").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="l.npy is not a valid .npy file"):
        fastxent.evaluate_file(d / "l.npy", y)


def test_labels_that_do_not_fit(small):
    d, x, y = small
    with pytest.raises(ValueError, match=r"labels: expected .* \(64,\), got \(63,\)"):
        fastxent.evaluate_file(d / "x.npy", y[:63])
    with pytest.raises(ValueError, match="labels: expected integer class indices, got dtype "
                                         "float64"):
        fastxent.evaluate_file(d / "x.npy", y.astype(float))
    with pytest.raises(ValueError, match="reference_logits: expected the logits' shape"):
        fastxent.evaluate_file(d / "x.npy", y, reference_logits=x[:3])
    bad = y.copy()
    bad[40] = 8
    with pytest.raises(IndexError, match=r"class index 8 at position \(40,\) is outside"):
        fastxent.evaluate_file(d / "x.npy", bad, batch_rows=16)   # the file's row, not 8
    x3 = x.reshape(8, 8, 8)                  # (8, 8) rows of 8 classes
    x3[5, 2, 1] = np.nan
    with pytest.raises(ValueError, match=r"logits: row \(5, 2\) has NaN"):
        fastxent.evaluate_file(x3, np.zeros((8, 8), int), batch_rows=3, nonfinite="raise")
    w = np.ones(64)
    w[50] = -1
    with pytest.raises(ValueError, match=r"sample_weight: .* at position \(50,\)"):
        fastxent.evaluate_file(d / "x.npy", y, batch_rows=16, sample_weight=w)


def test_bad_arguments(small):
    d, x, y = small
    for b in (0, -3):
        with pytest.raises(ValueError, match="batch_rows: expected a positive integer"):
            fastxent.evaluate_file(d / "x.npy", y, batch_rows=b)
    with pytest.raises(ValueError, match="batch_rows: expected an integer"):
        fastxent.evaluate_file(d / "x.npy", y, batch_rows=2.5)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        fastxent.evaluate_file(x[0], 3)
    with pytest.raises(ValueError, match="topk"):
        fastxent.evaluate_file(d / "x.npy", y, topk=(0,))


def write_safetensors(path, header, data=b""):
    h = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(h)) + h + data)


def test_safetensors_bad_keys_and_headers(tmp_path, rng):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    x, y = data(rng, 10, 4)
    p = tmp_path / "m.safetensors"
    safetensors_numpy.save_file({"a": x, "b": x}, str(p))
    with pytest.raises(KeyError, match="has no tensor 'c' \\(it holds \\['a', 'b'\\]\\)"):
        fastxent.evaluate_file(p, y, key="c")
    with pytest.raises(KeyError, match="holds 2 tensors .*; name one with key="):
        fastxent.evaluate_file(p, y)
    q = tmp_path / "q.safetensors"
    cases = [
        ({"a": {"dtype": "F32", "shape": [10, 4], "data_offsets": [0, 160]}}, b"\0" * 100,
         "tensor 'a': shape"),                                       # data cut short
        ({"a": {"dtype": "F32", "shape": [10, 4], "data_offsets": [0, 150]}}, b"\0" * 160,
         "tensor 'a': shape"),                                       # offsets != shape
        ({"a": {"dtype": "C64", "shape": [10, 4], "data_offsets": [0, 320]}}, b"\0" * 320,
         "has dtype C64"),
        ({"a": {"dtype": "F32", "shape": [10, 4]}}, b"", "entry 'a'"),
        ([1, 2], b"", "not a JSON object"),
    ]
    for header, payload, msg in cases:
        write_safetensors(q, header, payload)
        with pytest.raises(ValueError, match=msg):
            fastxent.evaluate_file(q, y)
    q.write_bytes(struct.pack("<Q", 1 << 40) + b"{}")
    with pytest.raises(ValueError, match="header length 1099511627776"):
        fastxent.evaluate_file(q, y)
    q.write_bytes(struct.pack("<Q", 4) + b"{xx}")
    with pytest.raises(ValueError, match="its JSON header"):
        fastxent.evaluate_file(q, y)
    q.write_bytes(b"\1\0")
    with pytest.raises(ValueError, match="unknown format"):
        fastxent.evaluate_file(q.rename(tmp_path / "q.bin"), y)


def test_a_file_that_shrinks_while_it_is_read(small):
    d, x, y = small

    def shrink(done, total):
        if done == 8:
            os.truncate(d / "x.npy", 128 + 20 * 8 * 4)   # 20 rows left
    with pytest.raises(ValueError, match=r"ended at row 20 while rows \[16, 24\) were read .*"
                                         r"64 rows; did the file shrink"):
        fastxent.evaluate_file(d / "x.npy", y, batch_rows=8, progress=shrink)
    assert not [t for t in threading.enumerate() if t.name == "fastxent-reader"]
