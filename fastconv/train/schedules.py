"""Learning-rate schedules: ``schedule(epoch) -> lr`` (epoch counted from 0).

An optimizer accepts a float or one of these as its ``lr``; ``fit`` tells it the epoch.
"""

from __future__ import annotations

import math


class Schedule:
    """Base: a callable epoch -> learning rate, starting at ``lr0``."""

    def __init__(self, lr0: float):
        if not lr0 > 0:
            raise ValueError(f"lr0: must be > 0, got {lr0}")
        self.lr0 = float(lr0)

    def __call__(self, epoch: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class Constant(Schedule):
    """The same learning rate every epoch."""

    def __call__(self, epoch: int) -> float:
        return self.lr0


class StepDecay(Schedule):
    """``lr0 * drop ** floor(epoch / every)``: divide by 1/drop every ``every`` epochs."""

    def __init__(self, lr0: float, drop: float = 0.1, every: int = 10):
        super().__init__(lr0)
        if every < 1:
            raise ValueError(f"every: must be >= 1, got {every}")
        self.drop, self.every = float(drop), int(every)

    def __call__(self, epoch: int) -> float:
        return self.lr0 * self.drop ** (epoch // self.every)


class ExponentialDecay(Schedule):
    """``lr0 * rate ** epoch`` (the course's 0.95 ** epoch_num * alpha_0)."""

    def __init__(self, lr0: float, rate: float = 0.95):
        super().__init__(lr0)
        self.rate = float(rate)

    def __call__(self, epoch: int) -> float:
        return self.lr0 * self.rate ** epoch


class InverseTimeDecay(Schedule):
    """The course's ``alpha = alpha_0 / (1 + decay_rate * epoch_num)``."""

    def __init__(self, lr0: float, decay_rate: float = 1.0):
        super().__init__(lr0)
        if decay_rate < 0:
            raise ValueError(f"decay_rate: must be >= 0, got {decay_rate}")
        self.decay_rate = float(decay_rate)

    def __call__(self, epoch: int) -> float:
        return self.lr0 / (1.0 + self.decay_rate * epoch)


class CosineDecay(Schedule):
    """Half a cosine from ``lr0`` at epoch 0 to ``min_lr`` at epoch ``epochs`` (then flat)."""

    def __init__(self, lr0: float, epochs: int, min_lr: float = 0.0):
        super().__init__(lr0)
        if epochs < 1:
            raise ValueError(f"epochs: must be >= 1, got {epochs}")
        self.epochs, self.min_lr = int(epochs), float(min_lr)

    def __call__(self, epoch: int) -> float:
        t = min(epoch, self.epochs) / self.epochs
        return self.min_lr + 0.5 * (self.lr0 - self.min_lr) * (1 + math.cos(math.pi * t))
