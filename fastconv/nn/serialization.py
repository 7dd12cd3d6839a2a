"""state_dict / load_state_dict and the npz weight files (written atomically)."""

from __future__ import annotations

import os

import numpy as np

from .parameter import touch


def state_dict(model) -> dict[str, np.ndarray]:
    """'<layer>.<param>' for parameters and BN running statistics, in layer order."""
    out: dict[str, np.ndarray] = {}
    for layer in model.layers:
        key = model.keys[layer]
        for p in layer.parameters():
            out[f"{key}.{p.name}"] = p.value
        for b, v in layer.buffers().items():
            out[f"{key}.{b}"] = v
    return out


def load_state_dict(model, d: dict[str, np.ndarray], strict: bool = True
                    ) -> tuple[list[str], list[str]]:
    """Copy arrays into the model. Shapes must match; with `strict`, missing or unexpected
    names raise KeyError. Returns (missing, unexpected)."""
    targets = {}
    for layer in model.layers:
        key = model.keys[layer]
        for p in layer.parameters():
            targets[f"{key}.{p.name}"] = (p, None, None)
        for b in layer.buffers():
            targets[f"{key}.{b}"] = (None, layer, b)
    missing = [k for k in targets if k not in d]
    unexpected = [k for k in d if k not in targets]
    if strict and (missing or unexpected):
        raise KeyError(f"load_state_dict: missing {missing[:5]}{'...' if len(missing) > 5 else ''}"
                       f", unexpected {unexpected[:5]}{'...' if len(unexpected) > 5 else ''}")
    for k, (p, layer, b) in targets.items():
        if k not in d:
            continue
        old = p.value if p is not None else getattr(layer, b)
        new = np.asarray(d[k])
        if new.shape != old.shape:
            raise ValueError(f"load_state_dict: {k} has shape {new.shape}, expected {old.shape}")
        new = np.array(new, dtype=old.dtype, copy=True)
        if p is not None:
            p.value = new
        else:
            setattr(layer, b, new)
    touch()
    return missing, unexpected


def save(d: dict[str, np.ndarray], path: str | os.PathLike) -> None:
    """np.savez to a temporary file next to `path`, then rename (never a half-written file)."""
    path = os.fspath(path)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **d)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load(path: str | os.PathLike) -> dict[str, np.ndarray]:
    with np.load(os.fspath(path), allow_pickle=False) as f:
        return {k: f[k] for k in f.files}
