"""Hyper-parameter random search, sampled on the right scale, narrowed coarse-to-fine.

The lecture's recipe: sample at random rather than on a grid; sample the learning rate
uniformly in its *exponent* (``LogUniform(1e-4, 1)``) and a momentum/EWMA beta through
``1 - beta`` on a log scale (``OneMinusLogUniform(0.9, 0.999)``); then zoom into the region of
the best trials and sample again. Trials run through any ``concurrent.futures.Executor``
(a local process pool by default, so the objective must be a picklable top-level function).
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import os
from collections.abc import Callable, Mapping, Sequence

import numpy as np


class Dist:
    """A one-dimensional search range sampled uniformly on its own scale."""

    log_axis = False

    def __init__(self, lo: float, hi: float):
        if not lo < hi:
            raise ValueError(f"range: need lo < hi, got ({lo}, {hi})")
        self.lo, self.hi = float(lo), float(hi)
        self._check()

    def _check(self) -> None: ...

    def to_scale(self, v):
        return v

    def from_scale(self, u):
        return u

    def sample(self, rng: np.random.Generator):
        a, b = sorted((self.to_scale(self.lo), self.to_scale(self.hi)))
        return float(self.from_scale(rng.uniform(a, b)))

    def narrowed(self, values: Sequence[float], margin: float = 0.25) -> Dist:
        """The range spanned by ``values`` on this scale, widened by ``margin`` of the
        original width each side and clipped to the original range."""
        u = [self.to_scale(v) for v in values]
        a0, b0 = sorted((self.to_scale(self.lo), self.to_scale(self.hi)))
        pad = margin * (b0 - a0) / 2
        a, b = max(min(u) - pad, a0), min(max(u) + pad, b0)
        lo, hi = sorted((float(self.from_scale(a)), float(self.from_scale(b))))
        if not lo < hi:
            return self
        return type(self)(lo, hi)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.lo:.4g}, {self.hi:.4g})"


class Uniform(Dist):
    """Uniform in ``[lo, hi]`` (units, layer counts as floats, dropout rates...)."""


class LogUniform(Dist):
    """Uniform in ``log10`` between ``lo`` and ``hi`` (> 0): learning rates, weight decay."""

    log_axis = True

    def _check(self):
        if self.lo <= 0:
            raise ValueError(f"LogUniform: lo must be > 0, got {self.lo}")

    def to_scale(self, v):
        return np.log10(v)

    def from_scale(self, u):
        return 10.0 ** u


class OneMinusLogUniform(Dist):
    """``beta = 1 - 10**u`` with u uniform: as much search between 0.9 and 0.99 as between
    0.99 and 0.999 (EWMA betas, momentum)."""

    def _check(self):
        if self.hi >= 1:
            raise ValueError(f"OneMinusLogUniform: hi must be < 1, got {self.hi}")

    def to_scale(self, v):
        return np.log10(1.0 - v)

    def from_scale(self, u):
        return 1.0 - 10.0 ** u


class IntUniform(Dist):
    """An integer uniform in ``[lo, hi]`` inclusive (hidden units, layers, batch-size powers)."""

    def sample(self, rng):
        return int(rng.integers(int(self.lo), int(self.hi) + 1))

    def narrowed(self, values, margin=0.25):
        pad = margin * (self.hi - self.lo) / 2
        lo = max(math.floor(min(values) - pad), int(self.lo))
        hi = min(math.ceil(max(values) + pad), int(self.hi))
        return IntUniform(lo, hi) if lo < hi else self


class Choice:
    """One of a fixed list of options (optimizer names, activations)."""

    log_axis = False

    def __init__(self, options: Sequence):
        if not options:
            raise ValueError("Choice: needs at least one option")
        self.options = list(options)

    def sample(self, rng):
        return self.options[int(rng.integers(len(self.options)))]

    def narrowed(self, values, margin=0.25):
        kept = [o for o in self.options if o in values]
        return Choice(kept) if kept else self

    def __repr__(self) -> str:
        return f"Choice({self.options!r})"


def _score(result) -> float:
    return float(result["score"] if isinstance(result, Mapping) else result)


class SearchResult:
    """All trials (dicts with ``round``, the sampled params, ``score``), best first by
    ``best``; ``table()`` for text, ``plot()`` for score against each parameter."""

    def __init__(self, trials: list[dict], space: Mapping, maximize: bool, spaces: list):
        self.trials, self.space, self.maximize, self.spaces = trials, space, maximize, spaces

    def ranked(self) -> list[dict]:
        ok = [t for t in self.trials if math.isfinite(t["score"])]
        return sorted(ok, key=lambda t: -t["score"] if self.maximize else t["score"])

    @property
    def best(self) -> dict:
        r = self.ranked()
        if not r:
            raise RuntimeError("no trial produced a finite score")
        return r[0]

    def table(self, top: int | None = None) -> str:
        names = list(self.space)
        head = ["rank", "round", *names, "score"]
        rows = []
        for i, t in enumerate(self.ranked()[:top], 1):
            rows.append([str(i), str(t["round"]),
                         *[f"{t[n]:.4g}" if isinstance(t[n], float) else str(t[n])
                           for n in names], f"{t['score']:.4f}"])
        widths = [max(len(h), *(len(r[j]) for r in rows)) if rows else len(h)
                  for j, h in enumerate(head)]
        fmt = "  ".join(f"{{:>{w}}}" for w in widths)
        return "\n".join([fmt.format(*head)] + [fmt.format(*r) for r in rows])

    def plot(self, path: str | os.PathLike | None = None):
        """Score against each numeric parameter (log axis where it was sampled on one)."""
        import matplotlib

        if path is not None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        names = [n for n, d in self.space.items() if not isinstance(d, Choice)] or list(self.space)
        fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.2), squeeze=False)
        rounds = sorted({t["round"] for t in self.trials})
        for ax, n in zip(axes[0], names, strict=True):
            for r in rounds:
                ts = [t for t in self.trials if t["round"] == r and math.isfinite(t["score"])]
                v = [t[n] for t in ts]
                if isinstance(self.space[n], OneMinusLogUniform):
                    v = [1 - a for a in v]
                ax.scatter(v, [t["score"] for t in ts], s=14, label=f"round {r}")
            d = self.space[n]
            if d.log_axis or isinstance(d, OneMinusLogUniform):
                ax.set_xscale("log")
            ax.set_xlabel(f"1 - {n}" if isinstance(d, OneMinusLogUniform) else n)
            ax.set_ylabel("score")
            ax.legend(fontsize=7)
        fig.tight_layout()
        if path is not None:
            fig.savefig(os.fspath(path), dpi=100)
            plt.close(fig)
        return fig


def random_search(objective: Callable[[dict], float | Mapping], space: Mapping[str, object], *,
                  n_trials: int = 16, rounds: int = 1, top_k: int = 3, maximize: bool = False,
                  executor: cf.Executor | None = None, seed: int | None = 0,
                  margin: float = 0.25) -> SearchResult:
    """Random search over ``space`` (name -> Dist/Choice), ``n_trials`` per round.

    After each round the ranges shrink to the span of the ``top_k`` best trials so far
    (coarse to fine). ``objective(params)`` returns a score (or a dict with ``'score'``);
    lower is better unless ``maximize``. A trial that raises scores NaN and is kept in the
    table. ``executor`` runs the trials (default: a local process pool).
    """
    if n_trials < 1 or rounds < 1 or top_k < 1:
        raise ValueError("n_trials, rounds and top_k must be >= 1")
    rng = np.random.default_rng(seed)
    own = executor is None
    if own:
        executor = cf.ProcessPoolExecutor(max_workers=min(n_trials, os.cpu_count() or 1))
    current = dict(space)
    trials: list[dict] = []
    spaces = []
    result = SearchResult(trials, space, maximize, spaces)
    try:
        for r in range(rounds):
            spaces.append(dict(current))
            params = [{n: d.sample(rng) for n, d in current.items()} for _ in range(n_trials)]
            futures = [executor.submit(objective, p) for p in params]
            for p, f in zip(params, futures, strict=True):
                try:
                    score = _score(f.result())
                except Exception as e:  # noqa: BLE001 - a failed trial is data, not a crash
                    score, p = float("nan"), {**p, "error": repr(e)}
                trials.append({"round": r, **p, "score": score})
            best = result.ranked()[:top_k]
            if best:
                current = {n: d.narrowed([t[n] for t in best], margin)
                           for n, d in current.items()}
    finally:
        if own:
            executor.shutdown(wait=True)
    return result
