"""Shared benchmark machinery: timing, machine probes, torch side-by-side, Markdown output.

Every benchmark script (conv.py, ops.py, nets.py, train.py) measures fastconv, the NumPy
reference and PyTorch CPU (when installed) in ONE run, next to the machine's FP32 FMA peak
and copy bandwidth measured in the same run, and replaces its own section of
bench/RESULTS.md. Timings: warm-up calls, then repeats; min and median of
``time.perf_counter``; the min is what the GFLOP/s, GB/s and ratios use (this machine is
shared, so the min is the least noisy estimate of what the code can do).
"""

from __future__ import annotations

import datetime as _dt
import gc
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import fastconv

try:  # optional: the torch columns say TORCH_NA without it
    import torch
except ImportError:  # pragma: no cover - depends on the environment
    torch = None  # type: ignore[assignment]

TORCH_NA = "n/a (torch not installed)"
BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "RESULTS.md"
RESULTS_HEADER = (
    "# fastconv benchmark results\n\n"
    "Written by the scripts in bench/ (see bench/README.md); do not edit the sections by "
    "hand: each script replaces its own section between its markers. Ratios are "
    "torch time / fastconv time (> 1: fastconv is faster).\n")


def have_torch() -> bool:
    return torch is not None


# ---------------------------------------------------------------------------- timing

@dataclass
class Timing:
    """Seconds per call of the timed repeats."""

    times: list[float] = field(default_factory=list)

    @property
    def min(self) -> float:
        return min(self.times)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def repeats(self) -> int:
        return len(self.times)


#: Short calls repeat past `repeats` until their timed calls add up to `min_seconds`, at most
#: this many times: a min of 5 calls of 100 us says more about the host's load at that moment
#: than about the code (timeit's autorange does the same).
MAX_REPEATS = 200


def _more_rounds(k: int, repeats: int, spent_each: float, min_seconds: float) -> bool:
    return k < max(1, repeats) or (spent_each < min_seconds and k < MAX_REPEATS)


def measure(fn: Callable[[], Any], *, warmup: int = 1, repeats: int = 5,
            budget: float | None = None, min_seconds: float = 0.0) -> Timing:
    """Time `fn()`: `warmup` untimed calls, then up to `repeats` timed ones.

    `budget` (seconds): stop repeating once the timed calls have taken that long (at least
    one timed call always runs), so slow configurations do not dominate a run.
    `min_seconds`: short calls keep repeating (up to MAX_REPEATS) until the timed calls
    have taken that long.
    """
    for _ in range(warmup):
        fn()
    t = Timing()
    spent = 0.0
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()  # like timeit: no cycle collection inside a timed call
    try:
        k = 0
        while _more_rounds(k, repeats, spent, min_seconds):
            t0 = time.perf_counter()
            fn()
            dt = time.perf_counter() - t0
            t.times.append(dt)
            spent += dt
            k += 1
            if budget is not None and spent >= budget:
                break
    finally:
        if was_enabled:
            gc.enable()
    return t


def measure_interleaved(fns: dict[str, Callable[[], Any]], *, warmup: int = 1,
                        repeats: int = 5, budget: float | None = None,
                        min_seconds: float = 0.0) -> dict[str, Timing]:
    """Time several functions round-robin: one call of each per round, `repeats` rounds.

    On a shared host the speed drifts over seconds; taking each function's repeats in the
    same rounds lets them all see the same conditions, so their ratio is fair. The order
    rotates each round. `budget` bounds the timed seconds per function, as in `measure`;
    `min_seconds` adds rounds (up to MAX_REPEATS) while the functions' timed calls average
    less than that.
    """
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name]()
    out = {name: Timing() for name in names}
    spent = 0.0
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        k = 0
        while _more_rounds(k, repeats, spent / len(names), min_seconds):
            order = names[k % len(names):] + names[:k % len(names)]
            for name in order:
                t0 = time.perf_counter()
                fns[name]()
                dt = time.perf_counter() - t0
                out[name].times.append(dt)
                spent += dt
            k += 1
            if budget is not None and spent >= budget * len(names):
                break
    finally:
        if was_enabled:
            gc.enable()
    return out


def gflops(flops: float, seconds: float) -> float:
    return flops / seconds * 1e-9


def gbps(nbytes: float, seconds: float) -> float:
    return nbytes / seconds * 1e-9


def geomean(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None and v > 0 and math.isfinite(v)]
    if not vals:
        return None
    return math.exp(sum(math.log(v) for v in vals) / len(vals))


