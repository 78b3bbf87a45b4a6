"""The environment of the processes the tests start (mains, tools, the tiny trainer): CPU only, unbuffered output,
`devices` host CPU devices, no XLA flags of the test run's own."""

import os


def child_env(devices: int | None = None, **extra: str) -> dict[str, str]:
    """os.environ for a started process, with `devices` host CPU devices (XLA's default, one, if None)."""
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env.update({"JAX_PLATFORMS": "cpu", "PYTHONUNBUFFERED": "1"})
    if devices:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    env.update(extra)
    return env
