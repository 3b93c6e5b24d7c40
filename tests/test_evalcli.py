"""``python -m fastxent evaluate``: the table, the files it writes (whole
or not at all), exit status 2 on bad input, the progress bar (drawn in a
pseudo-terminal, absent without one), Ctrl-C (partial result, exit 130),
and bounded memory under a capped address space.
"""
import fcntl
import io
import json
import os
import pty
import resource
import select
import signal
import struct
import subprocess
import sys
import termios
import time

import numpy as np
import pytest

import fastxent
from fastxent import _progress
from fastxent.__main__ import main

pytest.importorskip("tqdm")
MiB = 1 << 20


def cli(*args):
    return [sys.executable, "-m", "fastxent", "evaluate", *map(str, args)]


@pytest.fixture
def files(tmp_path, rng):
    x = rng.standard_normal((500, 23)).astype(np.float32) * 2
    y = rng.integers(0, 23, 500)
    y[::17] = -100
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    return tmp_path, x, y


def test_table_json_csv_and_plot(files, capsys):
    d, x, y = files
    rc = main(["evaluate", str(d / "x.npy"), str(d / "y.npy"), "--topk", "1,3", "--bins", "10",
               "--batch-rows", "37", "--json", str(d / "r.json"), "--per-class",
               str(d / "c.csv"), "--plot", str(d / "r.png"), "--no-progress"])
    out = capsys.readouterr()
    assert rc == 0 and out.err == ""
    want = fastxent.evaluate(x, y, topk=(1, 3), n_bins=10, per_class=True)
    got = json.loads((d / "r.json").read_text())
    assert got == json.loads(json.dumps(want.to_dict()))     # every bit (floats round-trip)
    assert f"top3_accuracy   {want.topk_accuracy[3]:.6g}" in out.out
    assert f"perplexity      {want.perplexity:.6g}" in out.out
    csv = np.loadtxt(d / "c.csv", delimiter=",", skiprows=1)
    pc = want.per_class
    np.testing.assert_array_equal(csv, np.column_stack(
        [np.arange(23), pc.support, pc.correct, pc.predicted, pc.nll_sum]))
    assert (d / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in os.listdir(d) if p.endswith(".tmp")]


