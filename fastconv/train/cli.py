"""``fastconv train lenet5``: LeNet-5 on the handwritten digits, end to end."""

from __future__ import annotations

import json
import os
import time


def train_lenet5(*, epochs: int = 12, batch_size: int = 32, lr: float = 3e-3,
                 out: str = "fastconv-out", seed: int = 0, verbose: int = 1,
                 activation: str = "relu", augment: bool = True, validation_split: float = 0.1,
                 limit: int | None = None, print_fn=print) -> dict:
    """Train LeNet-5 on 80% of scikit-learn's digits (upsampled to 32x32), report the
    accuracy on the held-out 20%, save the weights (.npz), the curves (.png) and a summary.

    The recipe: Adam with a cosine learning-rate decay; random shifts (+-2 px, a crop of the
    zero-padded image) and rotations (+-8 degrees) computed by a background worker while the
    model trains (without them LeNet-5 overfits the 1,437 images: ~96% instead of ~98%).
    ``limit`` keeps only the first ``limit`` training images (quick smoke runs)."""
    from .. import models, nn
    from ..data import Compose, RandomCrop, RandomRotation, load_digits
    from . import Adam, CosineDecay, compile, evaluate, fit
    from .checkpoint import save_weights

    t0 = time.perf_counter()
    (x, y), (x_test, y_test) = load_digits(size=32, test_fraction=0.2, seed=seed)
    if limit is not None:
        x, y = x[:limit], y[:limit]
    print_fn(f"digits: {len(x)} training, {len(x_test)} held-out test images (32x32x1)")
    nn.set_seed(seed)
    model = models.lenet5(input_shape=(32, 32, 1), num_classes=10, activation=activation)
    compile(model, Adam(CosineDecay(lr, epochs, min_lr=lr / 20)), metrics=["accuracy"])
    aug = Compose([RandomCrop(32, padding=2), RandomRotation(8)]) if augment else None
    history = fit(model, x, y, epochs=epochs, batch_size=batch_size,
                  validation_split=validation_split, seed=seed, verbose=verbose, augment=aug)
    train_seconds = time.perf_counter() - t0
    test = evaluate(model, x_test, y_test, batch_size=256)
    print_fn(f"test accuracy: {test['accuracy']:.4f} (loss {test['loss']:.4f}) "
             f"after {len(history.epoch)} epochs, {train_seconds:.1f} s")

    os.makedirs(out, exist_ok=True)
    weights = save_weights(model, os.path.join(out, "lenet5_digits.npz"))
    report = {"model": "lenet5", "dataset": "sklearn digits 32x32", "epochs": len(history.epoch),
              "batch_size": batch_size, "lr": lr, "seed": seed, "activation": activation,
              "augment": augment, "validation_split": validation_split,
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
