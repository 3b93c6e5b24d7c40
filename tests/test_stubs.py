"""The shipped stubs (``__init__.pyi``, ``_kernels.pyi``) match the runtime.

``mypy.stubtest`` imports the installed package and compares every function
with its stub: parameter names, order, kinds (keyword-only, defaults) and the
names a module exports. A change to a public signature, to ``__all__`` or to
a ``def`` in ``_kernels.pyx`` that is not mirrored in the stub fails here.
stubtest also type-checks the stubs themselves, so no separate mypy run is
needed. It reads the ``[tool.mypy]`` section of pyproject.toml.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mypy.stubtest")

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_stubs_match_runtime(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "MYPYPATH"}
    cmd = [sys.executable, "-m", "mypy.stubtest", "--mypy-config-file", str(PYPROJECT),
           "fastxent"]
    # cwd=tmp_path: picks up no stray mypy.ini, and anything written lands there
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    output = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == 0, (
        f"stubtest found the stubs out of date (exit {proc.returncode}); fix "
        f"src/fastxent/*.pyi:\n{output}")