# ---------------------------------------------------------------------------- threads

class _OpenBLAS:
    """NumPy's OpenBLAS, reached through ctypes: which kernel it runs, and its threads.

    Finds the library NumPy loaded (in /proc/self/maps) and its exported symbols under any
    of the usual prefixes (plain, scipy_ with 64_ suffixes); absent pieces give None.
    """

    def __init__(self) -> None:
        self.lib, self.path, self._sym = None, None, {}
        try:
            import ctypes

            maps = Path("/proc/self/maps").read_text().splitlines()
            paths = [ln.split()[-1] for ln in maps if "openblas" in ln.lower() and "/" in ln]
            if not paths:
                return
            self.path = paths[0]
            self.lib = ctypes.CDLL(self.path)
        except (OSError, IndexError):
            return
        import ctypes

        for what, restype, argtypes in (("get_corename", ctypes.c_char_p, []),
                                        ("get_config", ctypes.c_char_p, []),
                                        ("get_num_threads", ctypes.c_int, []),
                                        ("set_num_threads", None, [ctypes.c_int])):
            for name in (f"openblas_{what}", f"openblas_{what}64_",
                         f"scipy_openblas_{what}64_"):
                fn = getattr(self.lib, name, None)
                if fn is not None:
                    fn.restype, fn.argtypes = restype, argtypes
                    self._sym[what] = fn
                    break

    def _call(self, what: str, *args: Any) -> Any:
        fn = self._sym.get(what)
        if fn is None:
            return None
        out = fn(*args)
        return out.decode() if isinstance(out, bytes) else out

    def corename(self) -> str | None:
        return self._call("get_corename")

    def config(self) -> str | None:
        return self._call("get_config")

    def num_threads(self) -> int | None:
        return self._call("get_num_threads")

    def set_num_threads(self, n: int) -> bool:
        return "set_num_threads" in self._sym and self._call("set_num_threads", n) is None


OPENBLAS = _OpenBLAS()


def set_threads(n: int) -> None:
    """The same thread count for fastconv, torch and NumPy's OpenBLAS (the reference)."""
    fastconv.set_num_threads(n)
    if torch is not None:
        torch.set_num_threads(n)
    OPENBLAS.set_num_threads(n)


def blas_facts() -> str:
    """Which OpenBLAS kernel NumPy runs (OPENBLAS_CORETYPE forces one) and its threads."""
    core = OPENBLAS.corename()
    if core is None:
        return "OpenBLAS not found in this process (NumPy uses another BLAS)"
    ctl = ("set per row like fastconv's" if "set_num_threads" in OPENBLAS._sym
           else f"{OPENBLAS.num_threads()} (fixed)")
    return f"kernel {core}; {OPENBLAS.config()}; threads {ctl}"


# ---------------------------------------------------------------------------- probes

