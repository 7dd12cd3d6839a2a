"""Backend selection, threads and ISA (the runtime knobs)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from . import _C

_VALID = ("cpu", "numpy", "cuda")


class _State(threading.local):
    # a class default: a thread that never chose a backend reads None without the
    # AttributeError a bare threading.local raises inside getattr (~2 us, per op call)
    backend: str | None = None


_state = _State()
_default = "cpu"


def _check(name: str) -> None:
    if name not in _VALID:
        raise ValueError(f"backend: expected one of {_VALID}, got {name!r}")
    if name == "cuda" and not _C.cuda_built:
        raise RuntimeError("backend 'cuda': this build of fastconv has no CUDA kernels")


def get_backend() -> str:
    """The backend ops run on in this thread: 'cpu' (C++ kernels), 'numpy' or 'cuda'."""
    return _state.backend or _default


def set_backend(name: str) -> None:
    """Select the backend for subsequent ops, in every thread ('cpu' | 'numpy' | 'cuda')."""
    global _default
    _check(name)
    _default = name


@contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Context manager: run the block on backend `name` (this thread only)."""
    _check(name)
    old = _state.backend
    _state.backend = name
    try:
        yield
    finally:
        _state.backend = old


def set_num_threads(n: int) -> None:
    """Threads used by every C++ kernel (default: all cores). Results do not depend on it."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"n: expected an int, got {n!r}")
    if n < 1:
        raise ValueError(f"n: must be >= 1, got {n}")
    _C.set_num_threads(n)


def get_num_threads() -> int:
    return _C.get_num_threads()


def get_isa() -> str:
    """The instruction set the C++ kernels run with: 'avx512', 'avx2' or 'generic'."""
    return _C.active_isa()


def set_isa(name: str) -> None:
    """Force an ISA variant (like the FASTCONV_ISA environment variable); must be supported."""
    if name not in ("generic", "avx2", "avx512"):
        raise ValueError(f"isa: expected 'generic', 'avx2' or 'avx512', got {name!r}")
    _C.set_isa(name)


def supported_isas() -> list[str]:
    return list(_C.supported_isas())


@contextmanager
def use_isa(name: str) -> Iterator[None]:
    old = get_isa()
    set_isa(name)
    try:
        yield
    finally:
        set_isa(old)
