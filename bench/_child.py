"""One benchmark configuration in a fresh process, so its peak memory is its own.

    python bench/_child.py '{"task": "infer", "lib": "fastconv", "net": "resnet50", ...}'

Prints one JSON line on stdout: {"seconds": [...], "params": int, "base_mib": float,
"peak_mib": float, ...}; progress goes to stderr. Imports only the library under test (plus
NumPy; the torch side also imports fastconv.data for the same digits), so neither library's
footprint inflates the other's. Thread counts come from the parent through the environment
(OMP_NUM_THREADS etc.) and are set again through each library's API.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np


def _status(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _time_calls(fn, warmup: int, repeats: int, budget: float, label: str) -> list[float]:
    """warm-up calls, then timed calls until `repeats` or `budget` seconds (>= 1 call)."""
    for i in range(warmup):
        t0 = time.perf_counter()
        fn()
        print(f"    {label}: warm-up {i + 1}/{warmup} {time.perf_counter() - t0:.3f} s",
              file=sys.stderr, flush=True)
    times: list[float] = []
    for i in range(max(1, repeats)):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        print(f"    {label}: run {i + 1}/{repeats} {times[-1]:.3f} s", file=sys.stderr,
              flush=True)
        if sum(times) >= budget:
            break
    return times


# ---------------------------------------------------------------------------- data

def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 digits as float32 (N, 32, 32, 1) in [0, 1] and int64 labels:
    fastconv.data.load_digits' training split if it exists, else all, upsampled 4x."""
    try:
        from fastconv.data import load_digits

        (x, y), _ = load_digits(size=32)
        return np.ascontiguousarray(x, np.float32), np.asarray(y, np.int64)
    except ImportError:
        from sklearn.datasets import load_digits as sk

        d = sk()
        x = np.kron(d.images.astype(np.float32) / 16.0, np.ones((4, 4), np.float32))
        return np.ascontiguousarray(x[..., None]), d.target.astype(np.int64)


# ---------------------------------------------------------------------------- fastconv

def _fc_model(net: str):
    import inspect

    import fastconv

    nn = fastconv.nn
    if hasattr(nn, "set_seed"):
        nn.set_seed(0)
    ctor = getattr(fastconv.models, net)
    kw: dict[str, Any] = {}
    params = inspect.signature(ctor).parameters
    if net == "googlenet":  # the torchvision variant, without aux heads: as in torch_models
        if "variant" in params:
            kw["variant"] = "torchvision"
        if "aux_logits" in params:
            kw["aux_logits"] = False
    return ctor(**kw), kw


def _fc_count(model) -> int:
    if hasattr(model, "count_params"):
        return int(model.count_params())
    return int(sum(p.value.size for p in model.parameters()))


def fc_infer(cfg: dict) -> dict:
    model, kw = _fc_model(cfg["net"])
    x = np.random.default_rng(0).standard_normal((cfg["n"], 224, 224, 3), dtype=np.float32)

    def run():
        return model(x, training=False) if callable(model) else model.predict(x, cfg["n"])

    return {"seconds": _time_calls(run, cfg["warmup"], cfg["repeats"], cfg["budget"],
                                   cfg["label"]),
            "params": _fc_count(model), "model_kwargs": kw}


def _fc_compile(model) -> str:
    """Adam with default settings through the Keras-style API; 'manual' if there is none."""
    try:
        if hasattr(model, "compile"):
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        else:
            from fastconv.train import compile as fc_compile

            fc_compile(model, "adam", "sparse_categorical_crossentropy")
        return "fit"
    except (ImportError, AttributeError, NotImplementedError):
        return "manual"


def _fc_fit(model, x, y, batch_size: int, shuffle: bool):
    if hasattr(model, "fit"):
        return model.fit(x, y, epochs=1, batch_size=batch_size, shuffle=shuffle, verbose=0,
                         seed=0)
    from fastconv.train import fit

    return fit(model, x, y, epochs=1, batch_size=batch_size, shuffle=shuffle, verbose=0,
               seed=0)


def _fc_manual_epoch(model, x, y, batch_size: int, lr: float = 0.01):
    """Forward, loss gradient, backward and a plain SGD update (no optimizer API)."""
    import fastconv

    for i in range(0, len(x), batch_size):
        xb, yb = x[i:i + batch_size], y[i:i + batch_size]
        out = model(xb, training=True)
        model.backward(fastconv.softmax_cross_entropy_backward(out, yb))
        for p in model.trainable_parameters():
            p.value -= lr * p.grad