def test_bad_input_exits_2_with_the_message_and_writes_nothing(files, capsys):
    d, x, y = files
    np.save(d / "short.npy", y[:10])
    cases = [([d / "nope.npy", d / "y.npy"], "logits: no such file"),
             ([d / "x.npy", d / "short.npy"], "labels: expected the logits' shape"),
             ([d / "y.npy", d / "y.npy"], "at least 2 dimensions"),
             ([d / "x.npy", d / "y.npy", "--batch-rows", "0"], "batch_rows: expected a positive"),
             ([d / "x.npy", d / "y.npy", "--axis", "2"], "axis: 2 is out of bounds"),
             ([d / "x.npy", d / "y.npy", "--plot", d / "no" / "r.png"], "--plot: cannot write")]
    for args, msg in cases:
        rc = main(["evaluate", *map(str, args), "--json", str(d / "r.json"), "--no-progress"])
        err = capsys.readouterr().err
        assert rc == 2 and msg in err and "Traceback" not in err, (args, err)
        assert sorted(os.listdir(d)) == ["short.npy", "x.npy", "y.npy"], args
    bad = y.copy()
    bad[400] = 99
    np.save(d / "bad.npy", bad)
    proc = subprocess.run(cli(d / "x.npy", d / "bad.npy", "--json", d / "r.json"),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "99" in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout == "" and not (d / "r.json").exists()


def test_safetensors_missing_key_exits_2(tmp_path, rng):
    st = pytest.importorskip("safetensors.numpy")
    st.save_file({"logits": np.zeros((4, 3), np.float32)}, str(tmp_path / "m.safetensors"))
    np.save(tmp_path / "y.npy", np.zeros(4, np.int64))
    proc = subprocess.run(cli(tmp_path / "m.safetensors", tmp_path / "y.npy", "--key", "x"),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "has no tensor 'x' (it holds ['logits'])" in proc.stderr
    assert "Traceback" not in proc.stderr


# ------------------------------------------------------------------ progress

def run_in_pty(cmd, stop_when=None, timeout=60, size=(24, 100)):
    """Runs `cmd` with stderr on a pseudo-terminal of `size` (rows, columns);
    returns (process, what it drew). `stop_when(text)`: SIGINT once the
    drawing satisfies it."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    drawn, sent, end = b"", False, time.monotonic() + timeout
    while time.monotonic() < end:
        ready, _, _ = select.select([master], [], [], 0.05)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:      # EIO: the child closed its side
                break
            if not chunk:
                break
            drawn += chunk
        if stop_when and not sent and stop_when(drawn.decode(errors="replace")):
            proc.send_signal(signal.SIGINT)
            sent = True
        if proc.poll() is not None and not ready:
            break
    os.close(master)
    proc.wait(timeout=timeout)
    return proc, drawn.decode(errors="replace")


@pytest.mark.parametrize("bar", ["tqdm", "built-in"])
def test_progress_bar_drawn_in_a_terminal_and_absent_without(files, bar):
    d, x, y = files
    args = [str(d / "x.npy"), str(d / "y.npy"), "--batch-rows", "50"]
    hide = "import sys; sys.modules['tqdm'] = None; " if bar == "built-in" else ""
    cmd = [sys.executable, "-c", hide + "import sys; from fastxent.__main__ import main; "
           "sys.exit(main(sys.argv[1:]))", "evaluate", *args]
    proc, drawn = run_in_pty(cmd)
    assert proc.returncode == 0
    assert "500/500" in drawn and "rows" in drawn, drawn
    assert ("GB/s" in drawn) and ("it/s" not in drawn), drawn
    if bar == "built-in":
        assert "ETA" in drawn and "100% |" in drawn, drawn
    assert "n_rows" in proc.stdout.read()
    if bar == "tqdm":
        proc, drawn = run_in_pty(cmd, size=(0, 0))     # a terminal that reports no size
        assert proc.returncode == 0 and "500/500" in drawn, drawn
        return
    proc, drawn = run_in_pty(cmd + ["--no-progress"])
    assert proc.returncode == 0 and drawn.strip() == ""
    piped = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert piped.returncode == 0 and piped.stderr == ""


def test_text_bar_line():
    clock = iter([0.0, 2.0, 2.0]).__next__
    out = io.StringIO()
    bar = _progress.TextBar(1000, 4000.0, out, clock=clock)
    bar(250)
    assert "25% |######                  | 250/1000 rows  125 rows/s  0.00 GB/s  ETA 0:06" \
        in out.getvalue()


# ------------------------------------------------------------ Ctrl-C, memory

def sparse_npy(path, shape, head_rows=0, rng=None):
    """A .npy of float32 zeros that takes no disk space beyond its first
    `head_rows` rows (random)."""
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<f4", "fortran_order": False, "shape": shape})
        if head_rows:
            f.write(rng.standard_normal((head_rows, shape[1]), dtype=np.float32).tobytes())
        f.truncate(f.tell() + (shape[0] - head_rows) * shape[1] * 4)


def test_ctrl_c_prints_and_writes_the_partial_result_and_exits_130(tmp_path, rng):
    shape = (1 << 20, 1024)      # 4 GiB (sparse): seconds to read even on a fast machine
    sparse_npy(tmp_path / "x.npy", shape, head_rows=4096, rng=rng)
    y = rng.integers(0, 1024, shape[0])
    np.save(tmp_path / "y.npy", y)
    cmd = cli(tmp_path / "x.npy", tmp_path / "y.npy", "--batch-rows", "1024", "--threads", "1",
              "--json", tmp_path / "r.json")
    proc, drawn = run_in_pty(cmd, stop_when=lambda s: "GB/s" in s)
    out = proc.stdout.read()
    assert proc.returncode == 130, (drawn, out)
    assert "interrupted after" in drawn and "n_rows" in out and "partial" in out
    d = json.loads((tmp_path / "r.json").read_text())
    n = d["rows_done"]
    assert d["partial"] is True and 0 < n < shape[0] and n % 1024 == 0 and d["n_rows"] == n
    x = np.load(tmp_path / "x.npy", mmap_mode="r")
    want = fastxent.evaluate(np.array(x[:n]), y[:n]).to_dict()
    assert {k: v for k, v in d.items() if k not in ("partial", "rows_done")} \
        == json.loads(json.dumps(want))


def test_memory_is_bounded_below_the_file_size(tmp_path):
    shape = (1 << 18, 1024)                    # 1 GiB of logits
    sparse_npy(tmp_path / "x.npy", shape)
    np.save(tmp_path / "y.npy", np.zeros(shape[0], np.int32))
    cap = 768 * MiB                            # address space: below the file's size

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    whole = subprocess.run([sys.executable, "-c", "import numpy as np, sys; "
                            "np.load(sys.argv[1]).sum()", str(tmp_path / "x.npy")],
                           preexec_fn=limit, capture_output=True, text=True, timeout=120)
    assert whole.returncode != 0 and "MemoryError" in whole.stderr   # the cap bites
    proc = subprocess.run(cli(tmp_path / "x.npy", tmp_path / "y.npy", "--json",
                              tmp_path / "r.json"), preexec_fn=limit, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    d = json.loads((tmp_path / "r.json").read_text())
    assert d["n_rows"] == shape[0]
    assert d["nll_mean"] == pytest.approx(np.log(1024), rel=1e-6)   # uniform rows
