"""Test helpers: finite differences and tolerance-aware comparisons."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: Winograd F(4x4, 3x3) and F(4x4, 5x5) error bound, relative to max|y|
#: (measured: ~2e-6 to 1e-5 on these shapes).
WINOGRAD_TOL = 1e-4


def numerical_grad(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences of scalar f() with respect to x (modified in place, restored)."""
    g = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        fp = f()
        x[i] = old - eps
        fm = f()
        x[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return g


def assert_close(actual: np.ndarray, expected: np.ndarray, *, rtol: float = 1e-4,
                 atol: float = 1e-4, scale: float | None = None) -> None:
    """allclose with atol relative to the magnitude of the expected values (float32 sums)."""
    actual = np.asarray(actual, np.float64)
    expected = np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    s = scale if scale is not None else max(1.0, float(np.abs(expected).max(initial=0.0)))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol * s)
