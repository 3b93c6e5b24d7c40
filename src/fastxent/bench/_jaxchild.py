"""The JAX peer's child process: ``python -m fastxent.bench._jaxchild DIR``
(see :mod:`fastxent.bench.jaxpeer`)."""
import sys

from .jaxpeer import child_main

if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1]))
