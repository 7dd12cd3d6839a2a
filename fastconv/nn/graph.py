"""The execution plan of a graph model: topological order, fusions, forward and backward.

Fusions (the pattern must be private: the intermediate tensor has one consumer and is not a
model output):
- Conv2D/Dense/BatchNormalization/Add followed by a ReLU layer: one op with ``relu=True``.
- training only, in backward: Conv2D (tanh) -> AvgPool2D: the pool's backward applies the
  tanh's (one pass over the conv-sized gradient instead of two), the conv skips it.
- training only: BatchNormalization -> Add (two inputs) -> ReLU, where the Add's other input
  is already computed (a residual block's join): one batch_norm with ``residual=`` and
  ``relu=True`` (the sum is never stored); backward passes the masked gradient to both.
- training only, in backward: a value produced by Add + ReLU (or the fusion above) that feeds
  two layers (a residual block's input) gets its two gradient parts summed and masked by the
  ReLU in one pass (``sum_relu_backward``), and the step's backward skips its ReLU.
- inference only: Conv2D (linear) -> BatchNormalization: the BN is folded into the conv's
  weights (fastconv.fold_batch_norm), cached until the weights may have changed
  (``parameter.generation()``), so conv -> BN -> ReLU is one convolution at inference; the
  folded weights are packed once for the kernels (``fastconv.PackedConv2d``).
"""

from __future__ import annotations

import fastconv as F

from .activations import is_relu
from .layer import InputLayer, Layer, Node, Tensor
from .layers_conv import Conv2D
from .layers_merge import Add
from .layers_norm import BatchNormalization
from .layers_pool import AvgPool2D
from .parameter import generation


def topological_nodes(inputs: list[Tensor], outputs: list[Tensor]) -> list[Node]:
    """Nodes that the outputs depend on, each after its inputs (iterative DFS)."""
    stop = {id(t) for t in inputs}
    order: list[Node] = []
    seen: set[int] = set()
    for out in outputs:
        stack: list[tuple[Node, bool]] = [(out.node, False)]
        while stack:
            node, done = stack.pop()
            if done:
                order.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            if id(node.output) in stop:
                continue
            if isinstance(node.layer, InputLayer):
                raise ValueError(f"the outputs depend on input {node.layer.name!r}, which is "
                                 "not among the model's inputs")
            for t in reversed(node.inputs):
                if id(t.node) not in seen:
                    stack.append((t.node, False))
    return order


class Step:
    """One layer call (plus what it absorbed) reading and writing value slots."""

    __slots__ = ("layer", "ins", "out", "relu", "bn", "fold_gen", "folded", "tanh_grad",
                 "preact_grad", "residual")

    def __init__(self, layer: Layer, ins: list[int]):
        self.layer, self.ins, self.out = layer, ins, -1
        self.relu = False
        self.tanh_grad = False    # AvgPool2D: backward returns the gradient through a tanh
        self.preact_grad = False  # Conv2D: dy arrives through its tanh already
        self.bn: BatchNormalization | None = None
        self.fold_gen, self.folded = -1, None
        # BatchNormalization: ins[1] is added before the ReLU (an absorbed Add); backward
        # returns gradients for both ins
        self.residual = False

    @property
    def multi_grad(self) -> bool:
        """backward returns one gradient per input (a list)."""
        return self.layer.multi_input or self.residual

    def relu_output(self, ctx) -> tuple:
        """(the fused ReLU's output y, ctx without it) of an Add or residual BN step."""
        if self.residual:
            return ctx[3], (*ctx[:3], None, *ctx[4:])
        return ctx[1], (ctx[0], None)

    def forward(self, x, training: bool, z=None):
        if self.residual:
            return self.layer._forward(x, training, relu=self.relu, residual=z)
        if self.bn is None:
            return self.layer._forward(x, training, relu=self.relu)
        conv: Conv2D = self.layer  # type: ignore[assignment]
        if self.fold_gen != generation():
            b = conv.bias.value if conv.bias is not None else None
            g, beta = self.bn.gamma_beta()
            w, b = F.fold_batch_norm(conv.kernel.value, b, g, beta, self.bn.moving_mean,
                                     self.bn.moving_variance, eps=self.bn.epsilon)
            # the folded arrays are this step's own: packed once, not on every call
            self.folded = F.PackedConv2d(w, b, copy=False, **conv.conv_args())
            self.fold_gen = generation()
        return self.folded(x, relu=self.relu), None

    def backward(self, dy, ctx, need_dx: bool):
        if self.residual:  # the ReLU's mask once, for the BN and the absorbed Add's input
            y, ctx = self.relu_output(ctx)
            g = F.relu_backward(dy, y) if y is not None else dy
            dx, grads = self.layer._backward(g, ctx, need_dx)
            return [dx, g], grads
        if self.tanh_grad:
            return self.layer._backward_through_tanh(dy, ctx)  # type: ignore[attr-defined]
        if self.preact_grad:
            return self.layer._backward(dy, ctx, need_dx,  # type: ignore[call-arg]
                                        preactivation=True)
        return self.layer._backward(dy, ctx, need_dx)


