"""Checkpoints (orbax) of train states with a model export and a JSON record; workdir lock; SIGTERM-safe saving."""

from ._errors import CheckpointError
from ._lock import LOCK_NAME, WorkdirLock, hold_workdir, workdir_of
from ._manager import Checkpointer, Restored
from ._names import leaf_names
from ._preemption import PreemptionGuard
from ._quiet import quiet_orbax_logs
from ._workdir import check_workdir

__all__ = [
    "Checkpointer",
    "CheckpointError",
    "LOCK_NAME",
    "PreemptionGuard",
    "Restored",
    "WorkdirLock",
    "check_workdir",
    "hold_workdir",
    "leaf_names",
    "quiet_orbax_logs",
    "workdir_of",
]
