"""WorkdirLock in one process: the file and its record, release on exit and on errors, re-entry, live / other-host /
stale / unreadable holders, and train_loop holding it (the two-process cases: test_checkpoint_processes.py)."""

import json
import logging
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from scoresde import checkpoint, train


def _write(path, **holder):
    with open(path, "w") as f:
        json.dump(holder, f)


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_lock_file_record_and_release_also_on_errors(tmp_path):
    path = tmp_path / "run" / "LOCK"
    with checkpoint.WorkdirLock(str(tmp_path / "run")):  # the folder is created
        holder = json.loads(path.read_text())
        assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname() and "T" in holder["started"]
        with checkpoint.WorkdirLock(str(tmp_path / "run")):  # re-entered by the same process: no second file
            pass
        assert path.exists()  # only the outer holder removes it
    assert not path.exists()
    with pytest.raises(KeyError), checkpoint.WorkdirLock(str(tmp_path / "run")):
        raise KeyError("boom")
    assert not path.exists()


def test_a_live_holder_is_one_line_naming_pid_and_host(tmp_path):
    path = tmp_path / "LOCK"
    _write(path, pid=os.getppid(), host=socket.gethostname(), started="2024-05-01T10:00:00")
    with pytest.raises(checkpoint.CheckpointError) as e, checkpoint.WorkdirLock(str(tmp_path)):
        pass
    assert str(e.value) == (
        f"{tmp_path} is in use by another trainer (pid {os.getppid()} on host {socket.gethostname()}, "
        f"started 2024-05-01T10:00:00); if it is gone, delete {path}"
    )
    assert json.loads(path.read_text())["pid"] == os.getppid()  # untouched


def test_another_hosts_lock_is_never_taken_over(tmp_path):
    _write(tmp_path / "LOCK", pid=_dead_pid(), host="elsewhere", started="2024-05-01T10:00:00")
    with pytest.raises(checkpoint.CheckpointError, match=r"on host elsewhere, started 2024-05-01T10:00:00\)"):
        with checkpoint.WorkdirLock(str(tmp_path)):
            pass


def test_a_stale_lock_is_taken_over_with_one_warning(tmp_path, caplog):
    dead = _dead_pid()
    _write(tmp_path / "LOCK", pid=dead, host=socket.gethostname(), started="2024-05-01T10:00:00")
    with caplog.at_level(logging.WARNING), checkpoint.WorkdirLock(str(tmp_path)):
        assert json.loads((tmp_path / "LOCK").read_text())["pid"] == os.getpid()
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [
        f"{tmp_path / 'LOCK'}: taking over the lock of pid {dead} (started 2024-05-01T10:00:00), "
        "which is no longer running"
    ]
    assert sorted(os.listdir(tmp_path)) == []  # released, and the stale copy is gone too


def test_a_takeover_that_lost_the_race_puts_the_new_lock_back(tmp_path, caplog):
    """Judged stale, but by the time of the rename another trainer had replaced it: that lock goes back."""
    stale = {"pid": _dead_pid(), "host": socket.gethostname(), "started": "old"}
    fresh = {"pid": os.getppid(), "host": socket.gethostname(), "started": "new"}
    _write(tmp_path / "LOCK", **fresh)
    with caplog.at_level(logging.WARNING):
        checkpoint.WorkdirLock(str(tmp_path))._take_over(stale)
    assert json.loads((tmp_path / "LOCK").read_text()) == fresh and os.listdir(tmp_path) == ["LOCK"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_an_unreadable_lock_is_one_line(tmp_path):
    (tmp_path / "LOCK").write_text("{not json")
    with pytest.raises(checkpoint.CheckpointError, match=r"LOCK is unreadable \('\{not json'\): delete it if no run"):
        with checkpoint.WorkdirLock(str(tmp_path)):
            pass


def test_workdir_of_checkpoint_folders():
    assert checkpoint.workdir_of("/r/run/checkpoints") == "/r/run"  # ncsn, dgflow
    assert checkpoint.workdir_of("/r/run/corrector") == "/r/run"  # dgflow's corrector
    assert checkpoint.workdir_of("/r/run/checkpoints/target") == "/r/run"  # sdflow's nets


def test_train_loop_holds_the_lock_and_releases_it_on_an_error(tmp_path):
    from tests.test_checkpoint import _state

    workdir = tmp_path / "run"
    seen = []

    def step(state, batch):
        seen.append(json.loads((workdir / "LOCK").read_text())["pid"])
        if len(seen) == 3:
            raise RuntimeError("the step failed")
        return state, {"loss": np.float32(0.0)}

    ck = checkpoint.Checkpointer(str(workdir / "checkpoints"))
    with pytest.raises(RuntimeError, match="the step failed"):
        train.train_loop(_state(), step, iter(lambda: {"x": 0}, None), lambda b: b, ck, total_steps=5, log_every=1)
    assert seen == [os.getpid()] * 3 and not (workdir / "LOCK").exists()
    _write(workdir / "LOCK", pid=os.getppid(), host=socket.gethostname(), started="s")
    with pytest.raises(checkpoint.CheckpointError, match=f"pid {os.getppid()} on host"):
        train.train_loop(_state(), step, iter(lambda: {"x": 0}, None), lambda b: b, ck, total_steps=5)
    assert len(seen) == 3 and ck.all_steps() == []  # refused before the first step
