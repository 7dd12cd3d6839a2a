"""Mini-batches fed by background workers while the model trains (the lecture's CPU-thread
picture): worker threads shuffle, slice and augment upcoming batches into a bounded queue.

Deterministic under a seed whatever the timing or the number of workers: the epoch's order
comes from ``default_rng([seed, epoch])`` and batch ``b`` is augmented with its own generator
``default_rng([seed, epoch, b])``; batches are handed out in order.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
from collections.abc import Callable, Iterator

import numpy as np

Aug = Callable[[np.ndarray, np.random.Generator], np.ndarray]


class BatchLoader:
    """Iterate ``(x_batch, y_batch)`` over ``x, y`` one epoch at a time.

    ``augment(x, rng)`` (see fastconv.data.augment) runs on ``workers`` background threads
    (NumPy releases the GIL in its loops), at most ``prefetch`` batches ahead of the consumer.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray | None = None, batch_size: int = 32, *,
                 shuffle: bool = True, augment: Aug | None = None, seed: int | None = None,
                 drop_last: bool = False, workers: int = 1, prefetch: int = 4):
        if batch_size < 1:
            raise ValueError(f"batch_size: must be >= 1, got {batch_size}")
        if y is not None and len(y) != len(x):
            raise ValueError(f"y: {len(y)} labels for {len(x)} inputs")
        if workers < 0 or prefetch < 1:
            raise ValueError("workers must be >= 0 and prefetch >= 1")
        self.x, self.y, self.batch_size = x, y, int(batch_size)
        self.shuffle, self.augment, self.drop_last = shuffle, augment, drop_last
        self.workers, self.prefetch = int(workers), int(prefetch)
        self.seed = int(np.random.SeedSequence().entropy % (1 << 63)) if seed is None else seed

    def __len__(self) -> int:
        n = len(self.x)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _order(self, epoch: int) -> np.ndarray:
        n = len(self.x)
        return np.random.default_rng([self.seed, epoch]).permutation(n) if self.shuffle \
            else np.arange(n)

    def _make(self, epoch: int, b: int, idx: np.ndarray):
        xb = self.x[idx]
        if self.augment is not None:
            xb = self.augment(xb, np.random.default_rng([self.seed, epoch, b]))
        return xb, (None if self.y is None else self.y[idx])

    def batches(self, epoch: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        """The batches of one epoch, produced in the background when ``workers >= 1``."""
        order = self._order(epoch)
        slices = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        if self.drop_last and slices and len(slices[-1]) < self.batch_size:
            slices.pop()
        if self.workers == 0:
            for b, idx in enumerate(slices):
                yield self._make(epoch, b, idx)
            return
        pool = cf.ThreadPoolExecutor(self.workers, thread_name_prefix="fastconv-batches")
        pending: collections.deque = collections.deque()
        try:
            nxt = 0
            while nxt < len(slices) or pending:
                while nxt < len(slices) and len(pending) < self.prefetch:
                    pending.append(pool.submit(self._make, epoch, nxt, slices[nxt]))
                    nxt += 1
                yield pending.popleft().result()
        finally:
            for f in pending:
                f.cancel()
            pool.shutdown(wait=True)

    def __iter__(self):
        return self.batches(0)
