"""Hyper-parameter random search for LeNet-5 on the digits: the learning rate on a log scale,
Adam's beta1 through 1 - beta1 on a log scale, two coarse-to-fine rounds, trials in a
local process pool.

    python -m fastconv.examples.random_search_lenet [trials_per_round] [plot.png]
"""

import sys

from fastconv.train import LogUniform, OneMinusLogUniform, random_search


def objective(params: dict) -> float:
    """Validation error of a short LeNet-5 run (top-level: picklable for the process pool)."""
    import fastconv
    from fastconv import models, nn
    from fastconv.data import load_digits
    from fastconv.train import Adam, compile, evaluate, fit

    fastconv.set_num_threads(1)  # one core per trial
    (x, y), _ = load_digits(seed=0)  # the test split is never looked at
    n_val = len(x) // 5
    nn.set_seed(0)
    m = models.lenet5()
    compile(m, Adam(params["lr"], beta1=params["beta1"]), metrics=["accuracy"])
    fit(m, x[n_val:], y[n_val:], epochs=2, batch_size=32, seed=0, verbose=0)
    return 1.0 - evaluate(m, x[:n_val], y[:n_val])["accuracy"]


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 6
    space = {"lr": LogUniform(1e-4, 1e-1), "beta1": OneMinusLogUniform(0.5, 0.99)}
    res = random_search(objective, space, n_trials=n, rounds=2, top_k=2, seed=0)
    print(res.table())
    print("best:", {k: res.best[k] for k in space}, "validation error", res.best["score"])
    out = sys.argv[2] if len(sys.argv) > 2 else "random_search.png"
    res.plot(out)
    print(f"saved {out}")
