"""Issue 6 benchmark: training. LeNet-5 epoch time on scikit-learn's digits (32x32) and the
ResNet-50 train step (N=16), fastconv vs the same networks in plain PyTorch (Adam with
Keras' defaults on both sides), plus peak memory.

    python bench/train.py --quick          # LeNet-5 only, 2 threads
    python bench/train.py                  # LeNet-5 epoch and ResNet-50 step, 1 and 2 threads

fastconv trains through its Keras-style API (model.compile('adam') + fit, one epoch per call;
the ResNet-50 step is fit on one batch of 16); without it, a manual forward / backward / SGD
loop (said so in the table). Every configuration runs in a fresh process (bench/_child.py).
Writes its section of bench/RESULTS.md (`train` or `train-quick`).
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

TASKS = {  # name: (child task, net, batch, what one timed call is, speed target, rounds)
    "lenet5_epoch": ("train_lenet", "lenet5", 32, "one epoch", 3.0, 3),
    "resnet50_step": ("train_step", "resnet50", 16, "one step (N=16)", 1.2, 2),
}
LIBS = (("fastconv", "nhwc"), ("torch", "nchw"), ("torch", "cl"))


@dataclass
class Row:
    task: str
    threads: int
    res: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def secs(self, lib: str, layout: str) -> float | None:
        r = self.res.get((lib, layout), {})
        return min(r["seconds"]) if r.get("seconds") else None

    def torch_best(self) -> tuple[str | None, float | None]:
        return H.best_of({lay: self.secs("torch", lay) for lay in ("nchw", "cl")})

    @property
    def ratio(self) -> float | None:
        _, tb = self.torch_best()
        fc = self.secs("fastconv", "nhwc")
        return None if tb is None or fc is None else tb / fc

    def mem_extra(self, lib: str, layout: str | None) -> float | None:
        r = self.res.get((lib, layout), {}) if layout else {}
        return r["peak_mib"] - r["base_mib"] if "peak_mib" in r else None


@dataclass
class Settings:
    tasks: list[str]
    threads: list[int]
    repeats: int = 3
    warmup: int = 1
    budget: float = 30.0
    timeout: float = 1800.0
    quick: bool = False


def _rounds(libs: Sequence[tuple[str, str]], rounds: int) -> list[tuple[str, str]]:
    """`rounds` passes over `libs`, every other pass reversed."""
    out: list[tuple[str, str]] = []
    for k in range(rounds):
        out += list(libs) if k % 2 == 0 else list(reversed(libs))
    return out


def _merge(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """One library's results over rounds: every timed call; the round that used the most
    memory over import gives the memory columns."""
    if old is None or "error" in old:
        return new
    if "error" in new:
        return old
    def extra(r: dict[str, Any]) -> float:
        return r.get("peak_mib", 0.0) - r.get("base_mib", 0.0)

    merged = dict(old if extra(old) >= extra(new) else new)  # the higher memory counts
    merged["seconds"] = list(old["seconds"]) + list(new["seconds"])
    return merged


def run(s: Settings, out: str | Path | None = H.RESULTS, plot_path: str | None = None
        ) -> list[Row]:
    libs = [lib for lib in LIBS if lib[0] == "fastconv" or torch is not None]
    progress = H.Progress(sum(TASKS[t][5] for t in s.tasks) * len(s.threads) * len(libs))
    rows = []
    for task in s.tasks:
        child_task, net, n, what, _, rounds = TASKS[task]
        for t in s.threads:
            row = Row(task, t)
            # Tasks run their processes in alternating rounds (fastconv, torch,
            # torch, fastconv, ...) and keep each one's best: the host's speed drifts over
            # minutes, and one process after the other made the ratio depend on the drift.
            for lib, layout in _rounds(libs, rounds):
                label = f"{task} {lib}{'' if lib == 'fastconv' else ' ' + layout} t={t}"
                progress.start(label, end="\n")
                cfg = {"task": child_task, "lib": lib, "layout": layout, "net": net, "n": n,
                       "warmup": s.warmup, "repeats": s.repeats, "budget": s.budget,
                       "label": label}
                r = H.run_child(cfg, t, timeout=s.timeout)
                row.res[(lib, layout)] = _merge(row.res.get((lib, layout)), r)
                progress.done(f"  -> failed: {r['error']}" if "error" in r else
                              f"  -> {what}: {H.fmt_time(min(r['seconds']))}, peak "
                              f"{r['peak_mib']:.0f} MiB")
            rows.append(row)
    if out is not None:
        H.write_section(out, "train-quick" if s.quick else "train", report(rows, s))
        print(f"results written to {out}", file=sys.stderr)
    if plot_path:
        plot(rows, plot_path)
    return rows


HEADERS = ["task", "thr", "fastconv", "how (fastconv)", "torch NCHW", "torch CL", "vs torch",
           "fastconv peak MiB (+over import)", "torch peak MiB (+over import)"]


def _cells(r: Row) -> list[str]:
    na = H.TORCH_NA

    def tcell(lib, lay):
        res = r.res.get((lib, lay), {})
        if "error" in res:
            return f"failed ({res['error']})"
        return H.fmt_time(r.secs(lib, lay))

    def mcell(lib, lay):
        res = r.res.get((lib, lay), {}) if lay else {}
        if "peak_mib" not in res:
            return "-"
        return f"{res['peak_mib']:.0f} (+{res['peak_mib'] - res['base_mib']:.0f})"

    best, _ = r.torch_best()
    fc = r.res.get(("fastconv", "nhwc"), {})
    return [f"{r.task} ({TASKS[r.task][3]})", str(r.threads), tcell("fastconv", "nhwc"),
            fc.get("how", "-"),
            tcell("torch", "nchw") if torch else na, tcell("torch", "cl") if torch else na,
            H.fmt_ratio(r.ratio) if torch else na, mcell("fastconv", "nhwc"),
            mcell("torch", best) if torch else na]


def targets(rows: Sequence[Row]) -> list[list[str]]:
    out = []
    for task, (_, _, _, what, bound, _) in TASKS.items():
        sel = [r for r in rows if r.task == task]
        if not sel:
            continue
        name = f"{task} ({what}) >= {bound}x torch"
        if torch is None:
            out.append(H.target_line(name, None, H.TORCH_NA))
        elif any(r.ratio is None for r in sel):
            out.append(H.target_line(name, None, "some runs failed"))
        else:
            worst = min(sel, key=lambda r: r.ratio)
            out.append(H.target_line(name, all(r.ratio >= bound for r in sel),
                                     f"min {worst.ratio:.2f}x (t={worst.threads})"))
    mem = []
    for r in rows:
        best, _ = r.torch_best()
        a, b = r.mem_extra("fastconv", "nhwc"), r.mem_extra("torch", best)
        if a is not None and b is not None:
            mem.append((a <= b, f"{r.task} t={r.threads}: {a:.0f} vs {b:.0f} MiB"))
    name = "training memory <= torch's (peak over import)"
    if torch is None:
        out.append(H.target_line(name, None, H.TORCH_NA))
    elif not mem:
        out.append(H.target_line(name, None, "no data"))
    else:
        out.append(H.target_line(name, all(ok for ok, _ in mem), "; ".join(d for _, d in mem)))
    return out


def report(rows: Sequence[Row], s: Settings) -> str:
    facts = H.machine_facts()
    facts["timing"] = (f"each configuration in a fresh process; min of up to {s.repeats} "
                       f"calls after {s.warmup} warm-up; LeNet-5 "
                       f"{TASKS['lenet5_epoch'][5]} and ResNet-50 "
                       f"{TASKS['resnet50_step'][5]} rounds of processes alternating fastconv "
                       "and torch (fastconv, torch NCHW, torch CL, then reversed), the best call "
                       "over all rounds counts; LeNet-5: batch 32, shuffled, every "
                       "training image of fastconv.data.load_digits(32) per epoch; ResNet-50: "
                       "one step on a fixed batch of 16 random 224x224 images; torch: "
                       "Adam(lr=1e-3, eps=1e-7), zero_grad / forward / cross-entropy / "
                       "backward / step, NCHW and channels_last, the faster counts")
    facts["memory"] = ("peak resident set (VmHWM) of the process; (+...) = peak minus the "
                       "resident set after importing the library (weights, gradients, "
                       "optimizer state, activations, workspaces)")
    title = "Training (issue 6)" + (" -- quick subset" if s.quick else "")
    return H.section(title, H.command_line(), facts, "### Targets\n",
                     H.md_table(["target", "measured", "verdict"], targets(rows)),
                     "### All measurements\n",
                     H.md_table(HEADERS, (_cells(r) for r in rows),
                                [False, True, True, False] + [True] * 5))


def plot(rows: Sequence[Row], path: str) -> None:
    if torch is None:
        print("--plot: nothing to plot without torch", file=sys.stderr)
        return
    tasks = list(dict.fromkeys(r.task for r in rows))
    series = {}
    for t in sorted({r.threads for r in rows}):
        look = {r.task: r.ratio for r in rows if r.threads == t}
        series[f"{t} thr"] = [look.get(k) for k in tasks]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if H.plot_bars(path, tasks, series, "fastconv training vs PyTorch CPU (time ratio)"):
        print(f"plot written to {path}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="LeNet-5 epoch only, 2 threads")
    ap.add_argument("--tasks", type=H.str_list, help="comma-separated: " + ", ".join(TASKS))
    ap.add_argument("--threads", type=H.int_list, help="thread counts (default 1,2)")
    ap.add_argument("--repeats", type=int)
    ap.add_argument("--timeout", type=float, help="seconds per configuration (default 1800)")
    ap.add_argument("--out", default=str(H.RESULTS))
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--plot", nargs="?", const="bench/out/train.png", default=None,
                    metavar="PNG")
    a = ap.parse_args(argv)
    tasks = a.tasks or (["lenet5_epoch"] if a.quick else list(TASKS))
    if set(tasks) - set(TASKS):
        ap.error(f"unknown tasks {sorted(set(tasks) - set(TASKS))}; choose from {list(TASKS)}")
    s = Settings(tasks, a.threads or ([2] if a.quick else [1, 2]), quick=a.quick)
    if a.quick:
        s.repeats, s.budget = 2, 10.0
    if a.repeats:
        s.repeats = a.repeats
    if a.timeout:
        s.timeout = a.timeout
    run(s, None if a.no_write else a.out, a.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
