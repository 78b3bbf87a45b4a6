"""The run folder's up-front check, shared by every project's validation (before anything is written)."""

import os


def check_workdir(workdir: str) -> str:
    """Raise a one-line ValueError unless `workdir` is (or can be made) a writable folder; returns its absolute path.

    Nothing is created: the nearest existing ancestor must allow writing, so a run that fails
    validation leaves no empty folder behind.
    """
    path = os.path.abspath(workdir)
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"--workdir={workdir!r} exists and is not a folder")
    probe = path
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ValueError(f"--workdir={workdir!r} is not writable ({probe} does not allow writing)")
    return path
