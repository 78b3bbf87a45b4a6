"""One trainer per workdir: `<workdir>/LOCK`, created atomically and holding {pid, host, started}.

A second trainer gets one line naming the holder; a lock left by a dead process on this host
is taken over with one warning line. The lock is removed when the holder's `with` block ends
(normally, by an exception, or after a SIGTERM save); a lock the same process already holds
is re-entered without a second file (the outer holder removes it).
"""

import contextlib
import datetime
import json
import os
import socket

import jax
from absl import logging

from ._agree import everywhere
from ._errors import CheckpointError

LOCK_NAME = "LOCK"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _read(path: str) -> dict | None:
    """The holder's record, or None if the lock vanished meanwhile; CheckpointError if unreadable."""
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return None
    try:
        holder = json.loads(text)
        return {"pid": int(holder["pid"]), "host": str(holder["host"]), "started": str(holder["started"])}
    except (ValueError, KeyError, TypeError):
        raise CheckpointError(f"{path} is unreadable ({text[:40]!r}): delete it if no run uses this workdir") from None


class WorkdirLock:
    """`with WorkdirLock(workdir):` hold `<workdir>/LOCK` for this process, or raise one CheckpointError line."""

    def __init__(self, workdir: str):
        self.path = os.path.join(os.path.abspath(workdir), LOCK_NAME)
        self.me = {"pid": os.getpid(), "host": socket.gethostname()}
        self._record = None  # what this object wrote, if it created the file

    def _create(self) -> bool:
        record = {**self.me, "started": datetime.datetime.now().isoformat(timespec="microseconds")}
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as f:
            json.dump(record, f)
        self._record = record
        return True

    def _take_over(self, holder: dict) -> None:
        """Move the stale lock aside (atomically, so only one taker wins), checking it is the one judged stale."""
        aside = f"{self.path}.stale.{self.me['pid']}"
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return
        try:
            moved = _read(aside)
        except CheckpointError:
            moved = None
        if moved != holder:  # someone else's fresh lock: put it back unless a newer one is there already
            with contextlib.suppress(FileExistsError):
                os.link(aside, self.path)
        os.remove(aside)
        if moved == holder:
            logging.warning(
                "%s: taking over the lock of pid %d (started %s), which is no longer running",
                self.path, holder["pid"], holder["started"],
            )  # fmt: skip

    def __enter__(self):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        for _ in range(3):
            if self._create():
                return self
            holder = _read(self.path)
            if holder is None:
                continue
            same_host = holder["host"] == self.me["host"]
            if same_host and holder["pid"] == self.me["pid"]:
                return self  # this process holds it already (an outer `with`)
            if same_host and not _alive(holder["pid"]):
                self._take_over(holder)
                continue
            raise CheckpointError(
                f"{os.path.dirname(self.path)} is in use by another trainer (pid {holder['pid']} on host "
                f"{holder['host']}, started {holder['started']}); if it is gone, delete {self.path}"
            )
        raise CheckpointError(f"{self.path}: could not take the lock (other trainers keep taking it)")

    def __exit__(self, *exc):
        if self._record is not None:
            with contextlib.suppress(CheckpointError):
                if _read(self.path) == self._record:
                    os.remove(self.path)
            self._record = None
        return False


def workdir_of(checkpoint_dir: str) -> str:
    """The run folder of a checkpoint folder: its parent, or the folder above `.../checkpoints/<name>`."""
    parent = os.path.dirname(os.path.abspath(checkpoint_dir))
    return os.path.dirname(parent) if os.path.basename(parent) == "checkpoints" else parent


@contextlib.contextmanager
def hold_workdir(workdir: str):
    """The lock of a (multi-process) run: process 0 holds it; every process raises if process 0 could not."""
    lock, error = (WorkdirLock(workdir) if jax.process_index() == 0 else None), None
    if lock is not None:
        try:
            lock.__enter__()
        except CheckpointError as e:
            error = e
    if not everywhere(error is None):
        raise error or CheckpointError(f"{workdir} is in use by another trainer (process 0 could not lock it)")
    try:
        yield lock
    finally:
        if lock is not None:
            lock.__exit__(None, None, None)
