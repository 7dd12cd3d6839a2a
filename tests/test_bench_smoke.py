"""The benchmark harness must not rot: one tiny configuration of each bench script, fast, and
the FMA probe returns a number. No timing assertions (speed is proven in bench/, not here)."""

import math
import os
import sys
import time

import pytest

import fastconv

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))  # `import bench`

from bench import conv, harness, ops  # noqa: E402

PROBES = ["fma_peak_gflops", "fma_sustained_gflops"]


@pytest.mark.parametrize("probe", PROBES)
@pytest.mark.parametrize("threads", [1, 2])
def test_fma_probe_positive(probe, threads):
    g = getattr(fastconv._C, probe)(threads, 0.01)
    assert math.isfinite(g) and g > 0


@pytest.mark.parametrize("probe", PROBES)
def test_fma_probe_rejects_bad_arguments(probe):
    with pytest.raises(ValueError):
        getattr(fastconv._C, probe)(0)
    with pytest.raises(ValueError):
        getattr(fastconv._C, probe)(1, 0.0)


def test_write_section_replaces_only_its_own(tmp_path):
    p = tmp_path / "R.md"
    harness.write_section(p, "a", "first")
    harness.write_section(p, "b", "other")
    harness.write_section(p, "a", "second")
    text = p.read_text()
    assert "second" in text and "first" not in text and "other" in text
    assert text.count("<!-- a:begin -->") == 1


def test_measure_interleaved_round_robin_with_rotating_order():
    calls: list[str] = []
    fns = {k: (lambda k=k: calls.append(k)) for k in "abc"}
    ts = harness.measure_interleaved(fns, warmup=1, repeats=3)
    assert calls == list("abc") + list("abc") + list("bca") + list("cab")
    assert all(len(t.times) == 3 and t.min >= 0 for t in ts.values())


def test_short_calls_repeat_until_min_seconds(monkeypatch):
    monkeypatch.setattr(harness, "MAX_REPEATS", 40)
    t = harness.measure(lambda: time.sleep(0.001), warmup=0, repeats=3, min_seconds=0.01)
    assert t.repeats >= 3 and (sum(t.times) >= 0.01 or t.repeats == 40)
    if t.repeats > 3:  # stopped at the first call past min_seconds
        assert sum(t.times[:-1]) < 0.01
    assert harness.measure(lambda: None, warmup=0, repeats=3, min_seconds=1.0).repeats == 40
    assert harness.measure(lambda: None, warmup=0, repeats=3).repeats == 3
    ts = harness.measure_interleaved({"a": lambda: time.sleep(0.001), "b": lambda: None},
                                     warmup=0, repeats=2, min_seconds=0.004)
    a, b = ts["a"], ts["b"]
    assert a.repeats == b.repeats >= 2
    assert (sum(a.times) + sum(b.times)) / 2 >= 0.004 or a.repeats == 40


def test_conv_bench_tiny(tmp_path):
    layer = conv.Layer("tiny", 3, 8, 8, 4, 3, 3, 1, 1, ("3x3",))
    s = conv.Settings(layers=[layer], batches=[1], threads=[1], repeats=1, warmup=0,
                      budget=0.1, ref_limit=1.0, fma_seconds=0.01)
    out = tmp_path / "RESULTS.md"
    rows = conv.run(s, out)
    assert {r.pas for r in rows} == {"fwd", "bwd"}
    main = [r for r in rows if r.algo.startswith("auto")]
    assert len(main) == 2 and all(r.fc is not None and r.fc > 0 for r in main)
    assert all(r.fc is not None or r.fc_note for r in rows)  # a variant: timed or says why
    text = out.read_text()
    assert "<!-- conv:begin -->" in text and "tiny" in text and "OPENBLAS_CORETYPE" in text
    if harness.torch is None:
        assert harness.TORCH_NA in text
    else:
        fwd = next(r for r in rows if r.pas == "fwd")
        assert fwd.err is not None and fwd.err < 1e-4


def test_conv_peak_rows_carry_the_probe_of_their_own_rounds(tmp_path):
    layer = conv.Layer("tiny1x1", 8, 4, 4, 16, 1, 1, 1, 0, ("1x1",))
    s = conv.Settings(layers=[layer], batches=[16], threads=[1], repeats=2, warmup=0,
                      budget=0.1, ref_limit=1.0, fma_seconds=0.01,
                      variants=["auto", "direct", "naive"])
    rows = conv.run(s, tmp_path / "RESULTS.md")
    direct = next(r for r in rows if r.algo == "direct")
    assert conv._judged_for_peak(direct) and direct.peak_rounds and direct.peak_rounds > 0
    assert direct.pct_peak_rounds == pytest.approx(
        100 * direct.gf(direct.fc) / direct.peak_rounds)
    naive = next(r for r in rows if r.algo == "naive")
    assert not conv._judged_for_peak(naive) and naive.peak_rounds is None
    assert "probe same rounds" in (tmp_path / "RESULTS.md").read_text()


