"""Load PyTorch weights into a fastconv model: OIHW -> HWIO, (out, in) -> (in, out), and the
flatten order CHW -> HWC for a Dense layer after Flatten. The zoo's layer names are
torchvision's, so ``load_torch_state_dict(models.resnet50(), tv.state_dict())`` needs no map.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .layer import Layer
from .layers_conv import Conv2D, Dense
from .layers_core import Flatten
from .layers_norm import BatchNormalization

_BN = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean",
       "running_var": "moving_variance"}


def _numpy(v) -> np.ndarray:
    return v.detach().cpu().numpy() if hasattr(v, "detach") else np.asarray(v)


def _prefixes(sd: Mapping) -> list[str]:
    """Module prefixes in the order the state dict lists them."""
    out: list[str] = []
    for k in sd:
        p = k.rsplit(".", 1)[0]
        if p not in out:
            out.append(p)
    return out


def _flattened_hwc(model, layer: Layer) -> tuple[int, int, int] | None:
    """(H, W, C) if `layer` reads a Flatten of a 3-D tensor in `model`."""
    for node in model.nodes:
        if node.layer is layer and node.inputs:
            src = node.inputs[0].node
            if isinstance(src.layer, Flatten) and len(src.inputs[0].shape) == 3:
                return src.inputs[0].shape
    return None


def convert_layer(model, layer: Layer, get) -> dict[str, np.ndarray]:
    """fastconv arrays for one layer; get(name) returns the torch array or None."""
    out: dict[str, np.ndarray] = {}
    if isinstance(layer, Conv2D):
        out["kernel"] = get("weight").transpose(2, 3, 1, 0)
    elif isinstance(layer, Dense):
        w = get("weight").T  # (in, out)
        hwc = _flattened_hwc(model, layer)
        if hwc is not None:  # rows in torch's C, H, W order -> ours H, W, C
            h, wd, c = hwc
            w = w.reshape(c, h, wd, -1).transpose(1, 2, 0, 3).reshape(h * wd * c, -1)
        out["kernel"] = w
    elif isinstance(layer, BatchNormalization):
        for t, ours in _BN.items():
            if ours in ("gamma", "beta") and getattr(layer, ours) is None:
                continue
            out[ours] = get(t)
        return out
    else:
        raise TypeError(f"{layer.name}: no PyTorch mapping for {type(layer).__name__}")
    if getattr(layer, "bias", None) is not None:
        out["bias"] = get("bias")
    return out


def load_torch_state_dict(model, state_dict: Mapping, *, strict: bool = True,
                          by_order: bool = False) -> None:
    """Copy a PyTorch state dict (tensors or arrays) into `model`.

    By name (default): the torch prefix of each layer is its state-dict key. ``by_order``:
    the i-th torch module with parameters feeds the i-th fastconv layer with parameters
    (for torchvision's ``features.0`` style names). ``num_batches_tracked`` is ignored.
    """
    sd = {k: v for k, v in state_dict.items() if not k.endswith("num_batches_tracked")}
    layers = [layer for layer in model.layers if layer.parameters() or layer.buffers()]
    if by_order:
        prefixes = _prefixes(sd)
        if len(prefixes) != len(layers):
            raise ValueError(f"by_order: {len(prefixes)} torch modules with weights, "
                             f"{len(layers)} fastconv layers")
    else:
        prefixes = [model.keys[layer] for layer in layers]
    used: set[str] = set()
    ours: dict[str, np.ndarray] = {}
    for layer, prefix in zip(layers, prefixes, strict=True):
        def get(name: str, prefix: str = prefix, who: str = layer.name) -> np.ndarray:
            key = f"{prefix}.{name}"
            if key not in sd:
                raise KeyError(f"{who}: {key!r} not in the PyTorch state dict")
            used.add(key)
            return _numpy(sd[key])

        try:
            arrays = convert_layer(model, layer, get)
        except KeyError:
            if strict:
                raise
            continue
        for name, a in arrays.items():
            ours[f"{model.keys[layer]}.{name}"] = np.ascontiguousarray(a)
    unused = [k for k in sd if k not in used]
    if strict and unused:
        raise KeyError(f"PyTorch weights not used: {unused[:5]}")
    model.load_state_dict(ours, strict=strict)
