"""Build of fastxent's extension: Cython binding + C kernels in csrc/.

All compiler flags live here. OpenMP is probed with the real compiler; where
it is missing the build warns and the kernels run serially. csrc/ needs GCC
or Clang (it uses their builtins, attributes and vector extensions).

Environment variables of the build:

* ``FASTXENT_NO_OPENMP=1``: build serial kernels without probing OpenMP
  (``show_config()`` then reports ``openmp: False``).
* ``CFLAGS=-DFX_NO_DISPATCH``: build the baseline kernels only, without the
  AVX2 and AVX-512 variants and their run-time selection (csrc/fx_isa.h).
* ``FASTXENT_BUILD_JOBS=N``: compile N source files at once (default: the
  usable CPUs; the ISA variants are the long ones).
"""
import os
import shutil
import tempfile
import textwrap
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.sdist import sdist

CSRC = ["csrc/fx_driver.c", "csrc/fx_pool.c", "csrc/fx_exact.c", "csrc/fx_eval.c", "csrc/isa_baseline.c", "csrc/isa_avx2.c", "csrc/isa_avx512.c"]

# Never -ffast-math: it changes results and GCC links in a constructor that
# sets flush-to-zero for the whole process.
UNIX_FLAGS = ["-O3", "-std=gnu11", "-fno-math-errno", "-fno-trapping-math",
              "-fno-strict-aliasing", "-Wno-unused-function"]

# Oldest NumPy supported at run time (matches [project].dependencies).
NUMPY_API = "NPY_1_25_API_VERSION"


def _compiles(compiler, source, compile_args, link_args):
    """Try to compile and link `source` with the given flags."""
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as fh:
            fh.write(textwrap.dedent(source))
        try:
            objs = compiler.compile([src], output_dir=tmp, extra_postargs=compile_args)
            compiler.link_executable(objs, os.path.join(tmp, "probe"),
                                     extra_postargs=link_args)
        except Exception:  # noqa: BLE001 - any failure means "not supported"
            return False
    return True


OPENMP_PROBE = """
    #include <omp.h>
    int main(void) {
        int n = 0;
        #pragma omp parallel reduction(+:n)
        n += 1;
        return n > 0 ? 0 : 1;
    }
"""


def _build_jobs() -> int:
    env = os.environ.get("FASTXENT_BUILD_JOBS")
    if env:
        return max(1, int(env))
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _compile_in_parallel(compiler, jobs: int) -> None:
    """Makes compiler.compile build its objects `jobs` at a time (the
    extension is one module of several large C files, which setuptools
    compiles one after another). Compilers without the Unix compiler's
    _setup_compile / _compile steps keep their own compile."""
    if jobs < 2 or not all(hasattr(compiler, a) for a in ("_setup_compile", "_get_cc_args",
                                                           "_compile")):
        return

    def compile(sources, output_dir=None, macros=None, include_dirs=None, debug=False,
                extra_preargs=None, extra_postargs=None, depends=None):
        macros, objects, extra_postargs, pp_opts, build = compiler._setup_compile(
            output_dir, macros, include_dirs, sources, depends, extra_postargs)
        cc_args = compiler._get_cc_args(pp_opts, debug, extra_preargs)
        todo = [obj for obj in objects if obj in build]

        def one(obj):
            src, ext = build[obj]
            compiler._compile(obj, src, ext, cc_args, extra_postargs, pp_opts)

        with ThreadPoolExecutor(jobs) as pool:
            for _ in pool.map(one, todo):   # re-raises a failed compile
                pass
        return objects

    compiler.compile = compile


class BuildExt(build_ext):
    def build_extensions(self):
        _compile_in_parallel(self.compiler, _build_jobs())
        cflags, ldflags = list(UNIX_FLAGS), []
        omp = None
        if os.environ.get("FASTXENT_NO_OPENMP") is None:
            for flags in (["-fopenmp"], ["-Xpreprocessor", "-fopenmp"]):
                link = flags if flags[0] == "-fopenmp" else ["-lomp"]
                if _compiles(self.compiler, OPENMP_PROBE, flags, link):
                    omp = (flags, link)
                    break
        if omp is None:
            why = ("FASTXENT_NO_OPENMP is set" if os.environ.get("FASTXENT_NO_OPENMP") is not None
                   else "the compiler does not support OpenMP")
            warnings.warn(f"fastxent: {why}; building serial kernels", stacklevel=1)
            cflags.append("-fopenmp-simd")
        else:
            cflags += omp[0]
            ldflags += omp[1]
        for ext in self.extensions:
            ext.extra_compile_args = cflags + list(ext.extra_compile_args or [])
            ext.extra_link_args = ldflags + list(ext.extra_link_args or [])
        super().build_extensions()


class Sdist(sdist):
    """The sdist without setuptools' egg-info copy: PKG-INFO at its top is
    the metadata, and nothing generated ships (no Cython output either, see
    MANIFEST.in)."""

    def make_release_tree(self, base_dir, files):
        super().make_release_tree(base_dir, files)
        for name in os.listdir(os.path.join(base_dir, "src")):
            if name.endswith(".egg-info"):
                shutil.rmtree(os.path.join(base_dir, "src", name))


ext = Extension(
    "fastxent._kernels",
    sources=["src/fastxent/_kernels.pyx"] + CSRC,
    include_dirs=["csrc", np.get_include()],
    define_macros=[("NPY_NO_DEPRECATED_API", NUMPY_API),
                   ("NPY_TARGET_VERSION", NUMPY_API)],
    depends=[os.path.join("csrc", f) for f in os.listdir("csrc") if f.endswith(".h")],
)

setup(
    ext_modules=cythonize([ext], language_level=3,
                          compiler_directives={"boundscheck": False, "wraparound": False,
                                               "cdivision": True, "embedsignature": True}),
    cmdclass={"build_ext": BuildExt, "sdist": Sdist},
)
