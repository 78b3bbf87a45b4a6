"""Shared helpers for the NCSN project tests: tiny configs, in-process runs, CLI runs."""

import os
import subprocess
import sys

import jax

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from configs import toy2d  # noqa: E402
from tests._processes import child_env  # noqa: E402


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


def run_cli(args, *, devices=None, timeout=600, **popen):
    """Run projects/ncsn/main.py in a fresh process on `devices` CPU devices (default 1)."""
    cmd = [sys.executable, os.path.join(ROOT, "projects", "ncsn", "main.py"), *args]
    env = child_env(devices)
    return subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout, **popen)


def cli_popen(args, *, devices=None):
    cmd = [sys.executable, os.path.join(ROOT, "projects", "ncsn", "main.py"), *args]
    pipes = dict(stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.Popen(cmd, env=child_env(devices), cwd=ROOT, **pipes)


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
