import concurrent.futures as cf

import numpy as np
import pytest

from fastconv.train import (
    Choice,
    History,
    IntUniform,
    LogUniform,
    OneMinusLogUniform,
    Uniform,
    random_search,
)


def quadratic(p):
    """Best at lr = 1e-2, beta = 0.99 (top-level: picklable for the process pool)."""
    return (np.log10(p["lr"]) + 2) ** 2 + (np.log10(1 - p["beta"]) + 2) ** 2


def test_learning_rate_is_sampled_on_the_log_scale():
    rng = np.random.default_rng(0)
    d = LogUniform(1e-4, 1.0)
    s = np.array([d.sample(rng) for _ in range(4000)])
    assert s.min() >= 1e-4 and s.max() <= 1.0
    # a quarter of the exponent range each: as many in [1e-4, 1e-3] as in [0.1, 1]
    counts = np.histogram(np.log10(s), bins=4, range=(-4, 0))[0]
    assert np.all(np.abs(counts / 4000 - 0.25) < 0.03)
    assert np.mean(s < 1e-2) == pytest.approx(0.5, abs=0.03)  # uniform would give ~1%


def test_beta_is_sampled_through_one_minus_beta():
    rng = np.random.default_rng(1)
    d = OneMinusLogUniform(0.9, 0.999)
    s = np.array([d.sample(rng) for _ in range(4000)])
    assert s.min() >= 0.9 and s.max() <= 0.999
    assert np.mean(s < 0.99) == pytest.approx(0.5, abs=0.03)  # 0.9..0.99 as likely as 0.99..0.999


def test_narrowing_stays_inside_and_on_scale():
    d = LogUniform(1e-4, 1.0).narrowed([1e-3, 1e-2], margin=0.0)
    assert d.lo == pytest.approx(1e-3) and d.hi == pytest.approx(1e-2)
    d = LogUniform(1e-4, 1.0).narrowed([1e-4], margin=0.5)
    assert d.lo == pytest.approx(1e-4) and d.hi == pytest.approx(1e-3)
    assert IntUniform(1, 10).narrowed([4, 5], margin=0.0).lo == 4
    assert Choice(["sgd", "adam"]).narrowed(["adam"]).options == ["adam"]
    assert isinstance(Uniform(0, 1).sample(np.random.default_rng(0)), float)


def test_coarse_to_fine_search_with_a_thread_pool():
    space = {"lr": LogUniform(1e-5, 1.0), "beta": OneMinusLogUniform(0.5, 0.9999)}
    with cf.ThreadPoolExecutor(2) as ex:
        res = random_search(quadratic, space, n_trials=12, rounds=3, top_k=3, executor=ex, seed=0)
    assert len(res.trials) == 36
    firsts = sorted(t["score"] for t in res.trials if t["round"] == 0)
    lasts = sorted(t["score"] for t in res.trials if t["round"] == 2)
    assert np.median(lasts) < np.median(firsts)  # later rounds sample near the best
    assert res.best["score"] < 0.3
    assert res.spaces[2]["lr"].hi - res.spaces[2]["lr"].lo < 1.0
    text = res.table(top=5)
    assert "lr" in text and len(text.splitlines()) == 6
    again = random_search(quadratic, space, n_trials=12, rounds=3, seed=0,
                          executor=cf.ThreadPoolExecutor(1))
    assert [t["score"] for t in again.trials] == [t["score"] for t in res.trials]


def test_default_process_pool_and_failed_trials(tmp_path):
    res = random_search(quadratic, {"lr": LogUniform(1e-3, 1e-1), "beta": Uniform(0.9, 0.99)},
                        n_trials=2, seed=0)
    assert len(res.trials) == 2 and all(np.isfinite(t["score"]) for t in res.trials)
    res = random_search(lambda p: 1 / 0, {"x": Uniform(0, 1)}, n_trials=2,
                        executor=cf.ThreadPoolExecutor(1))
    assert all(np.isnan(t["score"]) and "ZeroDivision" in t["error"] for t in res.trials)
    with pytest.raises(RuntimeError, match="finite"):
        _ = res.best


def test_plots(tmp_path):
    pytest.importorskip("matplotlib")
    h = History()
    for e in range(3):
        h.append(e, {"loss": 1.0 / (e + 1), "accuracy": 0.5 + 0.1 * e, "val_loss": 1.1, "lr": 0.1})
    h.plot(tmp_path / "curves.png")
    assert (tmp_path / "curves.png").stat().st_size > 1000
    res = random_search(quadratic, {"lr": LogUniform(1e-4, 1), "beta": OneMinusLogUniform(0.9,
                        0.999)}, n_trials=4, rounds=2, executor=cf.ThreadPoolExecutor(1))
    res.plot(tmp_path / "search.png")
    assert (tmp_path / "search.png").stat().st_size > 1000
