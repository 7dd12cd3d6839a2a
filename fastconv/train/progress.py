"""A per-epoch progress bar showing the running loss and metrics (tqdm, or plain text)."""

from __future__ import annotations

import math
import sys
import time


class ProgressBar:
    """``bar.update(n, logs)`` per batch, ``bar.close(logs)`` at the end of the epoch.

    The line is redrawn at most every ``min_interval`` seconds (and on the last batch):
    formatting and writing it every batch cost small networks ~5 % of their epoch.
    """

    def __init__(self, total: int, desc: str, enabled: bool = True, stream=None,
                 min_interval: float = 0.1):
        self.total, self.desc, self.enabled = total, desc, enabled
        self.stream = stream or sys.stderr
        self.n, self.t0 = 0, time.perf_counter()
        self.min_interval = float(min_interval)
        self._shown = -math.inf  # when the line was last drawn
        self._tqdm = None
        if enabled:
            try:
                from tqdm.auto import tqdm

                self._tqdm = tqdm(total=total, desc=desc, unit="batch", leave=True,
                                  file=self.stream, dynamic_ncols=True)
            except ImportError:
                pass

    @staticmethod
    def _fmt(logs: dict[str, float]) -> str:
        return " ".join(f"{k}={v:.4f}" for k, v in logs.items())

    def update(self, n: int, logs: dict[str, float]) -> None:
        self.n += n
        if not self.enabled:
            return
        now = time.perf_counter()
        due = now - self._shown >= self.min_interval or self.n >= self.total
        if self._tqdm is not None:
            if due:  # tqdm throttles its own redraws, but the postfix is formatted here
                self._tqdm.set_postfix_str(self._fmt(logs), refresh=False)
                self._shown = now
            self._tqdm.update(n)
        elif due:
            self._shown = now
            width = 24
            done = int(width * self.n / max(self.total, 1))
            self.stream.write(f"\r{self.desc} [{'=' * done}{'.' * (width - done)}] "
                              f"{self.n}/{self.total} {self._fmt(logs)}")
            self.stream.flush()

    def close(self, logs: dict[str, float]) -> None:
        if not self.enabled:
            return
        if self._tqdm is not None:
            self._tqdm.set_postfix_str(self._fmt(logs), refresh=True)
            self._tqdm.close()
        else:
            dt = time.perf_counter() - self.t0
            self.stream.write(f"\r{self.desc} {self.n}/{self.total} {dt:.1f}s "
                              f"{self._fmt(logs)}\n")
            self.stream.flush()
