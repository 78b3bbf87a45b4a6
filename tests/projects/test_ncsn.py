"""The NCSN project end to end: train -> checkpoint -> sample -> eval, resume, sharding, bad inputs."""

import glob
import json
import os
import signal
import time

import equinox as eqx
import jax
import numpy as np
import pytest

from projects.ncsn import checks, evaluation, sampling, sampling_mode, training  # noqa: E402  (path set by helpers)
from scoresde import checkpoint
from tests.projects._ncsn_helpers import cli_popen, mesh_of, run_cli, tiny_toy_config, toy_cli_args


def _final_params(workdir, cfg, step):
    ck = checkpoint.Checkpointer(os.path.join(workdir, "checkpoints"))
    template, _, _, _ = training.build_state(cfg, mesh_of(1))
    state, record = ck.restore(template, step)
    ck.close()
    return state, record


def test_end_to_end_toy2d(tmp_path):
    cfg = tiny_toy_config()
    workdir = str(tmp_path / "run")
    mesh = checks.validate(cfg, workdir, "train")
    state, stopped = training.run(cfg, workdir, mesh)
    assert not stopped and int(state.step) == 40
    assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == ["20", "40"]
    assert glob.glob(os.path.join(workdir, "tensorboard", "events.*"))
    x = sampling_mode.run(cfg, workdir, mesh)
    assert x.shape == (200, 2) and np.all(np.isfinite(x))
    stem = sampling_mode.output_stem(cfg, workdir, 40)
    assert glob.glob(os.path.join(workdir, "samples", "step_0000040", "pc-n50_uncond_seed1_*.npz")) == [stem + ".npz"]
    assert os.path.isfile(stem + ".png")
    with open(stem + ".json") as f:
        assert json.load(f)["pc"]["n_steps"] == 50
    res = evaluation.run(cfg, workdir, mesh)
    assert res["swd"] > 0 and res["swd_data_vs_data"] > 0
    with open(os.path.join(workdir, "eval", "step_40.json")) as f:
        assert json.load(f)["swd"] == res["swd"]


@pytest.mark.parametrize("fsdp", [1, 2])
def test_eight_device_run_matches_one_device(tmp_path, fsdp):
    cfg = tiny_toy_config(**{"training.n_steps": 20})
    s1, _ = training.run(cfg, str(tmp_path / "one"), mesh_of(1))
    s8, _ = training.run(cfg, str(tmp_path / "eight"), mesh_of(8, fsdp))
    for a, b in zip(jax.tree_util.tree_leaves(s1.params), jax.tree_util.tree_leaves(s8.params), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-5, atol=2e-6)


@pytest.mark.slow
def test_resume_after_sigkill_is_bit_identical(tmp_path):
    cfg = tiny_toy_config(**{"training.n_steps": 150, "training.checkpoint_every": 10})
    ref_dir = str(tmp_path / "ref")
    training.run(cfg, ref_dir, mesh_of(1))
    ref, _ = _final_params(ref_dir, cfg, 150)

    workdir = str(tmp_path / "killed")
    args = toy_cli_args(workdir, "--config.training.n_steps=150", "--config.training.checkpoint_every=10")
    proc = cli_popen(args)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not os.path.isdir(os.path.join(workdir, "checkpoints", "30")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = sorted(int(s) for s in os.listdir(os.path.join(workdir, "checkpoints")) if s.isdigit())
    assert done and done[-1] < 150, f"the run finished before it could be killed: {done}"
    out = run_cli(args)
    assert out.returncode == 0, out.stderr[-2000:]
    resumed, record = _final_params(workdir, cfg, 150)
    assert "resumed from checkpoint" in out.stderr
    for a, b in zip(jax.tree_util.tree_leaves(ref), jax.tree_util.tree_leaves(resumed), strict=True):
        if jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key):
            a, b = jax.random.key_data(a), jax.random.key_data(b)
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_sigterm_writes_a_checkpoint_and_exits_cleanly(tmp_path):
    workdir = str(tmp_path / "term")
    proc = cli_popen(
        toy_cli_args(workdir, "--config.training.n_steps=100000", "--config.training.checkpoint_every=100000")
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if os.path.isdir(os.path.join(workdir, "tensorboard")) and glob.glob(os.path.join(workdir, "tensorboard", "*")):
            break
        time.sleep(0.05)
    time.sleep(2.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    steps = [s for s in os.listdir(os.path.join(workdir, "checkpoints")) if s.isdigit()]
    assert len(steps) == 1 and 0 < int(steps[0]) < 100000
    assert "SIGTERM" in err


def _assert_clean_failure(out, workdir, needle):
    assert out.returncode != 0
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("error:") and needle in last, out.stderr[-1500:]
    assert not os.path.exists(workdir) or not os.listdir(workdir)


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--config.model.name=resnet9000"], "model.name"),
        (["--config.sampling.method=teleport"], "sampling.method"),
        (["--config.training.batch_size=63"], "training.batch_size"),
    ],
)
def test_cli_bad_inputs_fail_in_one_line_and_write_nothing(tmp_path, extra, needle):
    workdir = str(tmp_path / "bad")
    _assert_clean_failure(
        run_cli(toy_cli_args(workdir, *extra), devices=2),
        workdir,
        needle,
    )


