"""Bad input raises a clear TypeError/ValueError naming the argument, never a crash."""

import numpy as np
import pytest

import fastconv as fc
from fastconv import _C

X = np.zeros((1, 5, 5, 3), np.float32)
W = np.zeros((3, 3, 3, 4), np.float32)


@pytest.mark.parametrize("backend", ["cpu", "numpy"])
@pytest.mark.parametrize("call, exc, match", [
    (lambda: fc.conv2d(X[0], W), ValueError, "x: expected 4 dimensions"),
    (lambda: fc.conv2d(X, W[0]), ValueError, "w: expected 4 dimensions"),
    (lambda: fc.conv2d(X, np.zeros((3, 3, 2, 4), np.float32)), ValueError, "w: has 2 input"),
    (lambda: fc.conv2d(X.astype(np.int32), W), TypeError, "x: expected a float"),
    (lambda: fc.conv2d(X, W.astype(bool)), TypeError, "w: expected a float"),
    (lambda: fc.conv2d(X, W.astype(np.complex64)), TypeError, "w: expected a float"),
    (lambda: fc.conv2d("abc", W), TypeError, "x: expected a float"),
    (lambda: fc.conv2d(X, W, np.zeros(5, np.float32)), ValueError, "b: expected shape"),
    (lambda: fc.conv2d(X, W, stride=0), ValueError, "stride"),
    (lambda: fc.conv2d(X, W, stride=-1), ValueError, "stride"),
    (lambda: fc.conv2d(X, W, stride=1.5), TypeError, "stride"),
    (lambda: fc.conv2d(X, W, padding=-1), ValueError, "padding"),
    (lambda: fc.conv2d(X, W, padding="full"), ValueError, "padding"),
    (lambda: fc.conv2d(X, W, dilation=0), ValueError, "dilation"),
    (lambda: fc.conv2d(X, W, groups=0), ValueError, "groups"),
    (lambda: fc.conv2d(X, W, groups=2), ValueError, "groups"),
    (lambda: fc.conv2d(X, np.zeros((7, 7, 3, 4), np.float32)), ValueError, "larger than"),
    (lambda: fc.conv2d(X, W, dilation=3), ValueError, "larger than"),
    (lambda: fc.conv2d(np.zeros((0, 5, 5, 3), np.float32), W), ValueError, "x: empty"),
    (lambda: fc.conv2d(X, W, padding=2**45), ValueError, "padding"),
    (lambda: fc.conv2d(X, W, out=np.zeros((1, 3, 3, 4), np.float64)), TypeError, "out"),
    (lambda: fc.conv2d(X, W, out=np.zeros((1, 3, 3, 5), np.float32)), ValueError, "out"),
    (lambda: fc.conv2d_backward(np.zeros((1, 2, 2, 4), np.float32), X, W), ValueError, "dy"),
])
def test_conv2d_bad_input(backend, call, exc, match):
    with fc.use_backend(backend), pytest.raises(exc, match=match):
        call()


def test_absurd_sizes_refused_before_allocation():
    big = np.lib.stride_tricks.as_strided(np.zeros(1, np.float32), (1, 2**21, 2**21, 1), (0,) * 4)
    with pytest.raises(ValueError, match="absurd"):
        fc.conv2d(big, np.zeros((1, 1, 1, 2**20), np.float32))


def test_readonly_and_noncontiguous_inputs_are_fine():
    x = np.arange(2 * 6 * 6 * 3, dtype=np.float32).reshape(2, 6, 6, 3)
    w = np.ones((3, 3, 3, 2), np.float32)
    x.setflags(write=False)
    y1 = fc.conv2d(x, w)
    xt = np.asfortranarray(x)
    y2 = fc.conv2d(xt, w)
    y3 = fc.conv2d(np.ascontiguousarray(x[:, ::1, ::1, :]), w)
    assert np.array_equal(y1, y2) and np.array_equal(y1, y3)
    out = np.zeros((2, 4, 4, 2), np.float32)
    out.setflags(write=False)
    with pytest.raises(ValueError, match="read-only"):
        fc.conv2d(x, w, out=out)


def test_nan_propagates():
    x = np.ones((1, 4, 4, 1), np.float32)
    x[0, 1, 1, 0] = np.nan
    y = fc.conv2d(x, np.ones((3, 3, 1, 1), np.float32))
    assert np.isnan(y).all()


def test_direct_C_calls_raise_not_crash():
    with pytest.raises(ValueError):
        _C.conv2d_forward(X, W, None, (1, 1), (0, 0, 0, 0), (1, 1), 5, False, None)
    with pytest.raises(ValueError):
        _C.conv2d_forward(X, W, None, (0, 1), (0, 0, 0, 0), (1, 1), 1, False, None)
    with pytest.raises(ValueError):
        _C.conv2d_forward(X[:, ::2], W, None, (1, 1), (0, 0, 0, 0), (1, 1), 1, False, None)
    with pytest.raises(TypeError):
        _C.conv2d_forward(X.astype(np.float64), W, None, (1, 1), (0, 0, 0, 0), (1, 1), 1,
                          False, None)
    with pytest.raises(ValueError):
        _C.conv2d_forward(X, W, None, (1, 1), (-1, 0, 0, 0), (1, 1), 1, False, None)


def test_runtime_knobs_validate():
    with pytest.raises(ValueError):
        fc.set_num_threads(0)
    with pytest.raises(TypeError):
        fc.set_num_threads(1.5)
    with pytest.raises(ValueError):
        fc.set_isa("sse9")
    with pytest.raises(ValueError):
        fc.set_backend("tpu")
