"""Expensive fixtures built once per test run, also under pytest-xdist.

With xdist every worker that runs a test of a module sets up that module's fixtures again (the suite's trained
dgflow GAN was trained on two workers at once). `built_once` keeps one directory per name in the run's shared
temporary folder: the first worker to need it builds it under a file lock, the others wait and reuse it.
Tests read it; a test that writes into it copies it first.
"""

import fcntl
import os
import pathlib
import shutil
from collections.abc import Callable


def _run_root(tmp_path_factory) -> pathlib.Path:
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # xdist: basetemp per worker, parent per run


def built_once(tmp_path_factory, name: str, build: Callable[[pathlib.Path], None]) -> pathlib.Path:
    """The directory <run temp>/<name>, filled by `build(path)` once per test run (rebuilt if a build failed)."""
    root = _run_root(tmp_path_factory)
    path, done = root / name, root / f"{name}.done"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not done.exists():
                shutil.rmtree(path, ignore_errors=True)
                path.mkdir()
                build(path)
                done.touch()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return path
