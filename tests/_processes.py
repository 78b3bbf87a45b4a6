"""The environment of the processes the tests start (mains, tools, the tiny trainer) and the run's XLA flags.

The tests keep XLA's default CPU convolutions (SCORESDE_CPU_CONVOLUTIONS=xla, set by conftest and inherited
by every started process), so a test's own computation and a main it starts compile alike.
"""

import os


def xla_flags(devices: int | None = None) -> str:
    """XLA flags for `devices` host CPU devices ('' for XLA's default, one)."""
    return f"--xla_force_host_platform_device_count={devices}" if devices else ""


def child_env(devices: int | None = None, **extra: str) -> dict[str, str]:
    """os.environ for a started process: CPU only, unbuffered output, `devices` host CPU devices."""
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env.update({"JAX_PLATFORMS": "cpu", "PYTHONUNBUFFERED": "1", "XLA_FLAGS": xla_flags(devices)})
    env.update(extra)
    return env
