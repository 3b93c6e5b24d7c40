"""examples/dask_evaluate.py on a small file: the printed result is the
in-memory evaluate of the files it wrote, bit for bit."""
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("dask.array")
pytest.importorskip("distributed")

import fastxent  # noqa: E402

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "dask_evaluate.py"


def test_dask_example_on_a_small_file(tmp_path):
    proc = subprocess.run([sys.executable, str(EXAMPLE), "--dir", str(tmp_path), "--rows", "700",
                           "--classes", "50", "--chunk-rows", "64", "--memory-limit", "1GiB"],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    x, y = np.load(out["logits"]), np.load(out["labels"])
    assert x.shape == (700, 50) and out["file_bytes"] > x.nbytes
    want = fastxent.evaluate(x, y, topk=(1, 5)).to_dict()
    assert out["result"] == json.loads(json.dumps(want))
    assert out["result"]["topk_accuracy"]["1"] > 0.5   # the planted signal is found
