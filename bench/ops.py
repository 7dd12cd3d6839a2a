"""Issue 4 benchmark: the memory-bound ops (pooling, batch norm, ReLU, add, concat) on
ResNet-50 / Inception-sized tensors, in GB/s and % of the copy bandwidth measured in the same
run, next to PyTorch CPU (NCHW and channels_last, the faster counts) and the NumPy reference.

    python bench/ops.py --quick
    python bench/ops.py --threads 2 --plot

Bytes are the compulsory traffic (every input read once, every output written once); a
two-pass kernel (batch-norm statistics, then normalisation) moves more than it is credited.
Writes its section of bench/RESULTS.md (`ops`, or `ops-quick` with --quick).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import fastconv
from bench import harness as H
from bench.harness import torch

N = 16
POOL_X = (N, 112, 112, 64)          # ResNet-50 after conv1
ACT_X = (N, 56, 56, 256)            # ResNet-50 res2 output: BN / ReLU / add
GAP_X = (N, 7, 7, 2048)             # ResNet-50 before the classifier
CONCAT_XS = [(N, 28, 28, c) for c in (64, 128, 32, 32)]   # GoogLeNet inception (3a)
BN_MOMENTUM, BN_EPS = 0.99, 1e-3    # Keras convention (torch momentum = 1 - this)


def _bytes(*shapes: Sequence[int]) -> int:
    return 4 * sum(int(np.prod(s)) for s in shapes)


@dataclass
class Case:
    """One op on one shape: how to call fastconv, the reference and torch, and its bytes."""

    name: str
    group: str                                   # 'maxpool' | 'bn_train_fwd' | ... (targets)
    nbytes: int
    fastconv: Callable[[dict], Callable[[], Any] | None]
    reference: Callable[[dict], Callable[[], Any] | None]
    torch: Callable[[dict, bool], Callable[[], Any]] | None
    make: Callable[[np.random.Generator], dict]
    ops: tuple[str, ...] = ()                    # fastconv op-table names the call runs

    def fallback(self) -> bool:
        """True if fastconv runs (part of) this call on the NumPy fallback, not C++."""
        return any(name in fastconv.OPS and fastconv.OPS[name].runs_on("cpu") != "cpu"
                   for name in self.ops)


def _fc(name: str) -> Callable | None:
    return getattr(fastconv, name, None)


def _ref(name: str) -> Callable | None:
    return getattr(fastconv.reference, name, None)


def _t(a: np.ndarray, cl: bool) -> Any:
    """An activation as a torch NCHW tensor (channels_last memory if cl); 2-D stays as is."""
    if a.ndim != 4:
        return torch.from_numpy(np.ascontiguousarray(a))
    return H.torch_channels_last(a) if cl else H.torch_nchw(a)


def _empty_like_t(t: Any) -> Any:
    if t.dim() == 4 and t.is_contiguous(memory_format=torch.channels_last) \
            and not t.is_contiguous():
        return torch.empty_like(t, memory_format=torch.channels_last)
    return torch.empty_like(t)


# ---------------------------------------------------------------------------- the cases

def _pool_case(kind: str, k: int, s: int, p: int) -> Case:
    n, h, w, c = POOL_X
    ho, wo = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    y_shape = (n, ho, wo, c)

    def make(rng):
        return {"x": rng.standard_normal(POOL_X, dtype=np.float32),
                "y": np.empty(y_shape, np.float32)}

    def fc(d):
        f = _fc(f"{kind}_pool2d")
        if f is None:
            return None
        return lambda: f(d["x"], k, s, p, out=d["y"])

    def ref(d):
        f = _ref(f"{kind}_pool2d")
        return None if f is None else (lambda: f(d["x"], k, s, p))

    def tt(d, cl):
        xt = _t(d["x"], cl)
        F = torch.nn.functional
        if kind == "max":
            return lambda: F.max_pool2d(xt, k, s, p)
        # the same math as fastconv's default (count_include_pad=False)
        return lambda: F.avg_pool2d(xt, k, s, p, count_include_pad=False)

    return Case(f"{kind}_pool2d {k}x{k} s{s} p{p} {POOL_X}", f"{kind}pool",
                _bytes(POOL_X, y_shape), fc, ref, tt, make, (f"{kind}_pool2d",))


def _gap_case() -> Case:
    def make(rng):
        return {"x": rng.standard_normal(GAP_X, dtype=np.float32)}

    def fc(d):
        f = _fc("global_avg_pool2d")
        return None if f is None else (lambda: f(d["x"]))

    def ref(d):
        f = _ref("global_avg_pool2d")
        return None if f is None else (lambda: f(d["x"]))

    def tt(d, cl):
        xt = _t(d["x"], cl)
        return lambda: torch.nn.functional.adaptive_avg_pool2d(xt, 1)

    return Case(f"global_avg_pool2d {GAP_X}", "gap", _bytes(GAP_X, (N, GAP_X[3])), fc, ref, tt,
                make, ("global_avg_pool2d",))


def _bn_make(rng):
    c = ACT_X[3]
    return {"x": rng.standard_normal(ACT_X, dtype=np.float32),
            "dy": rng.standard_normal(ACT_X, dtype=np.float32),
            "gamma": rng.uniform(0.5, 1.5, c).astype(np.float32),
            "beta": rng.standard_normal(c, dtype=np.float32),
            "rm": np.zeros(c, np.float32), "rv": np.ones(c, np.float32)}


def _bn_torch_args(d, cl):
    return (_t(d["x"], cl), torch.from_numpy(d["gamma"]), torch.from_numpy(d["beta"]),
            torch.from_numpy(d["rm"].copy()), torch.from_numpy(d["rv"].copy()))


def _bn_train_fwd() -> Case:
    def fc(d):
        f = _fc("batch_norm")
        if f is None:
            return None
        return lambda: f(d["x"], d["gamma"], d["beta"], d["rm"], d["rv"], training=True,
                         momentum=BN_MOMENTUM, eps=BN_EPS)

    def ref(d):
        f = _ref("batch_norm")
        if f is None:
            return None
        rm, rv = d["rm"].copy(), d["rv"].copy()
        return lambda: f(d["x"], d["gamma"], d["beta"], rm, rv, training=True,
                         momentum=BN_MOMENTUM, eps=BN_EPS)

    def tt(d, cl):
        xt, g, b, rm, rv = _bn_torch_args(d, cl)

        def run():
            with torch.no_grad():
                return torch.nn.functional.batch_norm(xt, rm, rv, g, b, True, 1 - BN_MOMENTUM,
                                                      BN_EPS)
        return run

    return Case(f"batch_norm training fwd {ACT_X}", "bn_train_fwd", _bytes(ACT_X, ACT_X), fc,
                ref, tt, _bn_make, ("batch_norm",))


def _bn_train_bwd() -> Case:
    def fc(d):
        f, b = _fc("batch_norm"), _fc("batch_norm_backward")
        if f is None or b is None:
            return None
        _, mean, invstd = f(d["x"], d["gamma"], d["beta"], training=True, eps=BN_EPS,
                            return_stats=True)
        return lambda: b(d["dy"], d["x"], d["gamma"], mean, invstd, training=True)

    def ref(d):
        f, b = _ref("batch_norm"), _ref("batch_norm_backward")
        if f is None or b is None:
            return None
        _, mean, invstd = f(d["x"], d["gamma"], d["beta"], training=True, eps=BN_EPS,
                            return_stats=True)
        return lambda: b(d["dy"], d["x"], d["gamma"], mean, invstd, training=True)

    def tt(d, cl):
        xt, g, b, rm, rv = _bn_torch_args(d, cl)
        dyt = _t(d["dy"], cl)
        _, smean, sinv = torch.ops.aten.native_batch_norm(xt, g, b, rm, rv, True,
                                                          1 - BN_MOMENTUM, BN_EPS)
        # what autograd runs for BatchNorm2d in training: dx, dgamma, dbeta in one call
        return lambda: torch.ops.aten.native_batch_norm_backward(
            dyt, xt, g, rm, rv, smean, sinv, True, BN_EPS, [True, True, True])

    return Case(f"batch_norm training bwd {ACT_X}", "bn_train_bwd",
                _bytes(ACT_X, ACT_X, ACT_X), fc, ref, tt, _bn_make, ("batch_norm_backward",))


def _bn_infer() -> Case:
    def fc(d):
        f = _fc("batch_norm")
        if f is None:
            return None
        return lambda: f(d["x"], d["gamma"], d["beta"], d["rm"], d["rv"], training=False,
                         eps=BN_EPS)

    def ref(d):
        f = _ref("batch_norm")
        if f is None:
            return None
        return lambda: f(d["x"], d["gamma"], d["beta"], d["rm"], d["rv"], training=False,
                         eps=BN_EPS)

    def tt(d, cl):
        xt, g, b, rm, rv = _bn_torch_args(d, cl)

        def run():
            with torch.no_grad():
                return torch.nn.functional.batch_norm(xt, rm, rv, g, b, False, 0.0, BN_EPS)
        return run

    return Case(f"batch_norm inference {ACT_X}", "bn_infer", _bytes(ACT_X, ACT_X), fc, ref, tt,
                _bn_make, ("batch_norm",))


def _relu() -> Case:
    def make(rng):
        return {"x": rng.standard_normal(ACT_X, dtype=np.float32),
                "y": np.empty(ACT_X, np.float32)}

    def fc(d):
        f = _fc("relu")
        return None if f is None else (lambda: f(d["x"], out=d["y"]))

    def ref(d):
        f = _ref("relu")
        return None if f is None else (lambda: f(d["x"]))

    def tt(d, cl):
        xt = _t(d["x"], cl)
        yt = _empty_like_t(xt)
        return lambda: torch.clamp_min(xt, 0.0, out=yt)   # relu into a reused tensor

    return Case(f"relu {ACT_X}", "relu", _bytes(ACT_X, ACT_X), fc, ref, tt, make, ("relu",))


def _add() -> Case:
    def make(rng):
        return {"a": rng.standard_normal(ACT_X, dtype=np.float32),
                "b": rng.standard_normal(ACT_X, dtype=np.float32),
                "y": np.empty(ACT_X, np.float32)}

    def fc(d):
        f = _fc("add")
        return None if f is None else (lambda: f(d["a"], d["b"], out=d["y"]))

    def ref(d):
        f = _ref("add")
        return None if f is None else (lambda: f(d["a"], d["b"]))

    def tt(d, cl):
        at, bt = _t(d["a"], cl), _t(d["b"], cl)
        yt = _empty_like_t(at)
        return lambda: torch.add(at, bt, out=yt)

    return Case(f"add {ACT_X}", "add", _bytes(ACT_X, ACT_X, ACT_X), fc, ref, tt, make, ("add",))


def _concat() -> Case:
    y_shape = (N, 28, 28, sum(s[3] for s in CONCAT_XS))

    def make(rng):
        return {"xs": [rng.standard_normal(s, dtype=np.float32) for s in CONCAT_XS]}

    def fc(d):
        f = _fc("concat")
        return None if f is None else (lambda: f(d["xs"], axis=-1))

    def ref(d):
        f = _ref("concat")
        return None if f is None else (lambda: f(d["xs"], axis=-1))

    def tt(d, cl):
        xts = [_t(a, cl) for a in d["xs"]]
        yt = torch.cat(xts, 1)
        return lambda: torch.cat(xts, 1, out=yt)

    return Case(f"concat 4 branches -> {y_shape}", "concat", _bytes(*CONCAT_XS, y_shape), fc,
                ref, tt, make, ("concat",))


def all_cases() -> list[Case]:
    return [_pool_case("max", 3, 2, 1), _pool_case("max", 2, 2, 0),
            _pool_case("avg", 3, 2, 1), _pool_case("avg", 2, 2, 0), _gap_case(),
            _bn_train_fwd(), _bn_train_bwd(), _bn_infer(), _relu(), _add(), _concat()]


QUICK = ("maxpool", "bn_train_fwd", "relu")


# ---------------------------------------------------------------------------- measuring

@dataclass
class Row:
    case: Case
    threads: int
    fc: float | None = None
    fc_note: str = ""
    torch_nchw: float | None = None
    torch_cl: float | None = None
    ref: float | None = None
    copy_gbps: float = 0.0

    @property
    def torch_best(self) -> float | None:
        return H.best_of({"nchw": self.torch_nchw, "cl": self.torch_cl})[1]

    @property
    def ratio(self) -> float | None:
        tb = self.torch_best
        return None if tb is None or self.fc is None else tb / self.fc

    def gb(self, t: float | None) -> float | None:
        return None if t is None else H.gbps(self.case.nbytes, t)

    @property
    def pct_copy(self) -> float | None:
        g = self.gb(self.fc)
        return None if g is None or not self.copy_gbps else 100.0 * g / self.copy_gbps


@dataclass
class Settings:
    cases: list[Case]
    threads: list[int]
    repeats: int = 10
    warmup: int = 2
    budget: float = 1.0
    quick: bool = False
    extra: dict = field(default_factory=dict)


def _timed(progress: H.Progress, label: str, factory: Callable[..., Callable | None],
           args: tuple, s: Settings) -> tuple[float | None, str]:
    """Build the call with factory(*args) (None: the op is missing), then time it."""
    progress.start(label)
    try:
        fn = factory(*args)
        if fn is None:
            progress.done("not in this fastconv build")
            return None, "not in this build"
        t = H.measure(fn, warmup=s.warmup, repeats=s.repeats, budget=s.budget)
    except (ValueError, TypeError, NotImplementedError, RuntimeError) as e:
        progress.done(f"failed: {type(e).__name__}: {e}")
        return None, "failed"
    progress.done(f"min {H.fmt_time(t.min)}, median {H.fmt_time(t.median)}")
    return t.min, ""


def run(s: Settings, out: str | Path | None = H.RESULTS, plot_path: str | None = None
        ) -> list[Row]:
    machine = H.Machine()
    per_case = 2 + (2 if torch is not None else 0)
    progress = H.Progress(len(s.cases) * len(s.threads) * per_case)
    rows: list[Row] = []
    old = fastconv.get_num_threads()
    try:
        for case in s.cases:
            d = case.make(np.random.default_rng(0))
            for t in s.threads:
                H.set_threads(t)
                row = Row(case, t, copy_gbps=machine.copy_bandwidth(case.nbytes // 2, t))
                tag = f"{case.name} t={t}"
                row.ref, _ = _timed(progress, f"{tag} numpy-ref", case.reference, (d,), s)
                if torch is not None:
                    for cl in (False, True):
                        sec, _ = _timed(progress, f"{tag} torch {'CL' if cl else 'NCHW'}",
                                        case.torch, (d, cl), s)
                        setattr(row, "torch_cl" if cl else "torch_nchw", sec)
                row.fc, row.fc_note = _timed(progress, f"{tag} fastconv", case.fastconv, (d,), s)
                rows.append(row)
            del d
    finally:
        fastconv.set_num_threads(old)
    progress.note("copy bandwidth: measuring again, keeping the best of both")
    machine.refresh_copy()
    for row in rows:
        row.copy_gbps = machine.copy_bandwidth(row.case.nbytes // 2, row.threads)
    if out is not None:
        H.write_section(out, "ops-quick" if s.quick else "ops", report(rows, s, machine))
        print(f"results written to {out}", file=sys.stderr)
    if plot_path:
        plot(rows, plot_path)
    machine.close()
    return rows


# ---------------------------------------------------------------------------- report

HEADERS = ["op", "thr", "MB moved", "fastconv", "GB/s", "% copy", "copy GB/s", "torch NCHW",
           "torch CL", "torch GB/s", "vs torch", "NumPy ref", "ref GB/s"]
RIGHT = [False] + [True] * (len(HEADERS) - 1)


def _cells(r: Row) -> list[str]:
    na = H.TORCH_NA
    have = torch is not None
    fc = H.fmt_time(r.fc) if r.fc is not None else (r.fc_note or "-")
    if r.fc is not None and r.case.fallback():
        fc += " (NumPy fallback)"
    return [r.case.name, str(r.threads), f"{r.case.nbytes / 1e6:.1f}", fc,
            H.fmt_num(r.gb(r.fc)), H.fmt_num(r.pct_copy, 0), H.fmt_num(r.copy_gbps),
            H.fmt_time(r.torch_nchw) if have else na, H.fmt_time(r.torch_cl) if have else na,
            H.fmt_num(r.gb(r.torch_best)) if have else na, H.fmt_ratio(r.ratio) if have else na,
            H.fmt_time(r.ref), H.fmt_num(r.gb(r.ref))]


def targets(rows: Sequence[Row]) -> list[list[str]]:
    out = []
    pct = [r for r in rows if r.pct_copy is not None]
    if pct and len(pct) == len(rows):
        worst = min(pct, key=lambda r: r.pct_copy)
        out.append(H.target_line(">= 50% of copy bandwidth, every op", worst.pct_copy >= 50,
                                 f"min {worst.pct_copy:.0f}% ({worst.case.name} "
                                 f"t={worst.threads})"))
    else:
        out.append(H.target_line(">= 50% of copy bandwidth, every op", None,
                                 "some ops missing or failed"))

    def ratio_target(name, group, bound):
        sel = [r for r in rows if r.case.group == group]
        if torch is None:
            out.append(H.target_line(name, None, H.TORCH_NA))
        elif not sel or any(r.ratio is None for r in sel):
            out.append(H.target_line(name, None, "not measured"))
        else:
            worst = min(sel, key=lambda r: r.ratio)
            out.append(H.target_line(name, worst.ratio >= bound,
                                     f"min {worst.ratio:.1f}x ({worst.case.name} "
                                     f"t={worst.threads})"))

    ratio_target(">= 10x torch on max pooling", "maxpool", 10.0)
    ratio_target(">= 3x torch on BN training forward", "bn_train_fwd", 3.0)
    return out


def report(rows: Sequence[Row], s: Settings, machine: H.Machine) -> str:
    facts = H.machine_facts(machine)
    facts["timing"] = (f"min of up to {s.repeats} repeats after {s.warmup} warm-up; fastconv "
                       "writes into reused out= buffers where the API has them; torch: default "
                       "settings (out= tensors for relu/add/concat), the faster of NCHW and "
                       "channels_last counts")
    title = "Memory-bound ops (issue 4)" + (" -- quick subset" if s.quick else "")
    notes = ("GB/s count compulsory bytes (inputs read once + outputs written once); `% copy` "
             "is of np.copyto bandwidth for a buffer moving the same bytes at the same thread "
             "count (threaded copy: one chunk per thread); `vs torch` = torch time / fastconv "
             "time.\n")
    return H.section(title, H.command_line(), facts, "### Targets\n",
                     H.md_table(["target", "measured", "verdict"], targets(rows)),
                     "### All measurements\n",
                     H.md_table(HEADERS, (_cells(r) for r in rows), RIGHT), notes)


def plot(rows: Sequence[Row], path: str) -> None:
    if torch is None:
        print("--plot: nothing to plot without torch", file=sys.stderr)
        return
    names = list(dict.fromkeys(r.case.name for r in rows))
    series = {}
    for t in sorted({r.threads for r in rows}):
        look = {r.case.name: r.ratio for r in rows if r.threads == t}
        series[f"{t} thr"] = [look.get(nm) for nm in names]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    labels = [nm.split(" (")[0] for nm in names]
    if H.plot_bars(path, labels, series, "fastconv memory-bound ops vs PyTorch CPU"):
        print(f"plot written to {path}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="max pool, BN training fwd, ReLU")
    ap.add_argument("--ops", type=H.str_list,
                    help="comma-separated groups: maxpool, avgpool, gap, bn_train_fwd, "
                         "bn_train_bwd, bn_infer, relu, add, concat")
    ap.add_argument("--threads", type=H.int_list, help="thread counts (default 1,2)")
    ap.add_argument("--repeats", type=int)
    ap.add_argument("--out", default=str(H.RESULTS))
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--plot", nargs="?", const="bench/out/ops.png", default=None, metavar="PNG")
    a = ap.parse_args(argv)
    cases = all_cases()
    groups = a.ops or (list(QUICK) if a.quick else None)
    if groups:
        known = {c.group for c in cases}
        if set(groups) - known:
            ap.error(f"unknown ops {sorted(set(groups) - known)}; choose from {sorted(known)}")
        cases = [c for c in cases if c.group in groups]
    s = Settings(cases, a.threads or [1, 2], quick=a.quick)
    if a.quick:
        s.repeats, s.budget = 3, 0.3
    if a.repeats:
        s.repeats = a.repeats
    run(s, None if a.no_write else a.out, a.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
