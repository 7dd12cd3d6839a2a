"""Issue 5 benchmark: whole-network inference, images/s and peak memory, fastconv.models vs
the same architectures in plain torch.nn (bench/torch_models.py; eval, no_grad, NCHW and
channels_last, the faster counts).

    python bench/nets.py --quick                 # ResNet-50 and GoogLeNet, N=1, 2 threads
    python bench/nets.py                         # 3 nets x N=1,16 x 1,2 threads
    python bench/nets.py --nets vgg16 --batch 16 --threads 2

Every configuration runs in a fresh process (bench/_child.py), so its peak resident memory
(VmHWM) is its own. Writes its section of bench/RESULTS.md (`nets` or `nets-quick`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness as H
from bench.harness import torch

NETS = ("resnet50", "vgg16", "googlenet")
TARGETS = {"resnet50": 1.3, "vgg16": 1.2, "googlenet": 1.3}
LIBS = (("fastconv", "nhwc"), ("torch", "nchw"), ("torch", "cl"))


@dataclass
class Row:
    net: str
    n: int
    threads: int
    res: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def secs(self, lib: str, layout: str) -> float | None:
        r = self.res.get((lib, layout), {})
        return min(r["seconds"]) if r.get("seconds") else None

    def ips(self, lib: str, layout: str) -> float | None:
        s = self.secs(lib, layout)
        return None if s is None else self.n / s

    def torch_best(self) -> tuple[str | None, float | None]:
        return H.best_of({lay: self.secs("torch", lay) for lay in ("nchw", "cl")})

    @property
    def ratio(self) -> float | None:
        _, tb = self.torch_best()
        fc = self.secs("fastconv", "nhwc")
        return None if tb is None or fc is None else tb / fc

    def mem(self, lib: str, layout: str) -> tuple[float | None, float | None]:
        r = self.res.get((lib, layout), {})
        if "peak_mib" not in r:
            return None, None
        return r["peak_mib"], r["peak_mib"] - r["base_mib"]


@dataclass
class Settings:
    nets: list[str]
    batches: list[int]
    threads: list[int]
    repeats: int = 5
    warmup: int = 1
    budget: float = 20.0
    timeout: float = 900.0
    quick: bool = False


def run(s: Settings, out: str | Path | None = H.RESULTS, plot_path: str | None = None
        ) -> list[Row]:
    libs = [lib for lib in LIBS if lib[0] == "fastconv" or torch is not None]
    configs = [(net, n, t) for net in s.nets for n in sorted(s.batches) for t in s.threads]
    progress = H.Progress(len(configs) * len(libs))
    rows = []
    for net, n, t in configs:
        row = Row(net, n, t)
        for lib, layout in libs:
            label = f"{net} {lib}{'' if lib == 'fastconv' else ' ' + layout} N={n} t={t}"
            progress.start(label, end="\n")
            cfg = {"task": "infer", "lib": lib, "layout": layout, "net": net, "n": n,
                   "warmup": s.warmup, "repeats": s.repeats, "budget": s.budget,
                   "label": label}
            r = H.run_child(cfg, t, timeout=s.timeout)
            row.res[(lib, layout)] = r
            if "error" in r:
                progress.done(f"  -> failed: {r['error']}")
            else:
                progress.done(f"  -> {n / min(r['seconds']):.2f} images/s, peak "
                              f"{r['peak_mib']:.0f} MiB")
        rows.append(row)
    if out is not None:
        H.write_section(out, "nets-quick" if s.quick else "nets", report(rows, s))
        print(f"results written to {out}", file=sys.stderr)
    if plot_path:
        plot(rows, plot_path)
    return rows


# ---------------------------------------------------------------------------- report

HEADERS = ["net", "N", "thr", "fastconv img/s", "torch NCHW img/s", "torch CL img/s",
           "vs torch", "fastconv peak MiB (+over import)", "torch peak MiB (+over import)",
           "params fastconv / torch"]


def _mem_cell(peak: float | None, extra: float | None) -> str:
    return "-" if peak is None else f"{peak:.0f} (+{extra:.0f})"


def _cells(r: Row) -> list[str]:
    na = H.TORCH_NA
    fc_err = r.res.get(("fastconv", "nhwc"), {}).get("error")
    best, _ = r.torch_best()
    tmem = r.mem("torch", best) if best else (None, None)
    pf = r.res.get(("fastconv", "nhwc"), {}).get("params")
    pt = r.res.get(("torch", best or "nchw"), {}).get("params")

    def ips(lib, lay):
        v = r.ips(lib, lay)
        if v is None:
            err = r.res.get((lib, lay), {}).get("error")
            return f"failed ({err})" if err else "-"
        return f"{v:.2f}"

    return [r.net, str(r.n), str(r.threads),
            ips("fastconv", "nhwc") if not fc_err else f"failed ({fc_err})",
            ips("torch", "nchw") if torch else na, ips("torch", "cl") if torch else na,
            H.fmt_ratio(r.ratio) if torch else na,
            _mem_cell(*r.mem("fastconv", "nhwc")),
            _mem_cell(*tmem) if torch else na,
            f"{pf if pf is not None else '-'} / {pt if pt is not None else '-'}"]


def targets(rows: Sequence[Row]) -> list[list[str]]:
    out = []
    for net, bound in TARGETS.items():
        sel = [r for r in rows if r.net == net]
        name = f"{net} inference >= {bound}x torch (geomean over N and threads)"
        if not sel:
            continue
        if torch is None:
            out.append(H.target_line(name, None, H.TORCH_NA))
            continue
        ratios = [r.ratio for r in sel]
        if any(v is None for v in ratios):
            out.append(H.target_line(name, None, "some runs failed"))
            continue
        gm = H.geomean(ratios)
        worst = min(sel, key=lambda r: r.ratio)
        out.append(H.target_line(name, gm >= bound, f"{gm:.2f}x (min {worst.ratio:.2f}x at "
                                 f"N={worst.n} t={worst.threads})"))
    return out


def report(rows: Sequence[Row], s: Settings) -> str:
    facts = H.machine_facts()
    facts["timing"] = (f"each configuration in a fresh process; min of up to {s.repeats} "
                       f"calls after {s.warmup} warm-up (at most {s.budget:g} s of timed "
                       "calls); fastconv: model(x, training=False) on NHWC float32; torch: "
                       "eval(), no_grad(), NCHW and channels_last, the faster counts")
    facts["memory"] = ("peak resident set (VmHWM) of the process; (+...) = peak minus the "
                       "resident set after importing the library, i.e. weights + activations "
                       "+ workspaces; torch's is that of its faster layout")
    fc_kw = next((r.res.get(("fastconv", "nhwc"), {}).get("model_kwargs") for r in rows
                  if r.net == "googlenet"), None)
    if fc_kw is not None:
        facts["fastconv googlenet built with"] = str(fc_kw or "defaults")
    title = "Whole networks, inference (issue 5)" + (" -- quick subset" if s.quick else "")
    return H.section(title, H.command_line(), facts, "### Targets\n",
                     H.md_table(["target", "measured", "verdict"], targets(rows)),
                     "### All measurements\n",
                     H.md_table(HEADERS, (_cells(r) for r in rows),
                                [False] + [True] * (len(HEADERS) - 1)))


def plot(rows: Sequence[Row], path: str) -> None:
    if torch is None:
        print("--plot: nothing to plot without torch", file=sys.stderr)
        return
    keys = sorted({(r.net, r.n) for r in rows}, key=lambda k: (NETS.index(k[0]), k[1]))
    series = {}
    for t in sorted({r.threads for r in rows}):
        look = {(r.net, r.n): r.ratio for r in rows if r.threads == t}
        series[f"{t} thr"] = [look.get(k) for k in keys]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if H.plot_bars(path, [f"{net} N={n}" for net, n in keys], series,
                   "fastconv inference vs PyTorch CPU (images/s ratio)"):
        print(f"plot written to {path}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="resnet50 + googlenet, N=1, 2 threads")
    ap.add_argument("--nets", type=H.str_list, help="comma-separated: " + ", ".join(NETS))
    ap.add_argument("--batch", type=H.int_list, help="batch sizes (default 1,16)")
    ap.add_argument("--threads", type=H.int_list, help="thread counts (default 1,2)")
    ap.add_argument("--repeats", type=int)
    ap.add_argument("--timeout", type=float, help="seconds per configuration (default 900)")
    ap.add_argument("--out", default=str(H.RESULTS))
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--plot", nargs="?", const="bench/out/nets.png", default=None, metavar="PNG")
    a = ap.parse_args(argv)
    nets = a.nets or (["resnet50", "googlenet"] if a.quick else list(NETS))
    if set(nets) - set(NETS):
        ap.error(f"unknown nets {sorted(set(nets) - set(NETS))}; choose from {list(NETS)}")
    s = Settings(nets, a.batch or ([1] if a.quick else [1, 16]),
                 a.threads or ([2] if a.quick else [1, 2]), quick=a.quick)
    if a.quick:
        s.repeats, s.budget = 2, 5.0
    if a.repeats:
        s.repeats = a.repeats
    if a.timeout:
        s.timeout = a.timeout
    run(s, None if a.no_write else a.out, a.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
