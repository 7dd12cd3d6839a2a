"""model.summary(): Keras' table plus multiply-adds per layer."""

from __future__ import annotations


def _fit(text: str, width: int) -> str:
    return text if len(text) < width else text[:width - 4] + "..."


def _giga(n: int) -> str:
    return f"{n / 1e9:.2f} G" if n >= 1e8 else f"{n / 1e6:.2f} M"


def summary_text(model) -> str:
    sequential = type(model).__name__ == "Sequential"
    cols = [("Layer (type)", 40), ("Output Shape", 24), ("Param #", 13), ("Mult-Adds", 16)]
    if not sequential:
        cols.append(("Connected to", 28))
    width = sum(w for _, w in cols)
    head = "".join(f"{name:<{w}}" if i in (0, 1, 4) else f"{name:>{w - 2}}  "
                   for i, (name, w) in enumerate(cols))
    lines = [f'Model: "{model.name}"', "_" * width, head.rstrip(), "=" * width]
    counted: set[int] = set()
    total_macs = 0
    for node in model.nodes:
        layer = node.layer
        if sequential and not node.inputs:
            continue
        params = 0 if id(layer) in counted else layer.count_params()
        counted.add(id(layer))
        in_shape = ([t.shape for t in node.inputs] if layer.multi_input
                    else node.inputs[0].shape if node.inputs else None)
        macs = layer.macs(in_shape, node.output.shape) if node.inputs else 0
        total_macs += macs
        row = [_fit(f"{model.keys[layer]} ({type(layer).__name__})", cols[0][1]),
               _fit(str((None, *node.output.shape)), cols[1][1])]
        text = f"{row[0]:<{cols[0][1]}}{row[1]:<{cols[1][1]}}"
        text += f"{params:>{cols[2][1] - 2},}  {macs:>{cols[3][1] - 2},}  "
        if not sequential:
            text += ", ".join(model.keys.get(t.node.layer, t.node.layer.name)
                              for t in node.inputs)
        lines.append(text.rstrip())
    params = model.parameters()
    total = sum(p.size for p in params)
    trainable = sum(p.size for p in params if p.trainable)
    stats = sum(v.size for layer in model.layers for v in layer.buffers().values())
    lines += ["=" * width,
              f"Total params: {total:,}",
              f"Trainable params: {trainable:,}",
              f"Non-trainable params: {total - trainable:,}"]
    if stats:
        lines.append(f"BatchNorm running statistics (not counted above): {stats:,}")
    lines += [f"Total mult-adds (per sample): {_giga(total_macs)}", "_" * width]
    return "\n".join(lines)
