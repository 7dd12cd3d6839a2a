"""``fastconv train lenet5``: LeNet-5 on the handwritten digits, end to end."""

from __future__ import annotations

import json
import os
import time


def train_lenet5(*, epochs: int = 12, batch_size: int = 32, lr: float = 2e-3,
                 out: str = "fastconv-out", seed: int = 0, verbose: int = 1,
                 limit: int | None = None, print_fn=print) -> dict:
    """Train LeNet-5 on 80% of scikit-learn's digits (upsampled to 32x32), report the
    accuracy on the held-out 20%, save the weights (.npz), the curves (.png) and a summary.
    ``limit`` keeps only the first ``limit`` training images (quick smoke runs)."""
    from .. import models, nn
    from ..data import load_digits
    from . import Adam, CosineDecay, compile, evaluate, fit
    from .checkpoint import save_weights

    t0 = time.perf_counter()
    (x, y), (x_test, y_test) = load_digits(size=32, test_fraction=0.2, seed=seed)
    if limit is not None:
        x, y = x[:limit], y[:limit]
    print_fn(f"digits: {len(x)} training, {len(x_test)} held-out test images (32x32x1)")
    nn.set_seed(seed)
    model = models.lenet5(input_shape=(32, 32, 1), num_classes=10)
    compile(model, Adam(CosineDecay(lr, epochs, min_lr=lr / 20)), metrics=["accuracy"])
    history = fit(model, x, y, epochs=epochs, batch_size=batch_size, validation_split=0.1,
                  seed=seed, verbose=verbose)
    train_seconds = time.perf_counter() - t0
    test = evaluate(model, x_test, y_test, batch_size=256)
    print_fn(f"test accuracy: {test['accuracy']:.4f} (loss {test['loss']:.4f}) "
             f"after {len(history.epoch)} epochs, {train_seconds:.1f} s")

    os.makedirs(out, exist_ok=True)
    weights = save_weights(model, os.path.join(out, "lenet5_digits.npz"))
    report = {"model": "lenet5", "dataset": "sklearn digits 32x32", "epochs": len(history.epoch),
              "batch_size": batch_size, "lr": lr, "seed": seed,
              "test_accuracy": test["accuracy"], "test_loss": test["loss"],
              "seconds": train_seconds, "weights": weights, "history": history.history}
    try:
        plot = os.path.join(out, "lenet5_curves.png")
        history.plot(plot)
        report["plot"] = plot
    except ImportError:
        print_fn("(matplotlib not installed: no curve plot; pip install 'fastconv[plot]')")
    with open(os.path.join(out, "lenet5_report.json"), "w") as f:
        json.dump(report, f, indent=1)
    print_fn(f"saved {weights}" + (f", {report['plot']}" if "plot" in report else ""))
    return report
