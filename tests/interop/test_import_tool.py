"""tools/import_checkpoint.py writes a run folder that projects/ncsn restores as it restores its own runs
(`training.restore_ema_model`, what --mode=sample and --mode=eval call): the checkpoint with the EMA as its model
export and the run record, so --mode=sample needs no --config; bad input is one line, nothing written."""

import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import equinox as eqx
import jax
import numpy as np
import pytest
from absl import flags

from scoresde import checkpoint, interop, parallel, project
from tests._processes import child_env

from .fixtures import ROOT

REPO = Path(__file__).resolve().parents[2]
CKPT = ROOT / "score_sde_pytorch" / "checkpoint_ncsnpp_8px.pth"
TINY = {"data.image_size": 8, "model.nf": 4, "model.ch_mult": (1, 2), "model.num_res_blocks": 1,
        "model.attn_resolutions": (4,)}  # fmt: skip


def run_tool(workdir, *extra):
    overrides = [f"--config.{k}={v}".replace(" ", "") for k, v in TINY.items()]
    cmd = [sys.executable, str(REPO / "tools" / "import_checkpoint.py"), "--format=score_sde_pytorch",
           f"--checkpoint={CKPT}", "--config=configs/cifar.py", f"--workdir={workdir}", *overrides, *extra]  # fmt: skip
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=child_env(), timeout=300)


def tiny_cifar_config():
    sys.path.insert(0, str(REPO))
    from configs import cifar

    cfg = cifar.get_config()
    for key, value in TINY.items():
        section, field = key.split(".")
        cfg[section][field] = value
    return cfg


@pytest.mark.slow
def test_imported_workdir_restores_the_checkpoints_ema_network(tmp_path):
    from projects.ncsn import components, training

    workdir = tmp_path / "run"
    done = run_tool(workdir)
    assert done.returncode == 0, done.stderr
    assert "wrote" in done.stdout and "EMA weights" in done.stdout and "step 1234" in done.stdout
    cfg = tiny_cifar_config()
    restored, step = training.restore_ema_model(cfg, str(workdir), parallel.make_mesh())
    assert step == 1234
    expected = interop.load_checkpoint(str(CKPT), components.model_config(cfg), format="score_sde_pytorch")
    for a, b in zip(jax.tree.leaves(eqx.filter(restored, eqx.is_array)),
                    jax.tree.leaves(eqx.filter(expected, eqx.is_array)), strict=True):  # fmt: skip
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # the folder is taken: a second import refuses, one line, nothing changed
    again = run_tool(workdir)
    assert again.returncode != 0 and again.stderr.strip().splitlines()[-1].startswith("error: --workdir=")

    # the run record as a train writes it, and the EMA as the model export: --mode=sample needs neither --config
    # nor the optimiser state (deleted here)
    assert project.read_record(str(workdir)) == project.to_plain(cfg)
    assert "imported " in (workdir / "log.txt").read_text()
    ckpt = checkpoint.Checkpointer(str(workdir / "checkpoints"))
    export, _ = ckpt.restore_model()
    ckpt.close()
    assert len(jax.tree.leaves(export)) == len(jax.tree.leaves(eqx.filter(restored, eqx.is_array)))
    shutil.rmtree(workdir / "checkpoints" / "1234" / "state")
    sample = ["--config.sampling.n_samples=8", "--config.sampling.batch_size=8", "--config.sampling.method=dpm_solver",
              "--config.sampling.dpm_solver.n_steps=2", "--config.sampling.dpm_solver.order=1"]  # fmt: skip
    ncsn_main = importlib.import_module("projects.ncsn.main")
    project.main(ncsn_main.PROJECT, ncsn_main.run, ["main.py", "--mode=sample", f"--workdir={workdir}", *sample],
                 flag_values=flags.FlagValues())  # fmt: skip
    (npz,) = (workdir / "samples" / "step_0001234").glob("dpm_solver-n2_uncond_seed1_*.npz")
    with np.load(npz) as z:
        assert z["samples"].shape == (8, 3, 8, 8) and np.all(np.isfinite(z["samples"]))


def test_a_checkpoint_of_another_config_writes_nothing(tmp_path):
    workdir = tmp_path / "run"
    done = run_tool(workdir, "--config.model.num_res_blocks=2")
    last = done.stderr.strip().splitlines()[-1]
    assert done.returncode != 0 and last.startswith("error: ") and "another architecture or config" in last, last
    assert not workdir.exists()
    # a folder recording another run (its config.json, as a train writes it): refused as a train would be
    workdir.mkdir()
    (workdir / "config.json").write_text(json.dumps(project.to_plain(tiny_cifar_config()) | {"seed": 7}))
    done = run_tool(workdir)
    last = done.stderr.strip().splitlines()[-1]
    assert done.returncode != 0 and last.startswith("error: seed=") and "config.json" in last, last
    assert sorted(os.listdir(workdir)) == ["config.json"]
