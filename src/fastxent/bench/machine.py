"""What the report says of the machine: CPU, versions, fastxent's build, load."""
from __future__ import annotations

import importlib.metadata
import os
import platform
from typing import Any, Dict, Optional

from fastxent._config import config
from fastxent._threads import usable_cpus

__all__ = ["machine_info", "load_average", "usable_cpus"]


def machine_info() -> Dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions: Dict[str, Optional[str]] = {}
    for dist in ("numpy", "torch", "jax", "jaxlib", "optax", "scipy", "scikit-learn",
                 "matplotlib"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = None
    return {
        "cpu": cpu,
        "machine": platform.machine(),
        "system": platform.platform(),
        "python": platform.python_version(),
        "usable_cpus": usable_cpus(),
        "os_cpu_count": os.cpu_count(),
        "fastxent_config": config(),
        "versions": versions,
    }


def load_average() -> Optional[float]:
    """The 1-minute load average, None where the OS has none."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover - not on this OS
        return None
