import importlib.util
import json

import pytest

from fastconv.__main__ import main


def test_info_still_works(capsys):
    assert main(["--info"]) == 0
    assert "version" in capsys.readouterr().out


def test_train_rejects_bad_arguments():
    with pytest.raises(SystemExit):
        main(["train", "alexnet"])
    with pytest.raises(SystemExit):
        main(["train", "lenet5", "--epochs", "0"])


def test_train_lenet5_one_epoch(tmp_path, capsys):
    if importlib.util.find_spec("sklearn") is None:
        pytest.skip("scikit-learn not installed")
    pytest.importorskip("fastconv.nn")
    pytest.importorskip("fastconv.models")
    assert main(["train", "lenet5", "--epochs", "2", "--limit", "320", "--quiet",
                 "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "test accuracy" in out
    report = json.loads((tmp_path / "lenet5_report.json").read_text())
    assert report["test_accuracy"] > 0.3  # far above chance after 20 steps on 320 images
    assert (tmp_path / "lenet5_digits.npz").exists()