def test_ops_bench_tiny(tmp_path, monkeypatch):
    monkeypatch.setattr(ops, "ACT_X", (2, 4, 4, 8))
    case = ops._relu()
    s = ops.Settings([case], [1], repeats=1, warmup=0, budget=0.1)
    rows = ops.run(s, tmp_path / "RESULTS.md")
    assert len(rows) == 1 and rows[0].copy_gbps > 0
    assert "<!-- ops:begin -->" in (tmp_path / "RESULTS.md").read_text()


def test_nets_and_train_reports_from_child_results():
    from bench import nets, train

    ok = {"seconds": [0.5, 0.4], "params": 10, "base_mib": 100.0, "peak_mib": 150.0}
    row = nets.Row("resnet50", 16, 2, {("fastconv", "nhwc"): ok,
                                        ("torch", "nchw"): dict(ok, seconds=[0.6]),
                                        ("torch", "cl"): {"error": "child exited with 1"}})
    text = nets.report([row], nets.Settings(["resnet50"], [16], [2]))
    assert "resnet50" in text and "40.00" in text  # 16 images / 0.4 s
    if harness.torch is not None:
        assert row.ratio == pytest.approx(1.5)
    trow = train.Row("lenet5_epoch", 2, {("fastconv", "nhwc"): dict(ok, how="fit"),
                                         ("torch", "nchw"): ok, ("torch", "cl"): ok})
    text = train.report([trow], train.Settings(["lenet5_epoch"], [2]))
    assert "lenet5_epoch" in text and "memory" in text


def test_child_runs_a_torch_free_fastconv_config_or_reports_failure():
    """The child protocol: JSON back, or an error entry (never an exception in the parent)."""
    r = harness.run_child({"task": "infer", "lib": "fastconv", "layout": "nhwc",
                           "net": "no_such_net", "n": 1, "warmup": 0, "repeats": 1,
                           "budget": 0.1, "label": "smoke"}, 1, timeout=60)
    assert "error" in r


def test_forward_variants_read_from_the_op_table(monkeypatch):
    def conv2d_with_algo(x, w, b=None, *, algo="auto", **kw):  # only its signature is read
        raise AssertionError("not called")

    monkeypatch.setattr(fastconv.OPS["conv2d"], "variants", lambda: ["direct", "winograd"],
                        raising=False)
    monkeypatch.setattr(fastconv, "conv2d", conv2d_with_algo)
    assert conv.forward_variants() == ["auto", "direct", "winograd"]
    monkeypatch.setattr(fastconv.OPS["conv2d"], "variants", None, raising=False)
    assert conv.forward_variants() == ["auto"]


def test_train_rounds_alternate_and_merge_keeps_every_call():
    from bench import train
    libs = [("fastconv", "nhwc"), ("torch", "nchw")]
    assert train._rounds(libs, 3) == libs + libs[::-1] + libs
    a = {"seconds": [2.0], "peak_mib": 50.0, "base_mib": 10.0}
    b = {"seconds": [1.0], "peak_mib": 45.0, "base_mib": 2.0}
    m = train._merge(a, b)
    assert m["seconds"] == [2.0, 1.0] and (m["peak_mib"], m["base_mib"]) == (45.0, 2.0)
    assert train._merge(None, a) is a and train._merge(a, {"error": "x"}) is a


def test_conv_target_rows_are_measured_again(tmp_path):
    tiny = conv.Layer("tiny5x5", 4, 6, 6, 8, 5, 5, 1, 2, ("tiny",))
    one = conv.Layer("tiny1x1", 8, 4, 4, 16, 1, 1, 1, 0, ("1x1",))
    s = conv.Settings(layers=[tiny, one], batches=[1, 16], threads=[1], repeats=1, warmup=0,
                      budget=0.05, min_seconds=0.0, ref_limit=0.5, fma_seconds=0.01,
                      variants=["auto", "direct"], rechecks=2)
    rows = conv.run(s, tmp_path / "RESULTS.md")
    for r in rows:
        judged = conv._judged_small(r) or conv._judged_for_peak(r)
        assert len(r.rechecks) == (2 if judged and r.fc is not None else 0), r
    small = [r for r in rows if conv._judged_small(r)]
    assert {r.pas for r in small} == {"fwd", "bwd"}
    peak = next(r for r in rows if conv._judged_for_peak(r))
    assert len(peak.pcts) == 3 and all(p > 0 for p in peak.pcts)
    if harness.torch is not None:
        assert all(len(r.ratios) == 3 for r in small)
    text = (tmp_path / "RESULTS.md").read_text()
    assert "measured again after every configuration" in text
