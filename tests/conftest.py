"""Test setup: 8 host CPU devices (flags from tests/_processes.py); jaxtyping + beartype shape
checks on scoresde; no compilation cache.

These must happen before jax or scoresde is imported anywhere, so this file does them first.
"""

import os

from tests._processes import xla_flags  # noqa: E402  (standard library only)

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + xla_flags(devices=8)).strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# No persistent compilation cache: the mains the tests run (in process or not) never write to a user cache.
os.environ["SCORESDE_CACHE"] = "off"
# XLA's default CPU convolutions, not the mains' XNNPACK ones (scoresde.project.CONVOLUTION_FLAGS): the tests'
# tiny convolutions gain nothing from them (suite 870 s with, 834 s without, one run each).
os.environ["SCORESDE_CPU_CONVOLUTIONS"] = "xla"

from jaxtyping import install_import_hook  # noqa: E402

import tests._typecheck  # noqa: E402, F401  (the checker the hook below names)

with install_import_hook("scoresde", "tests._typecheck.beartype_tower"):
    import scoresde  # noqa: E402, F401

import jax  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def key():
    return jax.random.key(0)


def pytest_collection_modifyitems(config, items):
    """Tests marked slow first (collection order otherwise): under xdist a long test that starts late leaves the
    other workers idle at the end of the run."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