def test_cli_unknown_config_field(tmp_path):
    workdir = str(tmp_path / "bad")
    out = run_cli(toy_cli_args(workdir, "--config.training.n_stepz=5"))
    assert out.returncode != 0 and "n_stepz" in out.stderr
    assert not os.path.exists(workdir)


def test_bad_inputs_in_process(tmp_path):
    from configs import digits

    def fails(cfg, needle, mode="train", workdir=None):
        workdir = workdir or str(tmp_path / "w")
        with pytest.raises(ValueError, match=needle):
            checks.validate(cfg, workdir, mode)
        assert not os.path.exists(workdir)

    c = digits.get_config()
    c.data.name, c.data.path, c.data.image_size, c.data.num_channels = "cifar10", str(tmp_path / "nope.tar.gz"), 32, 3
    c.model.ch_mult, c.model.attn_resolutions = (1, 2, 2), (16,)
    fails(c, r"cifar-10-python.tar.gz")
    bad = tmp_path / "corrupt.tar.gz"
    bad.write_bytes(b"garbage")
    c.data.path = str(bad)
    fails(c, "not a readable tar.gz")
    c = digits.get_config()
    c.data.name, c.data.path = "image_folder", str(tmp_path)
    fails(c, "no .png")
    c = digits.get_config()
    c.model.ch_mult = (1, 2, 2, 2, 2)  # 8x8 cannot be halved four times
    fails(c, "model.")
    ro = tmp_path / "ro"
    ro.mkdir()
    os.chmod(ro, 0o500)
    if not os.access(ro, os.W_OK):  # root ignores permissions
        fails(tiny_toy_config(), "not writable", workdir=str(ro / "run"))
    fails(tiny_toy_config(), "no checkpoints", mode="sample")


def test_cli_non_finite_loss_is_one_error_line_and_a_non_zero_exit(tmp_path):
    out = run_cli(toy_cli_args(str(tmp_path / "nan"), "--config.training.n_steps=20", "--config.optim.lr=1e30",
                               "--config.optim.grad_clip=0.0", "--config.training.checkpoint_every=10"))  # fmt: skip
    assert out.returncode != 0
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert errors and "non-finite" in errors[0] and "Traceback" not in out.stderr, out.stderr[-1500:]


def test_non_finite_loss_stops_without_writing_a_bad_checkpoint(tmp_path):
    cfg = tiny_toy_config(
        **{"training.n_steps": 40, "training.checkpoint_every": 10, "optim.lr": 1e30, "optim.grad_clip": 0.0}
    )
    workdir = str(tmp_path / "nan")
    with pytest.raises(Exception, match="non-finite"):
        training.run(cfg, workdir, mesh_of(1))
    ck_dir = os.path.join(workdir, "checkpoints")
    for step in [s for s in os.listdir(ck_dir) if s.isdigit()] if os.path.isdir(ck_dir) else []:
        state, _ = _final_params(workdir, cfg, int(step))
        assert all(
            np.all(np.isfinite(np.asarray(x)))
            for x in jax.tree_util.tree_leaves(eqx.filter(state.params, eqx.is_array))
        )


