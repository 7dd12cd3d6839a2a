"""A per-epoch progress bar showing the running loss and metrics (tqdm, or plain text)."""

from __future__ import annotations

import sys
import time


class ProgressBar:
    """``bar.update(n, logs)`` per batch, ``bar.close(logs)`` at the end of the epoch."""

    def __init__(self, total: int, desc: str, enabled: bool = True, stream=None):
        self.total, self.desc, self.enabled = total, desc, enabled
        self.stream = stream or sys.stderr
        self.n, self.t0 = 0, time.perf_counter()
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
        if self._tqdm is not None:
            self._tqdm.set_postfix_str(self._fmt(logs), refresh=False)
            self._tqdm.update(n)
        else:
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
