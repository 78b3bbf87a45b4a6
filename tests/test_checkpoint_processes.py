"""Real processes on one workdir: the lock (a second trainer fails in one line, nothing of the first is lost, a
stale lock is taken over, SIGTERM releases it) and multi-host preemption (SIGTERM on one of two jax.distributed
processes: both save the same step and exit 0).

Run as a script, this file is the tiny trainer those tests start: `python tests/test_checkpoint_processes.py ...`.
"""

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np

from scoresde import checkpoint, train

HERE = os.path.abspath(__file__)


def _trainer(argv) -> None:
    """train_loop on a small MLP; batches wait for <workdir>/release after --block_after of them."""
    import argparse

    p = argparse.ArgumentParser()
    p.add_argument("workdir")
    p.add_argument("--steps", type=int, default=10**6)
    p.add_argument("--checkpoint_every", type=int, default=5)
    p.add_argument("--block_after", type=int, default=0)
    p.add_argument("--sleep", type=float, default=0.0)
    p.add_argument("--start_after", default="", help="a file to wait for before train_loop (start-up done)")
    p.add_argument("--coordinator", default="")
    p.add_argument("--num_processes", type=int, default=0)
    p.add_argument("--process_id", type=int, default=-1)
    a = p.parse_args(argv)
    from scoresde import parallel

    parallel.maybe_initialize_distributed(a.coordinator, a.num_processes, a.process_id)
    import jax
    import jax.numpy as jnp
    import numpy as np
    from ml_collections import ConfigDict

    from scoresde import checkpoint, nets, train

    checkpoint.quiet_orbax_logs()
    net = nets.MLP(2, width=16, depth=1, key=jax.random.key(0))
    opt = train.make_optimizer(ConfigDict(dict(lr=1e-3)))
    state, static = train.init_state(net, opt, jax.random.key(1))
    mesh = parallel.make_mesh()
    shardings = parallel.param_shardings(mesh, state)
    state = parallel.shard_tree(state, shardings)
    loss = lambda m, b, k: jnp.mean((jax.vmap(m)(b["x"], jnp.zeros(b["x"].shape[0])) - b["x"]) ** 2)
    step = train.jit_train_step(train.make_train_step(loss, opt, static, ema_rate=0.9), shardings,
                                parallel.batch_sharding(mesh))  # fmt: skip
    release = os.path.join(a.workdir, "release")

    def batches():
        n = 0
        while True:
            n += 1
            while a.block_after and n > a.block_after and not os.path.exists(release):
                time.sleep(0.01)
            time.sleep(a.sleep)
            yield {"x": np.full((8 // jax.process_count(), 2), 0.1 * n, np.float32)}

    while a.start_after and not os.path.exists(a.start_after):
        time.sleep(0.01)
    ck = checkpoint.Checkpointer(os.path.join(a.workdir, "checkpoints"), max_to_keep=100)
    try:
        state, stopped = train.train_loop(
            state,
            step,
            batches(),
            lambda b: parallel.global_batch(b, mesh),
            ck,
            total_steps=a.steps,
            log_every=10**6,
            checkpoint_every=a.checkpoint_every,
        )
    except (OSError, ValueError) as e:  # what the mains do
        sys.exit(f"error: {str(e).splitlines()[0]}")
    print(json.dumps({"stopped": stopped, "steps": ck.all_steps()}), flush=True)


def _state():
    """The trainer's state, built in this process (same structure: restores the trainer's checkpoints)."""
    import jax
    from ml_collections import ConfigDict

    from scoresde import nets

    net = nets.MLP(2, width=16, depth=1, key=jax.random.key(0))
    return train.init_state(net, train.make_optimizer(ConfigDict(dict(lr=1e-3))), jax.random.key(1))[0]


def _popen(*args, devices=None):
    from tests._processes import child_env  # here, not at the top: run as a script, this file has no `tests` package

    cmd = [sys.executable, HERE, *map(str, args)]
    return subprocess.Popen(cmd, env=child_env(devices), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(path, proc, timeout=120.0):
    t0 = time.monotonic()
    while not os.path.exists(path):
        if proc.poll() is not None:
            raise AssertionError(f"trainer exited ({proc.returncode}) before {path}: {proc.communicate()[1][-3000:]}")
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"no {path} after {timeout} s")
        time.sleep(0.05)


def _files(root):
    return sorted(os.path.relpath(os.path.join(r, f), root) for r, _, fs in os.walk(root) for f in fs)


def _sigterm_step(log: str) -> int:
    line = next(v for v in log.splitlines() if "SIGTERM: saving checkpoint" in v)
    return int(line.split("checkpoint ")[1].split()[0])


def test_second_trainer_fails_in_one_line_and_stale_lock_is_taken_over(tmp_path, caplog):
    workdir = str(tmp_path / "run")
    lock = os.path.join(workdir, "LOCK")
    go = str(tmp_path / "go")
    first = _popen(workdir, "--block_after", 10)  # saves 5 and 10, then waits for <workdir>/release
    second = _popen(workdir, "--steps", 20, "--start_after", go)  # starts up meanwhile, then waits for `go`
    try:
        _wait_for(os.path.join(workdir, "checkpoints", "10"), first)
        with open(lock) as f:
            holder = json.load(f)
        assert holder["pid"] == first.pid and holder["host"] == socket.gethostname() and holder["started"]
        before = _files(workdir)

        open(go, "w").close()
        out, err = second.communicate(timeout=120)
        assert second.returncode != 0, err[-2000:]
        errors = [v for v in err.splitlines() if v.startswith("error:")]
        assert errors == [
            f"error: {workdir} is in use by another trainer (pid {first.pid} on host {socket.gethostname()}, "
            f"started {holder['started']}); if it is gone, delete {lock}"
        ], err[-2000:]
        assert err.rstrip().splitlines()[-1] == errors[0] and not out
        assert _files(workdir) == before  # the second trainer wrote nothing, touched nothing

        open(os.path.join(workdir, "release"), "w").close()
        _wait_for(os.path.join(workdir, "checkpoints", "15"), first)
        first.send_signal(signal.SIGTERM)  # the SIGTERM path saves, releases the lock and exits 0
        out, err = first.communicate(timeout=120)
    finally:
        first.kill()
        second.kill()
    assert first.returncode == 0, err[-2000:]
    at = _sigterm_step(err)
    assert json.loads(out) == {"stopped": True, "steps": sorted({*range(5, at + 1, 5), at})}
    assert not os.path.exists(lock)

    # a stale lock (its pid no longer runs, as a kill -9 leaves it): the next trainer (here in-process, a real
    # dead process is all it needs) takes it over in one warning line and resumes the first run's last step
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with open(lock, "w") as f:
        json.dump({"pid": dead.pid, "host": socket.gethostname(), "started": "2020-01-01T00:00:00"}, f)
    ck = checkpoint.Checkpointer(os.path.join(workdir, "checkpoints"), max_to_keep=100)
    step = lambda s, b: (s, {"loss": np.float32(0.0)})
    with caplog.at_level(logging.INFO):
        _, stopped = train.train_loop(_state(), step, iter(lambda: {}, None), lambda b: b, ck,
                                      total_steps=at + 5, log_every=1000, checkpoint_every=5)  # fmt: skip
    lines = [r.getMessage() for r in caplog.records]
    taken = [v for v in lines if "taking over the lock" in v]
    assert len(taken) == 1 and f"pid {dead.pid} (started 2020-01-01T00:00:00)" in taken[0], lines
    assert f"resumed from checkpoint {at} in {ck.directory}" in lines
    assert not stopped and ck.all_steps() == sorted({*range(5, at + 6, 5), at, at + 5}) and not os.path.exists(lock)


def test_sigterm_on_one_of_two_processes_saves_the_same_step_on_both(tmp_path):
    workdir = str(tmp_path / "run")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dist = [f"--coordinator=127.0.0.1:{port}", "--num_processes=2"]
    procs = [_popen(workdir, "--sleep", 0.01, *dist, f"--process_id={i}", devices=2) for i in range(2)]
    try:
        _wait_for(os.path.join(workdir, "checkpoints", "10"), procs[0])
        procs[1].send_signal(signal.SIGTERM)  # process 0 is not signalled: the preemption service tells it
        results = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            p.kill()
    logs = [err for _, err in results]
    assert [p.returncode for p in procs] == [0, 0], logs[0][-2000:] + logs[1][-2000:]
    at = [_sigterm_step(log) for log in logs]
    assert at[0] == at[1] > 10, at
    steps = sorted({*range(5, at[0] + 1, 5), at[0]})
    for out, _ in results:  # (gloo writes its own lines to stdout first)
        assert json.loads(out.strip().splitlines()[-1]) == {"stopped": True, "steps": steps}
    assert not os.path.exists(os.path.join(workdir, "LOCK"))


if __name__ == "__main__":
    _trainer(sys.argv[1:])