class Machine:
    """The machine's limits, measured in this run and cached per thread count."""

    def __init__(self, fma_seconds: float = 0.2):
        self.fma_seconds = fma_seconds
        self._fma: dict[int, float] = {}
        self._copy: dict[tuple[int, int], float] = {}
        self._pools: dict[int, ThreadPoolExecutor] = {}

    def fma_peak(self, threads: int) -> float:
        """FP32 FMA peak in GFLOP/s of the active ISA on `threads` threads."""
        if threads not in self._fma:
            self._fma[threads] = float(fastconv._C.fma_peak_gflops(threads, self.fma_seconds))
        return self._fma[threads]

    def refresh_fma(self) -> None:
        """Measure every probed thread count again and keep the higher value: on a shared
        machine one probe can land in a busy moment and make every % of peak look too good."""
        for t in list(self._fma):
            self._fma[t] = max(self._fma[t],
                               float(fastconv._C.fma_peak_gflops(t, self.fma_seconds)))

    def copy_bandwidth(self, nbytes: int, threads: int) -> float:
        """GB/s (bytes read + written) of np.copyto into a preallocated buffer of `nbytes`.

        With several threads the buffer is split into one contiguous chunk per thread (NumPy
        releases the GIL while copying), so the number is comparable to a threaded kernel.
        """
        key = (int(nbytes), int(threads))
        if key not in self._copy:
            n = max(1, int(nbytes) // 4)
            src = np.ones(n, np.float32)
            dst = np.empty_like(src)
            bounds = np.linspace(0, n, threads + 1).astype(int)
            parts = [(dst[a:b], src[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
            if threads == 1:
                def run() -> None:
                    np.copyto(dst, src)
            else:
                pool = self._pools.setdefault(threads, ThreadPoolExecutor(threads))

                def run() -> None:
                    list(pool.map(lambda p: np.copyto(*p), parts))
            t = measure(run, warmup=2, repeats=10, budget=0.5)
            self._copy[key] = gbps(2 * n * 4, t.min)
        return self._copy[key]

    def refresh_copy(self) -> None:
        """Measure every probed copy size again and keep the higher bandwidth (as FMA)."""
        old = dict(self._copy)
        self._copy.clear()
        for (nbytes, threads), v in old.items():
            self._copy[(nbytes, threads)] = max(v, self.copy_bandwidth(nbytes, threads))

    def facts(self) -> dict[str, str]:
        out = {f"FMA peak, {t} thread{'s' * (t > 1)}": f"{v:.0f} GFLOP/s"
               for t, v in sorted(self._fma.items())}
        for (nb, t), v in sorted(self._copy.items()):
            out[f"copy bandwidth, {nb / 1e6:.0f} MB, {t} thread{'s' * (t > 1)}"] = f"{v:.1f} GB/s"
        return out

    def close(self) -> None:
        for pool in self._pools.values():
            pool.shutdown()
        self._pools.clear()


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_facts(machine: Machine | None = None) -> dict[str, str]:
    """What a reader needs to judge the numbers: versions, ISA, BLAS kernel, load, date."""
    info = fastconv.info_dict()
    facts = {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{cpu_model()}, {os.cpu_count()} logical CPUs, features "
               f"{' '.join(info['cpu_features'])}",
        "load average (1 min, at write time)": f"{os.getloadavg()[0]:.2f}",
        "fastconv": f"{info['version']}, isa {info['isa']} (best {info['best_isa']}), "
                    f"compiler {info['compiler']}",
        "python / numpy": f"{info['python']} / {np.__version__}",
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "unset (OpenBLAS autodetect)"),
        "NumPy's OpenBLAS (the reference's BLAS)": blas_facts(),
        "torch": torch_version(),
        "fastconv ops on the NumPy fallback (no C++ kernel in this build)":
            ", ".join(k for k, v in info["ops"].items() if v != "cpu") or "none",
    }
    if machine is not None:
        facts.update(machine.facts())
    return facts


def torch_version() -> str:
    if torch is None:
        return TORCH_NA
    mkldnn = torch.backends.mkldnn.is_available()
    return f"{torch.__version__} (intra-op threads set per row; oneDNN available: {mkldnn})"


# ---------------------------------------------------------------------------- torch helpers

def torch_nchw(x_nhwc: np.ndarray) -> Any:
    """A contiguous NCHW torch tensor holding a copy of the NHWC array."""
    return torch.from_numpy(np.ascontiguousarray(x_nhwc.transpose(0, 3, 1, 2)))


def torch_channels_last(x_nhwc: np.ndarray) -> Any:
    """An NCHW-shaped torch tensor in channels_last memory (the NHWC bytes, copied)."""
    return torch.from_numpy(np.ascontiguousarray(x_nhwc)).permute(0, 3, 1, 2)


def torch_oihw(w_hwio: np.ndarray, channels_last: bool = False) -> Any:
    t = torch.from_numpy(np.ascontiguousarray(w_hwio.transpose(3, 2, 0, 1)))
    return t.contiguous(memory_format=torch.channels_last) if channels_last else t


def best_of(named: dict[str, float | None]) -> tuple[str | None, float | None]:
    """(name, seconds) of the fastest entry that ran."""
    ok = {k: v for k, v in named.items() if v is not None}
    if not ok:
        return None, None
    k = min(ok, key=ok.__getitem__)
    return k, ok[k]


# ---------------------------------------------------------------------------- progress

class Progress:
    """One line per measurement on stderr: '[  3/40] label ... result'."""

    def __init__(self, total: int, stream=None):
        self.total, self.i = total, 0
        self.stream = stream or sys.stderr
        self.t0 = time.perf_counter()

    def start(self, label: str, end: str = " ... ") -> None:
        """end='\n' when the measurement prints lines of its own (child processes)."""
        self.i += 1
        w = len(str(self.total))
        self.stream.write(f"[{self.i:{w}d}/{self.total}] {label}{end}")
        self.stream.flush()

    def done(self, result: str) -> None:
        self.stream.write(f"{result}  ({time.perf_counter() - self.t0:.0f} s)\n")
        self.stream.flush()

    def note(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()


# ---------------------------------------------------------------------------- formatting

def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} us"
    if seconds < 1.0:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def fmt_num(v: float | None, digits: int = 1) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def fmt_ratio(r: float | None) -> str:
    return "-" if r is None else f"{r:.2f}x"


def md_table(headers: Sequence[str], rows: Iterable[Sequence[Any]],
             right: Sequence[bool] | None = None) -> str:
    """A Markdown table; `right[i]` right-aligns column i (numbers)."""
    right = list(right) if right is not None else [False] * len(headers)
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join("---:" if r else "---" for r in right) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(c) for c in row) + " |")
    return "\n".join(lines) + "\n"


def md_facts(facts: dict[str, str]) -> str:
    return "".join(f"- {k}: {v}\n" for k, v in facts.items())


def target_line(name: str, ok: bool | None, detail: str) -> list[str]:
    verdict = "n/a" if ok is None else ("**met**" if ok else "**not met**")
    return [name, detail, verdict]


def write_section(path: Path | str, name: str, body: str) -> None:
    """Replace the text between <!-- name:begin --> and <!-- name:end --> (append if new)."""
    path = Path(path)
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    block = f"{begin}\n{body.rstrip()}\n{end}\n"
    text = path.read_text() if path.exists() else RESULTS_HEADER
    pat = re.compile(re.escape(begin) + r".*?" + re.escape(end) + r"\n?", re.S)
    if pat.search(text):
        text = pat.sub(lambda _m: block, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + block
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def section(title: str, command: str, facts: dict[str, str], *blocks: str) -> str:
    """A results section: title, the command that produced it, machine facts, tables."""
    parts = [f"## {title}\n", f"`{command}`\n", md_facts(facts)]
    parts += [b for b in blocks if b]
    return "\n".join(parts)


def command_line() -> str:
    argv = [Path(sys.argv[0]).as_posix()] + sys.argv[1:]
    try:
        argv[0] = str(Path(argv[0]).resolve().relative_to(BENCH_DIR.parent))
    except ValueError:
        pass
    return "python " + " ".join(argv)


# ---------------------------------------------------------------------------- plot

def plot_bars(path: Path | str, labels: Sequence[str], series: dict[str, Sequence[float | None]],
              title: str, ylabel: str = "speed-up over torch (x)",
              line: float | None = 1.0) -> bool:
    """Grouped bar chart PNG (matplotlib optional); returns False if matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("--plot: matplotlib is not installed (pip install matplotlib)", file=sys.stderr)
        return False
    n = max(1, len(series))
    width = 0.8 / n
    fig, ax = plt.subplots(figsize=(min(16.0, max(6.0, 0.3 * len(labels) * n + 2)), 5.0))
    xs = np.arange(len(labels))
    for i, (name, vals) in enumerate(series.items()):
        ax.bar(xs + (i - (n - 1) / 2) * width, [v or 0.0 for v in vals], width, label=name)
    if line is not None:
        ax.axhline(line, color="k", lw=0.8, ls="--")
    ax.set_xticks(xs)
    ax.set_xticklabels(labels, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


# ---------------------------------------------------------------------------- memory

def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM; ru_maxrss where /proc is missing)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mib() -> float:
    """Current resident memory (VmRSS)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def run_child(cfg: dict[str, Any], threads: int, timeout: float | None = None
              ) -> dict[str, Any]:
    """Run one configuration in a fresh process (bench/_child.py: its own peak memory) with
    every thread pool sized `threads`; returns its JSON result or {"error": ...}. The child's
    progress (stderr) passes through."""
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    argv = [sys.executable, str(BENCH_DIR / "_child.py"), json.dumps(dict(cfg, threads=threads))]
    try:
        proc = subprocess.run(argv, stdout=subprocess.PIPE, text=True, timeout=timeout,
                              cwd=BENCH_DIR.parent, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout:.0f} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    if proc.returncode != 0 or not lines:
        return {"error": f"child exited with {proc.returncode}"}
    try:
        return json.loads(lines[-1])
    except json.JSONDecodeError:
        return {"error": "no JSON result"}


# ---------------------------------------------------------------------------- cli helpers

def int_list(text: str) -> list[int]:
    """'1,2' -> [1, 2] (argparse type)."""
    try:
        vals = [int(v) for v in text.split(",") if v.strip()]
    except ValueError as e:
        raise ValueError(f"expected comma-separated integers, got {text!r}") from e
    if not vals or min(vals) < 1:
        raise ValueError(f"expected positive integers, got {text!r}")
    return vals


def str_list(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]