class Plan:
    """Steps in order for a set of outputs, in training or inference mode."""

    def __init__(self, inputs: list[Tensor], outputs: list[Tensor], training: bool,
                 fuse: bool = True):
        nodes = topological_nodes(inputs, outputs)
        consumers: dict[int, list[Node]] = {}
        for n in nodes:
            for t in n.inputs:
                consumers.setdefault(id(t), []).append(n)
        out_ids = {id(t) for t in outputs}
        slots: dict[int, int] = {id(t): i for i, t in enumerate(inputs)}
        input_ids = set(slots)

        def slot(t: Tensor) -> int:
            return slots.setdefault(id(t), len(slots))

        def sole_consumer(t: Tensor) -> Node | None:
            users = consumers.get(id(t), [])
            return users[0] if len(users) == 1 and id(t) not in out_ids else None

        absorbed: set[int] = set()
        tanh_pools: set[int] = set()  # AvgPool2D nodes that apply their input's tanh backward
        produced = set(input_ids)  # tensors already computed by earlier steps
        self.steps: list[Step] = []
        for node in nodes:
            layer = node.layer
            if id(node) in absorbed or id(node.output) in input_ids:
                continue
            step = Step(layer, [slot(t) for t in node.inputs])
            cur = node.output
            linear = getattr(layer, "activation", "linear") == "linear"
            nxt = sole_consumer(cur) if fuse else None
            if (not training and isinstance(layer, Conv2D) and linear and nxt is not None
                    and isinstance(nxt.layer, BatchNormalization)):
                step.bn = nxt.layer
                absorbed.add(id(nxt))
                cur = nxt.output
                nxt = sole_consumer(cur)
            if (training and isinstance(layer, BatchNormalization) and nxt is not None
                    and isinstance(nxt.layer, Add) and len(nxt.inputs) == 2
                    and nxt.inputs[0] is not nxt.inputs[1]):
                other = nxt.inputs[1] if nxt.inputs[0] is cur else nxt.inputs[0]
                after = sole_consumer(nxt.output)
                if id(other) in produced and after is not None and is_relu(after.layer):
                    step.residual = step.relu = True
                    step.ins.append(slot(other))
                    absorbed.update((id(nxt), id(after)))
                    cur, nxt = after.output, None
            if layer.fuses_relu and linear and nxt is not None and is_relu(nxt.layer):
                step.relu = True
                absorbed.add(id(nxt))
                cur = nxt.output
            if id(node) in tanh_pools:
                step.tanh_grad = True
            elif (training and isinstance(layer, Conv2D) and layer.activation == "tanh"
                  and nxt is not None and isinstance(nxt.layer, AvgPool2D)):
                step.preact_grad = True
                tanh_pools.add(id(nxt))
            step.out = slot(cur)
            produced.add(id(cur))
            self.steps.append(step)
        self.folded_steps = [s for s in self.steps if s.bn is not None]
        # Values whose producer is an Add with a fused ReLU (its ctx holds the output y): their
        # two-part gradients go through sum_relu_backward (see backward).
        self.relu_sums = {s.out for s in self.steps
                          if s.residual or (s.relu and isinstance(s.layer, Add))}
        self.n_slots = len(slots)
        self.n_inputs = len(inputs)
        self.outputs = [slots[id(t)] for t in outputs]
        # each value is dropped after its last reader (what backward needs lives in the ctxs)
        last: dict[int, int] = {}
        for i, s in enumerate(self.steps):
            for j in s.ins:
                last[j] = i
        keep = set(self.outputs)
        self.frees = [[j for j in set(s.ins) if last[j] == i and j not in keep]
                      for i, s in enumerate(self.steps)]

    def drop_folded(self) -> None:
        """Forget the folded inference weights (training is about to make them stale)."""
        for step in self.folded_steps:
            step.folded, step.fold_gen = None, -1

    def forward(self, xs: list, training: bool) -> tuple[list, list | None]:
        vals: list = [None] * self.n_slots
        vals[:self.n_inputs] = xs
        ctxs: list | None = [] if training else None
        for i, step in enumerate(self.steps):
            if step.layer.multi_input:
                y, ctx = step.forward([vals[j] for j in step.ins], training)
            elif step.residual:
                y, ctx = step.forward(vals[step.ins[0]], training, vals[step.ins[1]])
            else:
                y, ctx = step.forward(vals[step.ins[0]], training)
            vals[step.out] = y
            if ctxs is not None:
                ctxs.append(ctx)
            for j in self.frees[i]:
                vals[j] = None
        return [vals[j] for j in self.outputs], ctxs

    def backward(self, dys: list, ctxs: list, input_grad: bool) -> list:
        """Gradients of the inputs (None entries if not asked); sets parameter grads.

        Consumes ``ctxs``: each step's saved tensors are dropped (set to None) as soon as its
        backward ran, and each gradient as soon as its producer consumed it, so memory falls
        during backward instead of holding every activation until the end.
        """
        req = [input_grad] * self.n_inputs + [False] * (self.n_slots - self.n_inputs)
        for step in self.steps:  # which values carry a gradient we need (plain loops: this
            r = False            # runs every training step, generators cost more than it)
            for j in step.ins:
                if req[j]:
                    r = True
                    break
            if not r:
                for p in step.layer._params:
                    if p.trainable:
                        r = True
                        break
            req[step.out] = r
        grads: list = [None] * self.n_slots
        # pending[j]: the second gradient part of a relu_sums value, held until its producer
        # runs (a third part adds both first).
        pending: list = [None] * self.n_slots
        for j, dy in zip(self.outputs, dys, strict=False):
            if dy is not None:
                grads[j] = dy if grads[j] is None else F.add(grads[j], dy)
        seen: set[int] = set()
        for i in range(len(self.steps) - 1, -1, -1):
            step, ctx = self.steps[i], ctxs[i]
            ctxs[i] = None
            dy, second = grads[step.out], pending[step.out]
            grads[step.out] = pending[step.out] = None
            if dy is None or not req[step.out]:
                continue
            if second is not None:
                y, ctx = step.relu_output(ctx)
                dy = F.sum_relu_backward(dy, second, y)
                second = y = None
            need_dx = False
            for j in step.ins:
                if req[j]:
                    need_dx = True
                    break
            dx, pgrads = step.backward(dy, ctx, need_dx)
            dy = ctx = None
            if pgrads:
                for p, g in zip(step.layer._params, pgrads, strict=False):
                    if g is not None:
                        p.grad = g if id(p) not in seen else p.grad + g  # a shared layer sums
                        seen.add(id(p))
            if not need_dx:
                continue
            for j, d in zip(step.ins, dx if step.multi_grad else [dx], strict=False):
                if d is None or not req[j]:
                    continue
                if grads[j] is None:
                    grads[j] = d
                elif j in self.relu_sums and pending[j] is None:
                    pending[j] = d
                else:
                    if pending[j] is not None:
                        grads[j], pending[j] = F.add(grads[j], pending[j]), None
                    grads[j] = F.add(grads[j], d)
            dx = d = None  # a summed gradient's parts go now, not after the next layer
        return grads[:self.n_inputs]
