import os
import sys

import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, os.path.dirname(__file__))  # `import strategies` from any test file

settings.register_profile(
    "ci", max_examples=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile(
    "dev", max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "thorough", max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(params=None)
def rng():
    import numpy as np

    return np.random.default_rng(1234)


def pytest_generate_tests(metafunc):
    # Any test with an `isa` argument runs once per ISA this machine supports.
    if "isa" in metafunc.fixturenames:
        import fastconv

        metafunc.parametrize("isa", fastconv.supported_isas())


@pytest.fixture(autouse=True)
def _restore_runtime():
    import fastconv

    isa, threads, backend = fastconv.get_isa(), fastconv.get_num_threads(), fastconv.get_backend()
    yield
    fastconv.set_isa(isa)
    fastconv.set_num_threads(threads)
    fastconv.set_backend(backend)


@pytest.fixture(autouse=True, scope="session")
def _conv_threads_from_1e6_macs():
    # The thread-count tests size their convolutions (>= 1e6 multiply-adds) for the kernels to
    # use several threads; the library keeps layers below kSerialConvMacs (2^23) on one.
    from fastconv import _C

    old = _C._serial_conv_macs()
    _C._set_serial_conv_macs(1e6)
    yield
    _C._set_serial_conv_macs(old)
