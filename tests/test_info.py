import io
import os
import subprocess
import sys

import pytest

import fastconv as fc


def test_info_prints_facts():
    buf = io.StringIO()
    fc.info(file=buf)
    text = buf.getvalue()
    for key in ("version", "isa", "cpu_features", "num_threads", "cuda_built", "conv2d"):
        assert key in text
    d = fc.info_dict()
    assert d["isa"] in d["supported_isas"]
    assert d["ops"]["conv2d"] == "cpu"


def test_cli_info_and_forced_isa(tmp_path):
    # run outside the source tree so the installed package (with _C) is imported
    env = dict(os.environ, FASTCONV_ISA="generic")
    out = subprocess.run([sys.executable, "-m", "fastconv", "--info"], env=env,
                         cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    isa_line = [ln for ln in out.splitlines() if ln.startswith("isa ")]
    assert isa_line and isa_line[0].split()[-1] == "generic"
    code = "import fastconv; print(fastconv.get_isa())"
    got = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path,
                         capture_output=True, text=True,
                         check=True).stdout.strip().splitlines()[-1]
    assert got == "generic"


def test_threads_roundtrip():
    fc.set_num_threads(1)
    assert fc.get_num_threads() == 1


def test_serial_conv_macs_hook_roundtrip_and_checks():
    # The tests' hook over kSerialConvMacs (conftest sets 1e6 for the whole session).
    old = fc._C._serial_conv_macs()
    try:
        fc._C._set_serial_conv_macs(2.0 ** 23)
        assert fc._C._serial_conv_macs() == 2.0 ** 23
        with pytest.raises(ValueError):
            fc._C._set_serial_conv_macs(-1.0)
    finally:
        fc._C._set_serial_conv_macs(old)
