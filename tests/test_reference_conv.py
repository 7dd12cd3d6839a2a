"""The NumPy reference conv against brute-force loops and finite differences (float64)."""

import numpy as np
from brute import conv_forward
from helpers import assert_close, numerical_grad
from hypothesis import given
from strategies import arrays, conv_cases, seeds

from fastconv import reference


@given(conv_cases(max_hw=7, max_c=4, max_k=5, max_n=2), seeds)
def test_conv2d_matches_brute_force(case, seed):
    rng = np.random.default_rng(seed)
    x = arrays(rng, case.x_shape, np.float64)
    w = arrays(rng, case.w_shape, np.float64)
    b = arrays(rng, (case.K,), np.float64)
    y = reference.conv2d(x, w, b, **case.kwargs)
    assert y.dtype == np.float64
    assert_close(y, conv_forward(x, w, b, case.geometry()), rtol=1e-12, atol=1e-12)


@given(conv_cases(max_hw=5, max_c=3, max_k=3, max_n=2), seeds)
def test_conv2d_backward_matches_finite_differences(case, seed):
    rng = np.random.default_rng(seed)
    x = arrays(rng, case.x_shape, np.float64)
    w = arrays(rng, case.w_shape, np.float64)
    b = arrays(rng, (case.K,), np.float64)
    g = case.geometry()
    dy = arrays(rng, g.y_shape, np.float64)

    def loss() -> float:
        return float((reference.conv2d(x, w, b, **case.kwargs) * dy).sum())

    dx, dw, db = reference.conv2d_backward(dy, x, w, **case.kwargs)
    assert_close(dx, numerical_grad(loss, x), rtol=1e-6, atol=1e-7)
    assert_close(dw, numerical_grad(loss, w), rtol=1e-6, atol=1e-7)
    assert_close(db, numerical_grad(loss, b), rtol=1e-6, atol=1e-7)


def test_same_padding_is_tensorflow_asymmetric():
    # H=4, k=2, stride 2 -> no pad; H=5, k=4, stride 1 -> total 3: top 1, bottom 2
    from fastconv._args import padding4

    assert padding4("same", (4, 4), (2, 2), (2, 2), (1, 1)) == ((0, 0), (0, 0))
    assert padding4("same", (5, 5), (4, 4), (1, 1), (1, 1)) == ((1, 2), (1, 2))
    x = np.ones((1, 5, 5, 1))
    y = reference.conv2d(x, np.ones((4, 4, 1, 1)), padding="same")
    assert y.shape == (1, 5, 5, 1)
    # top-left output sees rows 0..2 and cols 0..2 (one padded row/col above/left): 9 ones
    assert y[0, 0, 0, 0] == 9 and y[0, 4, 4, 0] == 4


def test_need_flags_skip_gradients():
    rng = np.random.default_rng(0)
    x, w = arrays(rng, (1, 4, 4, 2)), arrays(rng, (3, 3, 2, 3))
    dy = arrays(rng, (1, 2, 2, 3))
    dx, dw, db = reference.conv2d_backward(dy, x, w, need_dx=False, need_db=False)
    assert dx is None and db is None and dw.shape == w.shape
