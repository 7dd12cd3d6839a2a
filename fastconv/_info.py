"""What fastconv was built with and where each op runs."""

from __future__ import annotations

import platform
import sys
from typing import Any, TextIO

from . import _C
from ._backend import get_backend
from ._optable import OPS


def _cuda_available() -> bool:
    if not _C.cuda_built:
        return False
    try:
        import cupy  # noqa: F401

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # noqa: BLE001 - no CuPy, no driver, no device: all mean "no"
        return False


def info_dict() -> dict[str, Any]:
    """Build and machine facts as a dict (what :func:`info` prints)."""
    backend = get_backend()
    return {
        "version": _C.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "compiler": _C.cxx_compiler,
        "isa": _C.active_isa(),
        "best_isa": _C.best_isa(),
        "supported_isas": list(_C.supported_isas()),
        "cpu_features": list(_C.cpu_features()),
        "num_threads": _C.get_num_threads(),
        "max_threads": _C.max_threads(),
        "cuda_built": bool(_C.cuda_built),
        "cuda_compiler_found": _C.cuda_compiler or None,
        "cuda_available": _cuda_available(),
        "backend": backend,
        "ops": {name: op.runs_on(backend) for name, op in sorted(OPS.items())},
    }


def info(file: TextIO | None = None) -> None:
    """Print version, chosen ISA, CPU features, threads, CUDA status and where each op runs."""
    d = info_dict()
    out = file or sys.stdout
    w = max(len(k) for k in d)
    for key, val in d.items():
        if key == "ops":
            continue
        if isinstance(val, list):
            val = ", ".join(val) or "-"
        print(f"{key:<{w}}  {val}", file=out)
    print(f"ops on backend '{d['backend']}':", file=out)
    wo = max(len(k) for k in d["ops"])
    for name, where in d["ops"].items():
        print(f"  {name:<{wo}}  {where}", file=out)
