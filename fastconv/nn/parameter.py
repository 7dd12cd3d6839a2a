"""Parameter (a trainable array and its gradient), weight initialisers and the nn seed."""

from __future__ import annotations

import math

import numpy as np

_rng = np.random.default_rng()


def set_seed(seed: int) -> None:
    """Seed the generator used for weight initialisation and dropout masks."""
    global _rng
    _rng = np.random.default_rng(seed)


def rng() -> np.random.Generator:
    return _rng


class Parameter:
    """A named array owned by a layer. ``grad`` is set (overwritten) by the layer's backward.

    A parameter made from an initialiser draws its values on first access (each with its own
    seed taken from the nn generator at creation), so big models build instantly and
    ``count_params`` never touches memory. ``version`` grows whenever ``value`` is replaced.
    """

    __slots__ = ("name", "_value", "_shape", "_init", "grad", "trainable", "version")

    def __init__(self, name: str, value: np.ndarray | None = None, trainable: bool = True, *,
                 shape: tuple[int, ...] | None = None, init: str = "zeros"):
        self.name = name
        self._value = value
        self._shape = tuple(value.shape) if value is not None else tuple(shape or ())
        # the seed is drawn now: values do not depend on the order parameters are touched
        self._init = (init, int(_rng.integers(2**63))) if value is None else None
        self.grad: np.ndarray | None = None
        self.trainable = trainable
        self.version = 0

    @property
    def value(self) -> np.ndarray:
        if self._value is None:
            kind, seed = self._init  # type: ignore[misc]
            self._value = initialize(kind, self._shape, np.random.default_rng(seed))
        return self._value

    @value.setter
    def value(self, v: np.ndarray) -> None:
        v = np.asarray(v)
        if v.shape != self._shape:
            raise ValueError(f"{self.name}: expected shape {self._shape}, got {v.shape}")
        self._value = v
        self.version += 1
        touch()

    @property
    def shape(self) -> tuple[int, ...]:
        return self._shape

    @property
    def size(self) -> int:
        return math.prod(self._shape)

    def __repr__(self) -> str:
        return f"Parameter({self.name!r}, shape={self.shape}, trainable={self.trainable})"


INITIALIZERS = ("he_normal", "he_uniform", "glorot_uniform", "glorot_normal", "zeros", "ones")


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of an HWIO conv kernel or an (in, out) dense matrix."""
    if len(shape) < 2:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def initialize(kind: str, shape: tuple[int, ...],
               gen: np.random.Generator | None = None) -> np.ndarray:
    """float32 weights: 'he_normal', 'he_uniform', 'glorot_uniform', 'glorot_normal',
    'zeros' or 'ones', drawn in float32 directly. The layers default to the uniform variants
    (same variance as the normal ones, about five times faster to draw)."""
    gen = gen or _rng
    fan_in, fan_out = fans(shape)
    if kind == "zeros":
        return np.zeros(shape, np.float32)
    if kind == "ones":
        return np.ones(shape, np.float32)
    if kind in ("he_normal", "glorot_normal"):
        std = math.sqrt(2.0 / (fan_in if kind == "he_normal" else (fan_in + fan_out) / 2))
        w = gen.standard_normal(shape, dtype=np.float32)
        w *= np.float32(std)
        return w
    if kind in ("he_uniform", "glorot_uniform"):
        limit = math.sqrt(6.0 / (fan_in if kind == "he_uniform" else fan_in + fan_out))
        w = gen.random(shape, dtype=np.float32)
        w *= np.float32(2 * limit)
        w -= np.float32(limit)
        return w
    raise ValueError(f"initializer: expected one of {INITIALIZERS}, got {kind!r}")


# Folded inference weights are cached under this generation; anything that may change weights
# (a training forward, a backward before an optimizer step, set_weights, load_state_dict,
# assigning Parameter.value) bumps it.
_generation = 0


def touch() -> None:
    """Mark every cached folded weight as stale."""
    global _generation
    _generation += 1


def generation() -> int:
    return _generation
