"""Optimizers that update ``Parameter.value`` in place from ``Parameter.grad``.

Update rules (g = grad + weight_decay * w, the L2 penalty's gradient; t counts steps from 1):
  SGD       v = momentum * v + g;  w -= lr * v          (nesterov: w -= lr * (g + momentum * v))
  RMSProp   s = rho * s + (1 - rho) * g^2;  w -= lr * g / (sqrt(s) + eps)
  Adam      m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
            w -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)   (bias-corrected)
The course writes momentum as an EWMA, v = beta v + (1 - beta) g; that is the same walk with
the learning rate scaled by (1 - beta).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import numpy as np

from .. import reference as _reference
from ..ops import optim as _ops_optim
from .schedules import Schedule


class Optimizer:
    """Base: holds the learning rate (float or schedule) and per-parameter state."""

    def __init__(self, lr: float | Schedule | Callable[[int], float], weight_decay: float = 0.0):
        if not callable(lr) and not float(lr) > 0:
            raise ValueError(f"lr: must be > 0, got {lr}")
        if weight_decay < 0:
            raise ValueError(f"weight_decay: must be >= 0, got {weight_decay}")
        self.lr_schedule = lr
        self.weight_decay = float(weight_decay)
        self.epoch = 0
        self.iterations = 0
        self._state: dict[int, dict[str, np.ndarray]] = {}

    @property
    def lr(self) -> float:
        """The learning rate for the current epoch."""
        s = self.lr_schedule
        return float(s(self.epoch)) if callable(s) else float(s)

    def set_epoch(self, epoch: int) -> None:
        """Tell a scheduled learning rate which epoch (from 0) is running."""
        self.epoch = int(epoch)

    def _grad(self, p) -> np.ndarray:
        g = p.grad
        if self.weight_decay:
            g = g + self.weight_decay * p.value
        return g

    def _slots(self, p, *names: str) -> list[np.ndarray]:
        st = self._state.get(id(p))
        if st is None:
            st = self._state[id(p)] = {}
        for n in names:  # not setdefault: that would allocate a zeros array every step
            if n not in st:
                st[n] = np.zeros_like(p.value)
        return [st[n] for n in names]

    def step(self, params: Iterable) -> None:
        """One update of every trainable parameter that has a gradient."""
        self.iterations += 1
        lr = self.lr
        for p in params:
            if p.grad is None or not getattr(p, "trainable", True):
                continue
            if p.grad.shape != p.value.shape:
                raise ValueError(f"{p.name}: grad shape {p.grad.shape} != value shape "
                                 f"{p.value.shape}")
            self._update(p, self._grad(p), lr)

    def _update(self, p, g: np.ndarray, lr: float) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def reset(self) -> None:
        """Forget all state (moments, step count)."""
        self._state.clear()
        self.iterations = 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}(lr={self.lr_schedule!r})"


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum and L2 weight decay."""

    def __init__(self, lr=0.01, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0):
        super().__init__(lr, weight_decay)
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum: must be in [0, 1), got {momentum}")
        if nesterov and momentum == 0:
            raise ValueError("nesterov: needs momentum > 0")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    def _update(self, p, g, lr):
        if self.momentum == 0:
            p.value -= (lr * g).astype(p.value.dtype, copy=False)
            return
        (v,) = self._slots(p, "v")
        v *= self.momentum
        v += g
        step = g + self.momentum * v if self.nesterov else v
        p.value -= (lr * step).astype(p.value.dtype, copy=False)


class RMSProp(Optimizer):
    """RMSProp: divide the gradient by a running root-mean-square of recent gradients."""

    def __init__(self, lr=0.001, rho: float = 0.9, eps: float = 1e-7, weight_decay: float = 0.0):
        super().__init__(lr, weight_decay)
        if not 0 <= rho < 1:
            raise ValueError(f"rho: must be in [0, 1), got {rho}")
        self.rho, self.eps = float(rho), float(eps)

    def _update(self, p, g, lr):
        (s,) = self._slots(p, "s")
        s *= self.rho
        s += (1 - self.rho) * g * g
        p.value -= (lr * g / (np.sqrt(s) + self.eps)).astype(p.value.dtype, copy=False)


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction; ``decoupled=True`` makes it AdamW."""

    def __init__(self, lr=0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-7,
                 weight_decay: float = 0.0, decoupled: bool = False):
        super().__init__(lr, weight_decay)
        for name, b in (("beta1", beta1), ("beta2", beta2)):
            if not 0 <= b < 1:
                raise ValueError(f"{name}: must be in [0, 1), got {b}")
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.decoupled = bool(decoupled)

    def step(self, params: Iterable) -> None:
        """One update of every trainable parameter that has a gradient: one fused pass per
        array, the L2 penalty (weight_decay without decoupling) folded into it, all arrays in
        one call (fastconv.ops.optim.adam_update_multi)."""
        self.iterations += 1
        lr = self.lr
        wd = self.weight_decay
        l2, decay = (0.0, lr * wd) if self.decoupled else (wd, 0.0)
        scalars: dict[int, tuple] = {}  # step count -> the kernel's scalars (usually one t)
        state = self._state
        ws: list[np.ndarray] = []
        gs: list[np.ndarray] = []
        ms: list[np.ndarray] = []
        vs: list[np.ndarray] = []
        scs: list[tuple] = []
        for p in params:
            g = p.grad
            if g is None or not getattr(p, "trainable", True):
                continue
            w = p.value
            if g.shape != w.shape:
                raise ValueError(f"{p.name}: grad shape {g.shape} != value shape {w.shape}")
            st = state.get(id(p))
            if st is None:
                st = state[id(p)] = {"m": np.zeros_like(w), "v": np.zeros_like(w), "t": 0}
            t = st["t"] = st["t"] + 1  # per parameter: a late-unfrozen layer starts fresh
            sc = scalars.get(t)
            if sc is None:
                sc = scalars[t] = (lr / (1 - self.beta1 ** t), self.beta1, self.beta2,
                                   1 / math.sqrt(1 - self.beta2 ** t), self.eps, l2, decay)
            if g.dtype != w.dtype or not g.flags.c_contiguous:
                g = np.ascontiguousarray(g, dtype=w.dtype)
            wf = w.flags
            if wf.c_contiguous and wf.writeable:
                # fused passes (C++ for float32): ResNet-50's 25 M parameters make every
                # NumPy temporary count, LeNet-5's small arrays every call
                ws.append(w)
                gs.append(g)
                ms.append(st["m"])
                vs.append(st["v"])
                scs.append(sc)
            else:
                _reference.adam_update(w, g, st["m"], st["v"], **_adam_kw(sc))
        if ws:
            _ops_optim.adam_update_multi(ws, gs, ms, vs, scs)


def _adam_kw(sc: tuple) -> dict:
    return dict(zip(("lr_t", "b1", "b2", "c2", "eps", "l2", "decay"), sc, strict=True))


OPTIMIZERS = {"sgd": SGD, "momentum": lambda: SGD(0.01, momentum=0.9), "rmsprop": RMSProp,
              "adam": Adam}


def get(optimizer: str | Optimizer) -> Optimizer:
    """An Optimizer from its name (default hyper-parameters) or one passed through."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, str) and optimizer.lower() in OPTIMIZERS:
        return OPTIMIZERS[optimizer.lower()]()
    raise ValueError(f"optimizer: unknown optimizer {optimizer!r}; choose from "
                     f"{sorted(OPTIMIZERS)}")
