"""Checkpoints (orbax) of train states with a JSON record, and SIGTERM-safe saving."""

from ._manager import Checkpointer
from ._preemption import PreemptionGuard
from ._quiet import quiet_orbax_logs
from ._workdir import check_workdir

__all__ = ["Checkpointer", "PreemptionGuard", "check_workdir", "quiet_orbax_logs"]
