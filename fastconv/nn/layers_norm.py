"""BatchNormalization (Keras conventions, fused ReLU) and AlexNet's local response norm."""

from __future__ import annotations

import numpy as np

import fastconv as F

from .layer import Layer, Shape


class BatchNormalization(Layer):
    """Per-channel batch normalisation over (N, H, W) (or N for (N, C) inputs).

    Training (and trainable): batch statistics, running statistics updated in place with
    ``running = momentum * running + (1 - momentum) * batch``. Inference or frozen
    (``trainable = False``): running statistics. Defaults are Keras': momentum 0.99, eps 1e-3.
    """

    fuses_relu = True

    def __init__(self, momentum: float = 0.99, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, *, axis: int = -1, name: str | None = None,
                 trainable: bool = True):
        super().__init__(name=name, trainable=trainable)
        if axis != -1:
            raise ValueError("axis: only the channel (last) axis is supported (NHWC)")
        self.momentum, self.epsilon = float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)

    def build(self, input_shape: Shape) -> None:
        c = input_shape[-1]
        self.gamma = self.add_param("gamma", (c,), "ones") if self.scale else None
        self.beta = self.add_param("beta", (c,), "zeros") if self.center else None
        self._ones, self._zeros = np.ones(c, np.float32), np.zeros(c, np.float32)
        self.add_buffer("moving_mean", np.zeros(c, np.float32))
        self.add_buffer("moving_variance", np.ones(c, np.float32))

    def gamma_beta(self) -> tuple[np.ndarray, np.ndarray]:
        return (self.gamma.value if self.gamma is not None else self._ones,
                self.beta.value if self.beta is not None else self._zeros)

    def _forward(self, x, training, relu=False, residual=None):
        """residual: added before the ReLU (nn.graph's BN -> Add -> ReLU fusion)."""
        g, b = self.gamma_beta()
        if training and self.trainable:
            y, mean, invstd = F.batch_norm(
                x, g, b, self.moving_mean, self.moving_variance, training=True,
                momentum=self.momentum, eps=self.epsilon, relu=relu, return_stats=True,
                residual=residual)
            return y, (x, mean, invstd, y if relu else None, True)
        y = F.batch_norm(x, g, b, self.moving_mean, self.moving_variance, training=False,
                         eps=self.epsilon, relu=relu, residual=residual)
        return y, (x, None, None, y if relu else None, False)

    def _backward(self, dy, ctx, need_dx):
        x, mean, invstd, y, batch = ctx
        if not batch:  # frozen statistics: constants
            mean = self.moving_mean
            invstd = (1.0 / np.sqrt(self.moving_variance + self.epsilon)).astype(np.float32)
        g, _ = self.gamma_beta()
        dx, dg, db = F.batch_norm_backward(dy, x, g, mean, invstd, training=batch, y=y)
        t = self.trainable
        grads = ([dg if t else None] if self.scale else []) + ([db if t else None]
                                                                 if self.center else [])
        return dx, grads


class LocalResponseNormalization(Layer):
    """Across-channel LRN of AlexNet (2012), section 3.3:

    ``y_c = x_c / (k + alpha * sum_{c' in window(c)} x_c'^2) ** beta``, a window of `size`
    channels centred on c (paper: k=2, size=5, alpha=1e-4, beta=0.75). PyTorch's
    LocalResponseNorm divides alpha by size; pass ``alpha=1e-4 / 5`` to match it.
    """

    def __init__(self, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 2.0,
                 *, name: str | None = None):
        super().__init__(name=name)
        if int(size) < 1:
            raise ValueError(f"size: must be >= 1, got {size}")
        self.size, self.alpha, self.beta, self.k = int(size), float(alpha), float(beta), float(k)

    def _window(self, a: np.ndarray, before: int, after: int) -> np.ndarray:
        """s[..., c] = sum of a[..., c - before : c + after + 1] (clipped to the channels)."""
        s = a.copy()
        c = a.shape[-1]
        for d in range(1, before + 1):
            if d < c:
                s[..., d:] += a[..., :-d]
        for d in range(1, after + 1):
            if d < c:
                s[..., :-d] += a[..., d:]
        return s

    def _forward(self, x, training, relu=False):
        before, after = self.size // 2, (self.size - 1) // 2
        s = self._window(x * x, before, after)
        s *= self.alpha
        s += self.k
        sb = s ** -self.beta
        y = x * sb
        return y, (x, s, sb, y)

    def _backward(self, dy, ctx, need_dx):
        x, s, sb, y = ctx
        before, after = self.size // 2, (self.size - 1) // 2
        t = self._window(dy * y / s, after, before)  # the window's transpose
        return dy * sb - (2 * self.alpha * self.beta) * x * t, []


LRN = LocalResponseNormalization
