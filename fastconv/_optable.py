"""The one op table: each op declared once, read by dispatch, info(), tests and benchmarks.

An entry names the op, its NumPy reference and its kernel per backend. Backends without a
kernel for an op fall back to the reference, visibly (``fastconv.info()`` lists where each op
runs). Kernel entries take the same arguments as the public function, already validated
(C-contiguous float32 arrays, normalised hyper-parameters).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from . import _backend

BACKENDS = ("cpu", "numpy", "cuda")


@dataclass
class Op:
    name: str
    reference: Callable
    kernels: dict[str, Callable] = field(default_factory=dict)
    #: FLOPs (or None for memory-bound ops) from the same arguments as the op
    flops: Callable | None = None
    #: bytes moved (read + written) from the same arguments as the op
    bytes: Callable | None = None
    doc: str = ""
    #: names of the kernel variants (algorithms) of the cpu backend, for tests and benchmarks
    variants: Callable[[], list[str]] | None = None

    def runs_on(self, backend: str) -> str:
        """Where the op runs on `backend`: the backend's name or 'numpy (fallback)'."""
        if backend == "numpy" or backend in self.kernels:
            return backend
        return "numpy (fallback)"

    def __call__(self, *args, out=None, **kwargs):
        """Run on the current backend; args are validated, kwargs normalised by the caller.

        Kernels take exactly the reference's arguments (plus ``out=`` where given); a
        backend without a kernel runs the reference and copies into ``out``.
        """
        backend = _backend.get_backend()
        fn = None if backend == "numpy" else self.kernels.get(backend)
        if fn is not None:
            return fn(*args, **kwargs) if out is None else fn(*args, out=out, **kwargs)
        result = self.reference(*args, **kwargs)
        if out is None:
            return result
        out[...] = result
        return out


OPS: dict[str, Op] = {}


def register(op: Op) -> Op:
    if op.name in OPS:
        raise KeyError(f"op {op.name!r} registered twice")
    OPS[op.name] = op
    return op


def kernel(op_name: str, backend: str) -> Callable[[Callable], Callable]:
    """Decorator: register `fn` as op_name's kernel on `backend`."""

    def deco(fn: Callable) -> Callable:
        OPS[op_name].kernels[backend] = fn
        return fn

    return deco
