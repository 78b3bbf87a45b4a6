"""tools/import_checkpoint.py writes a run folder that projects/ncsn restores as it restores its own runs
(`training.restore_ema_model`, what --mode=sample and --mode=eval call); bad input is one line, nothing written."""

import os
import subprocess
import sys
from pathlib import Path

import equinox as eqx
import jax
import numpy as np

from scoresde import interop, parallel

from .fixtures import ROOT

REPO = Path(__file__).resolve().parents[2]
CKPT = ROOT / "score_sde_pytorch" / "checkpoint_ncsnpp_8px.pth"
TINY = {"data.image_size": 8, "model.nf": 4, "model.ch_mult": (1, 2), "model.num_res_blocks": 1,
        "model.attn_resolutions": (4,)}  # fmt: skip


def run_tool(workdir, *extra):
    overrides = [f"--config.{k}={v}".replace(" ", "") for k, v in TINY.items()]
    cmd = [sys.executable, str(REPO / "tools" / "import_checkpoint.py"), "--format=score_sde_pytorch",
           f"--checkpoint={CKPT}", "--config=configs/cifar.py", f"--workdir={workdir}", *overrides, *extra]  # fmt: skip
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "XLA_FLAGS": ""}
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=env, timeout=300)


def tiny_cifar_config():
    sys.path.insert(0, str(REPO))
    from configs import cifar

    cfg = cifar.get_config()
    for key, value in TINY.items():
        section, field = key.split(".")
        cfg[section][field] = value
    return cfg


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


def test_a_checkpoint_of_another_config_writes_nothing(tmp_path):
    workdir = tmp_path / "run"
    done = run_tool(workdir, "--config.model.num_res_blocks=2")
    last = done.stderr.strip().splitlines()[-1]
    assert done.returncode != 0 and last.startswith("error: ") and "another architecture or config" in last, last
    assert not workdir.exists()