def _losses(log: str) -> list[float]:
    return [float(line.split(" loss ")[1].split()[0]) for line in log.splitlines() if " loss " in line]


def _two_processes(tmp_path, workdir, *extra):
    """Run main.py as 2 jax.distributed processes of 4 CPU devices each on 127.0.0.1; their stderr logs."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = [
        cli_popen(
            toy_cli_args(workdir, *extra, f"--coordinator=127.0.0.1:{port}", "--num_processes=2", f"--process_id={i}"),
            devices=4,
        )
        for i in range(2)
    ]
    logs = [p.communicate(timeout=600)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), logs[0][-2000:] + logs[1][-2000:]
    return logs


def _drawn_rows(log: str) -> tuple[int, set[int]]:
    """(process index, rows of each batch it drew) from its 'sampling: process p of P draws rows a-b' line."""
    line = next(v for v in log.splitlines() if "sampling: process" in v and "draws rows" in v)
    words = line.split("sampling: process ")[1].split()
    lo, hi = map(int, words[5].split("-"))
    return int(words[0]), set(range(lo, hi + 1))


@pytest.mark.slow
def test_two_process_distributed_run_matches_one_process(tmp_path):
    import shutil

    common = ["--config.training.n_steps=20", "--config.training.checkpoint_every=20"]
    logs = _two_processes(tmp_path, str(tmp_path / "dist"), *common)
    single = run_cli(toy_cli_args(str(tmp_path / "single"), *common), devices=8)
    assert single.returncode == 0, single.stderr[-2000:]
    ref = _losses(single.stderr)
    assert len(ref) == 2
    for log in logs:
        np.testing.assert_allclose(_losses(log), ref, rtol=1e-6, atol=1e-6)

    # Sampling the same checkpoint: 2 processes x 4 devices vs this process's 8 devices, 96 samples in 2 batches of 64.
    shutil.copytree(tmp_path / "single", tmp_path / "copy")
    fields = {"sampling.pc.n_steps": 20, "sampling.n_samples": 96, "sampling.batch_size": 64}
    logs = _two_processes(
        tmp_path, str(tmp_path / "copy"), "--mode=sample", *(f"--config.{k}={v}" for k, v in fields.items())
    )
    cfg = tiny_toy_config(**fields)
    x2 = np.load(sampling_mode.output_stem(cfg, str(tmp_path / "copy"), 20) + ".npz")["samples"]
    model, _ = training.restore_ema_model(cfg, str(tmp_path / "single"), mesh_of(8))
    x1, _ = sampling.generate(cfg, model, jax.random.key(cfg.sampling.seed), 96, mesh_of(8), progress=False)
    assert x1.shape == x2.shape == (96, 2) and np.all(np.isfinite(x1))
    np.testing.assert_allclose(x2, x1, rtol=1e-4, atol=1e-4)  # same noise by index; see test_ncsn_sharded
    rows = dict(_drawn_rows(log) for log in logs)
    assert sorted(rows) == [0, 1] and not rows[0] & rows[1] and rows[0] | rows[1] == set(range(64))

    # Eval on 2 processes: both draw their rows of each batch, process 0 writes the shards and the JSON.
    ev = {**fields, "eval.n_samples": 96}
    _two_processes(tmp_path, str(tmp_path / "copy"), "--mode=eval", *(f"--config.{k}={v}" for k, v in ev.items()))
    with open(tmp_path / "copy" / "eval" / "step_20.json") as f:
        two = json.load(f)
    one = evaluation.run(tiny_toy_config(**ev), str(tmp_path / "single"), mesh_of(8))
    assert (
        two["n_samples"] == 96 and sorted(os.listdir(tmp_path / "copy" / "eval" / "step_20"))[-1] == "shard_00001.npz"
    )
    for k in ("swd", "mmd"):
        assert two[k] == pytest.approx(one[k], rel=1e-3), k