def fc_train(cfg: dict) -> dict:
    if cfg["task"] == "train_lenet":
        x, y = digits()
        model, _ = _fc_model("lenet5")
        bs, shuffle = 32, True
    else:
        model, _ = _fc_model(cfg["net"])
        rng = np.random.default_rng(0)
        x = rng.standard_normal((cfg["n"], 224, 224, 3), dtype=np.float32)
        y = rng.integers(0, 1000, cfg["n"])
        bs, shuffle = cfg["n"], False
    how = _fc_compile(model)

    def run():
        if how == "fit":
            _fc_fit(model, x, y, bs, shuffle)
        else:
            _fc_manual_epoch(model, x, y, bs)

    secs = _time_calls(run, cfg["warmup"], cfg["repeats"], cfg["budget"], cfg["label"])
    return {"seconds": secs, "params": _fc_count(model),
            "how": "compile('adam') + fit" if how == "fit" else "manual SGD loop",
            "samples": len(x)}


# ---------------------------------------------------------------------------- torch

def _torch_model(net: str, cl: bool):
    import torch

    from bench import torch_models

    torch.manual_seed(0)
    m = torch_models.MODELS[net]()
    if cl:
        m = m.to(memory_format=torch.channels_last)
    return m, torch_models.count_params(m)


def _torch_input(a: np.ndarray, cl: bool):
    import torch

    t = torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))
    return t.contiguous(memory_format=torch.channels_last) if cl else t


def torch_infer(cfg: dict) -> dict:
    import torch

    cl = cfg["layout"] == "cl"
    model, params = _torch_model(cfg["net"], cl)
    model.eval()
    x = _torch_input(np.random.default_rng(0).standard_normal(
        (cfg["n"], 224, 224, 3), dtype=np.float32), cl)

    def run():
        with torch.no_grad():
            return model(x)

    return {"seconds": _time_calls(run, cfg["warmup"], cfg["repeats"], cfg["budget"],
                                   cfg["label"]), "params": params}


def torch_train(cfg: dict) -> dict:
    import torch

    cl = cfg["layout"] == "cl"
    if cfg["task"] == "train_lenet":
        xn, yn = digits()
        model, params = _torch_model("lenet5", cl)
        bs, shuffle = 32, True
    else:
        model, params = _torch_model(cfg["net"], cl)
        rng = np.random.default_rng(0)
        xn = rng.standard_normal((cfg["n"], 224, 224, 3), dtype=np.float32)
        yn = rng.integers(0, 1000, cfg["n"])
        bs, shuffle = cfg["n"], False
    x, y = _torch_input(xn, cl), torch.from_numpy(yn.astype(np.int64))
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)  # Keras' Adam defaults
    gen = torch.Generator().manual_seed(0)
    loss_fn = torch.nn.CrossEntropyLoss()

    def run():
        order = torch.randperm(len(x), generator=gen) if shuffle else torch.arange(len(x))
        for i in range(0, len(x), bs):
            idx = order[i:i + bs]
            xb, yb = x[idx], y[idx]
            if cl:
                xb = xb.contiguous(memory_format=torch.channels_last)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            loss.item()

    secs = _time_calls(run, cfg["warmup"], cfg["repeats"], cfg["budget"], cfg["label"])
    return {"seconds": secs, "params": params, "how": "Adam(lr=1e-3, eps=1e-7) loop",
            "samples": len(x)}


def main(argv: list[str]) -> int:
    cfg = json.loads(argv[1])
    base = _status("VmRSS")
    if cfg["lib"] == "fastconv":
        import fastconv

        fastconv.set_num_threads(cfg["threads"])
        base = _status("VmRSS")
        out = fc_infer(cfg) if cfg["task"] == "infer" else fc_train(cfg)
    else:
        import torch

        torch.set_num_threads(cfg["threads"])
        if cfg["task"] == "train_lenet":
            try:  # the digits loader, imported before the baseline like fastconv's
                import fastconv.data  # noqa: F401
            except ImportError:
                pass
        base = _status("VmRSS")
        out = torch_infer(cfg) if cfg["task"] == "infer" else torch_train(cfg)
    out.update(base_mib=base, peak_mib=_status("VmHWM"))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
