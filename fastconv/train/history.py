"""The record ``fit`` returns: per-epoch losses and metrics, and a plot of the curves."""

from __future__ import annotations

import os


class History:
    """``history.history['loss']`` etc., one value per epoch (Keras's History)."""

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.params: dict = {}

    def append(self, epoch: int, logs: dict[str, float]) -> None:
        self.epoch.append(int(epoch))
        for k, v in logs.items():
            self.history.setdefault(k, []).append(float(v))

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={sorted(self.history)})"

    def plot(self, path: str | os.PathLike | None = None, keys: list[str] | None = None):
        """Draw training (solid) and validation (dashed) curves, one panel per quantity.

        Needs matplotlib (the ``plot`` extra). Saves to ``path`` if given; returns the figure.
        """
        try:
            import matplotlib

            if path is not None:
                matplotlib.use("Agg", force=False)
            import matplotlib.pyplot as plt
        except ImportError as e:
            raise ImportError("History.plot needs matplotlib: pip install 'fastconv[plot]'") from e
        names = keys or [k for k in self.history if not k.startswith("val_") and k != "lr"]
        fig, axes = plt.subplots(1, max(len(names), 1), figsize=(4.5 * max(len(names), 1), 3.5),
                                 squeeze=False)
        epochs = [e + 1 for e in self.epoch]
        for ax, name in zip(axes[0], names, strict=False):
            ax.plot(epochs, self.history[name], "-o", ms=3, label=f"train {name}")
            if f"val_{name}" in self.history:
                ax.plot(epochs, self.history[f"val_{name}"], "--o", ms=3, label=f"val {name}")
            ax.set_xlabel("epoch")
            ax.set_title(name)
            ax.grid(alpha=0.3)
            ax.legend()
        fig.tight_layout()
        if path is not None:
            fig.savefig(os.fspath(path), dpi=100)
            plt.close(fig)
        return fig
