"""Shared helpers for the NCSN project tests: tiny configs, in-process runs, CLI runs."""

import os
import subprocess
import sys

import jax

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from configs import toy2d  # noqa: E402


def tiny_toy_config(**overrides):
    c = toy2d.get_config()
    c.model.width = 32
    c.model.depth = 2
    c.training.batch_size = 64
    c.training.n_steps = 40
    c.training.log_every = 10
    c.training.checkpoint_every = 20
    c.training.snapshot_every = 0
    c.data.n_train = 2000
    c.data.n_test = 500
    c.sampling.pc.n_steps = 50
    c.sampling.n_samples = 200
    c.sampling.batch_size = 200
    c.eval.n_samples = 200
    for k, v in overrides.items():
        node = c
        *path, last = k.split(".")
        for p in path:
            node = node[p]
        node[last] = v
    return c


def mesh_of(n_devices: int, fsdp: int = 1):
    from scoresde import parallel

    return parallel.make_mesh(fsdp=fsdp, devices=jax.devices()[:n_devices])


def run_cli(args, *, env_extra=None, timeout=600, **popen):
    """Run projects/ncsn/main.py in a fresh process (1 CPU device unless XLA_FLAGS says otherwise)."""
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env.update({"JAX_PLATFORMS": "cpu", "PYTHONUNBUFFERED": "1"})
    env.update(env_extra or {})
    cmd = [sys.executable, os.path.join(ROOT, "projects", "ncsn", "main.py"), *args]
    return subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout, **popen)


def cli_popen(args, *, env_extra=None):
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env.update({"JAX_PLATFORMS": "cpu", "PYTHONUNBUFFERED": "1"})
    env.update(env_extra or {})
    cmd = [sys.executable, os.path.join(ROOT, "projects", "ncsn", "main.py"), *args]
    return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def toy_cli_args(workdir, *extra):
    """CLI flags equivalent to tiny_toy_config()."""
    return [
        "--config=configs/toy2d.py",
        f"--workdir={workdir}",
        "--config.model.width=32",
        "--config.model.depth=2",
        "--config.training.batch_size=64",
        "--config.training.log_every=10",
        "--config.training.snapshot_every=0",
        "--config.data.n_train=2000",
        "--config.data.n_test=500",
        *extra,
    ]
