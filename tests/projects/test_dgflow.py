"""The DGflow project on tiny runs: train -> refine -> eval, DGflow vs DDLS on 25 Gaussians, sharding, bad inputs."""

import importlib
import json
import os
import shutil
import subprocess
import sys

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from configs.dgflow import grid25  # noqa: E402
from projects.dgflow import checks, components, evaluation, refinement, training  # noqa: E402
from scoresde import parallel  # noqa: E402
from tests._processes import child_env  # noqa: E402
from tests._shared import built_once  # noqa: E402


def _set(c, overrides):
    for k, v in overrides.items():
        node = c
        *path, last = k.split(".")
        for p in path:
            node = node[p]
        node[last] = v
    return c


def tiny_config(**overrides):
    c = grid25.get_config()
    c.model.generator.width = c.model.discriminator.width = 128
    c.corrector.model.width = 64
    c.optim_g.lr = c.optim_d.lr = 5e-4
    c.training.batch_size, c.training.n_steps, c.training.log_every = 128, 500, 250
    c.training.checkpoint_every = 500
    c.refine.eta = 0.001
    c.data.n_train, c.data.n_test = 4000, 1000
    c.corrector.n_steps, c.corrector.batch_size, c.corrector.optim.lr = 400, 64, 3e-3
    c.refine.n_samples, c.refine.batch_size, c.refine.n_paths = 1000, 1000, 16
    return _set(c, overrides)


def mesh_of(n):
    return parallel.make_mesh(devices=jax.devices()[:n])


@pytest.fixture(scope="module")
def gan_run(tmp_path_factory):
    """A WGAN-GP of small MLPs on 25 Gaussians (500 steps, one device) plus a corrector, trained once per test run.

    Shared by the xdist workers (tests/_shared.py): tests only read it; the one that refines and evaluates copies it.
    """
    cfg = tiny_config(**{"corrector.train": True})

    def train(path):
        workdir = str(path / "run")
        checks.validate(cfg, workdir, "train")
        assert training.run(cfg, workdir, mesh_of(1)) is False

    return cfg, str(built_once(tmp_path_factory, "dgflow_gan_run", train) / "run")


def test_train_refine_eval_writes_samples_pictures_and_metrics(gan_run, tmp_path):
    cfg, workdir = gan_run[0], str(tmp_path / "run")
    shutil.copytree(gan_run[1], workdir)  # refine and eval write into the workdir; the trained run is shared
    assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == ["500"]
    assert sorted(os.listdir(os.path.join(workdir, "corrector"))) == ["400"]
    mesh = checks.validate(cfg, workdir, "refine")
    samples = refinement.run(cfg, workdir, mesh)
    assert list(samples) == ["before", "dgflow_kl", "dgflow_js", "dgflow_logd", "ddls"]
    out = refinement.output_dir(cfg, workdir, 500)
    name = "latent-discriminator-n25_eta0.001-g0.01_seed1_"  # the settings readable, then their digest
    assert os.path.relpath(out, workdir).startswith(os.path.join("refine", "step_0000500", name)), out
    for name in ("samples.npz", "samples.png", "paths.png", "info.json"):
        assert os.path.isfile(os.path.join(out, name)), name
    with np.load(os.path.join(out, "samples.npz")) as f:
        assert f["path_dgflow_kl"].shape == (cfg.refine.n_saves, 16, 2)
        np.testing.assert_allclose(f["path_dgflow_kl"][-1], f["dgflow_kl"][:16], rtol=1e-4, atol=1e-4)
    res = evaluation.run(cfg, workdir, checks.validate(cfg, workdir, "eval"))
    with open(os.path.join(workdir, "eval", "metrics.json")) as f:
        assert json.load(f) == res
    other = _set(cfg.copy_and_resolve_references(), {"refine.gamma": 0.02})  # not refined with these settings
    _fails(other, workdir, "eval", "no refinement with these refine settings")
    assert refinement.output_name(other) != refinement.output_name(cfg)
    assert set(res) == {"before", "dgflow_kl", "dgflow_js", "dgflow_logd", "ddls", "data (floor)"}
    assert res["data (floor)"]["hq_percent"] > 99 and res["data (floor)"]["modes_covered"] == 25


@pytest.mark.slow
def test_dgflow_raises_quality_without_losing_modes_and_beats_ddls(gan_run):
    """On the tiny WGAN-GP: DGflow-KL with the critic lifts % high quality, keeps the modes, >= DDLS (same #grads).

    Means over 4 refine seeds of 1000 samples: the tiny GAN has ~3 % high-quality samples, so the modes
    covered by one draw vary by +-3 between seeds (one compilation serves all four: the seed is an argument).
    """
    cfg, workdir = gan_run
    generator, logit, _ = training.restore(cfg, workdir, mesh_of(1))
    test = components.load_examples(cfg, "test")
    runs = []
    for seed in range(1, 5):
        c = _set(cfg.copy_and_resolve_references(), {"refine.seed": seed})
        samples, _ = refinement.refine_samples(c, generator, logit, mesh_of(1))
        runs.append({k: evaluation.toy_metrics(c, v, test) for k, v in samples.items()})
    res = {k: {m: float(np.mean([r[k][m] for r in runs])) for m in ("hq_percent", "modes_covered")} for k in runs[0]}
    before, kl, ddls = res["before"], res["dgflow_kl"], res["ddls"]
    assert kl["hq_percent"] > before["hq_percent"] + 5, res
    assert kl["modes_covered"] >= before["modes_covered"], res
    assert kl["hq_percent"] >= ddls["hq_percent"], res


def _nudged(tree, seed: int):
    """Every float array of `tree` one ulp up or down (random signs): a rounding-level change of the model."""
    rng = np.random.default_rng(seed)

    def nudge(a):
        if not eqx.is_inexact_array(a):
            return a
        return jnp.nextafter(a, jnp.asarray(rng.choice([-np.inf, np.inf], a.shape), a.dtype))

    return jax.tree_util.tree_map(nudge, tree)


@pytest.mark.slow
def test_refinement_same_by_index_on_any_mesh_and_batch_split_with_one_compilation(gan_run):
    """Particle i depends on (refine.seed, i) only; the models are arguments of one compiled program.

    Tolerance: particles are independent, so 8 devices and batches of 16 instead of 64 can only change the
    float32 rounding inside a particle's own computation (matmul blocking for another number of rows),
    never which operations run. `delta`, the largest change of the samples when every weight moves by one
    ulp (two random directions), is this refinement's float32 sensitivity to a rounding-level change.
    A different rounding enters at each of the n_steps gradient evaluations, each at most a few ulps
    (factor 4), and the n_steps contributions, each grown at most like a change at the start, add up like
    a random walk: |sharded - single| <= 4 sqrt(n_steps) max(delta, ulp of the samples).
    """
    cfg, workdir = gan_run
    cfg = _set(
        cfg.copy_and_resolve_references(), {"refine.n_samples": 64, "refine.batch_size": 64, "refine.gamma": 0.05}
    )
    models = training.restore(cfg, workdir, mesh_of(1))[:2]
    one, _ = refinement.refine_samples(cfg, *models, mesh_of(1))
    traces = refinement.TRACES["refine"]
    again, _ = refinement.refine_samples(cfg, *models, mesh_of(1))
    nudged = [refinement.refine_samples(cfg, *_nudged(models, s), mesh_of(1))[0] for s in (0, 1)]
    assert refinement.TRACES["refine"] == traces  # the same and two other models of the same shapes: no retrace
    traces = refinement.TRACES["refine"]
    # 8 devices and 4 batches of 16 (2 particles per device) against 1 device and one batch of 64
    split, _ = refinement.refine_samples(_set(cfg.copy_and_resolve_references(), {"refine.batch_size": 16}),
                                         *models, mesh_of(8))  # fmt: skip
    assert refinement.TRACES["refine"] - traces <= 1  # 4 batches, one compilation
    n_steps = cfg.refine.n_steps
    for k in one:
        np.testing.assert_array_equal(one[k], again[k])
        delta = max(float(np.abs(n[k] - one[k]).max()) for n in nudged)
        tol = 4 * np.sqrt(n_steps) * max(delta, float(np.spacing(np.abs(one[k]).max())))
        assert tol < 1e-3 * np.abs(one[k]).max(), (k, tol)  # the bound is far below the samples' scale
        assert np.abs(split[k] - one[k]).max() <= tol, (k, np.abs(split[k] - one[k]).max(), tol)
    assert max(float(np.abs(n["dgflow_kl"] - one["dgflow_kl"]).max()) for n in nudged) > 0  # weights are read
    assert not np.allclose(one["dgflow_kl"], one["before"])


@pytest.mark.slow
def test_gan_training_on_eight_devices_matches_one_device(tmp_path):
    """The alternating step sharded over 8 devices (batch split, gradients all-reduced) gives the same weights."""
    cfg = tiny_config(**{"training.n_steps": 10, "training.checkpoint_every": 10, "training.batch_size": 32})
    states = []
    for n in (1, 8):
        training.run(cfg, str(tmp_path / f"d{n}"), mesh_of(n))
        template, _, _, _ = training.build_gan(cfg, mesh_of(1))
        states.append(training.restore_checkpoint(training.model_dir(str(tmp_path / f"d{n}")), template, "GAN")[0])
    for a, b in zip(jax.tree_util.tree_leaves((states[0].g, states[0].d)),
                    jax.tree_util.tree_leaves((states[1].g, states[1].d)), strict=True):  # fmt: skip
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)


def test_corrector_separates_data_from_generated_samples(gan_run):
    cfg, workdir = gan_run
    cfg = _set(cfg.copy_and_resolve_references(), {"refine.ratio": "corrector"})
    generator, logit, _ = training.restore(cfg, workdir, mesh_of(1))
    real = components.load_examples(cfg, "test")[:500]
    fake = generator(jax.random.normal(jax.random.key(0), (500, 2)))
    # a logistic classifier after 400 steps: d is larger on data than on generated samples, on average
    assert float(np.mean(logit(real))) > float(np.mean(logit(fake))) + 0.05


def test_checkpoints_export_g_and_d_and_refine_restores_them_without_the_optimizer_state(gan_run, tmp_path):
    """Every GAN / corrector step holds a model export; with the full states deleted, refine's restore reads the
    exports alone (the same G, d and corrector); checkpoints without exports still restore from the full state."""
    cfg, workdir = gan_run
    template, _, statics, _ = training.build_gan(cfg, mesh_of(1))
    full, _ = training.restore_checkpoint(training.model_dir(workdir), template, "GAN")
    exports_only, no_exports = str(tmp_path / "exports_only"), str(tmp_path / "no_exports")
    for copy, drop in ((exports_only, "state"), (no_exports, "model")):
        shutil.copytree(workdir, copy)
        for d in (training.model_dir(copy), training.corrector_dir(copy)):
            for step in os.listdir(d):
                assert os.path.isdir(os.path.join(d, step, "model")), (d, step)
                shutil.rmtree(os.path.join(d, step, drop))
    x = np.asarray(jax.random.normal(jax.random.key(0), (64, 2)))
    out = {}
    for copy in (exports_only, no_exports):
        for ratio in ("discriminator", "corrector"):
            c = _set(cfg.copy_and_resolve_references(), {"refine.ratio": ratio})
            generator, logit, step = training.restore(c, copy, mesh_of(1))
            assert step == 500
            out[copy, ratio] = (np.asarray(generator(x)), np.asarray(logit(x)))
    g, d = (components.batched(eqx.combine(p, s)) for p, s in zip((full.g, full.d), statics, strict=True))
    np.testing.assert_array_equal(out[exports_only, "discriminator"][0], np.asarray(g(x)))
    np.testing.assert_array_equal(out[exports_only, "discriminator"][1], np.asarray(d(x)))
    for ratio in ("discriminator", "corrector"):
        for a, b in zip(out[exports_only, ratio], out[no_exports, ratio], strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_vae_with_corrector_trains_and_refines_in_data_space(tmp_path):
    cfg = tiny_config(
        **{
            "model.kind": "vae",
            "model.encoder": grid25.get_config().model.discriminator,
            "refine.ratio": "corrector",
            "training.n_steps": 60,
            "training.checkpoint_every": 60,
            "corrector.n_steps": 40,
            "refine.n_samples": 64,
            "refine.batch_size": 64,
            "refine.fs": ("kl",),
            "refine.space": "data",
        }
    )
    workdir = str(tmp_path / "vae")
    assert training.run(cfg, workdir, checks.validate(cfg, workdir, "train")) is False
    samples = refinement.run(cfg, workdir, checks.validate(cfg, workdir, "refine"))
    assert list(samples) == ["before", "dgflow_kl", "ddls"]
    assert all(np.all(np.isfinite(v)) for v in samples.values())
    assert not np.allclose(samples["dgflow_kl"], samples["before"])


def _fails(cfg, workdir, mode, needle):
    with pytest.raises(ValueError, match=needle) as e:
        checks.validate(cfg, workdir, mode)
    assert "\n" not in str(e.value)


def test_bad_inputs_fail_with_one_line_before_writing(tmp_path, gan_run):
    _, trained = gan_run
    empty = str(tmp_path / "empty")
    _fails(tiny_config(), empty, "refine", "no trained generator/discriminator checkpoint")
    assert not os.path.exists(empty)
    _fails(tiny_config(**{"refine.fs": ("kl", "hellinger")}), trained, "refine", "refine.fs has f='hellinger'")
    _fails(tiny_config(**{"refine.eta": -0.1}), trained, "refine", "refine.eta=-0.1 must be a positive")
    _fails(tiny_config(**{"refine.gamma": -0.01}), trained, "refine", "refine.gamma=-0.01 must be >= 0")
    _fails(tiny_config(**{"model.kind": "vae", "model.encoder": grid25.get_config().model.discriminator}),
           empty, "train", "refine.ratio='discriminator' but a VAE")  # fmt: skip
    _fails(tiny_config(**{"gan.loss": "lsgan"}), empty, "train", "gan.loss='lsgan'")
    _fails(tiny_config(**{"training.batch_size": 63}), empty, "train", "training.batch_size=63")
    no_corrector = str(tmp_path / "no_corrector")
    os.makedirs(os.path.join(no_corrector, "checkpoints", "10"))
    _fails(tiny_config(**{"refine.ratio": "corrector"}), no_corrector, "refine", "no trained corrector checkpoint")
    _fails(tiny_config(), trained + "_none", "eval", "no trained")


@pytest.mark.parametrize("name", ["grid25", "swissroll", "digits", "digits_vae", "cifar"])
def test_configs_build(name):
    cfg = importlib.import_module(f"configs.dgflow.{name}").get_config()
    checks.check_config(cfg)


def test_cifar_without_the_archive_is_a_clear_error(tmp_path):
    cfg = importlib.import_module("configs.dgflow.cifar").get_config()
    with pytest.raises(ValueError, match="data.path"):
        checks.validate(cfg, str(tmp_path / "c"), "train")
    assert not os.path.exists(tmp_path / "c")


def test_cli_refine_without_training_exits_with_one_error_line(tmp_path):
    workdir = str(tmp_path / "cli")
    cmd = [sys.executable, os.path.join(ROOT, "projects", "dgflow", "main.py"),
           "--config=configs/dgflow/grid25.py", f"--workdir={workdir}", "--mode=refine"]  # fmt: skip
    out = subprocess.run(cmd, env=child_env(), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode != 0
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("error:") and "run --mode=train first" in last, out.stderr[-1500:]
    assert not os.path.exists(workdir)


# the two-process run: 2 critic steps per G step (enough for the per-device row layout of critic batches),
# one f (every f takes the same path), 2 batches of 128, noise on (processes must draw different particles)
TWO_PROCESS = {"training.n_steps": 20, "training.checkpoint_every": 20, "training.log_every": 10,
               "training.batch_size": 64, "gan.n_critic": 2, "data.n_train": 1000, "data.n_test": 500,
               "refine.n_samples": 256, "refine.batch_size": 128, "refine.n_steps": 5, "refine.n_paths": 0,
               "refine.fs": ("kl",)}  # fmt: skip


def _dgflow_cli(workdir, mode, *extra, devices: int):
    args = ["--config=configs/dgflow/grid25.py", f"--workdir={workdir}", f"--mode={mode}",
            *(f"--config.{k}={v!r}" if isinstance(v, tuple) else f"--config.{k}={v}" for k, v in TWO_PROCESS.items()),
            *extra]  # fmt: skip
    cmd = [sys.executable, os.path.join(ROOT, "projects", "dgflow", "main.py"), *args]
    pipes = dict(stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.Popen(cmd, env=child_env(devices), cwd=ROOT, **pipes)


@pytest.mark.slow
def test_two_process_distributed_train_and_refine_match_one_process(tmp_path):
    """WGAN-GP training and DGflow/DDLS refinement over 2 processes x 4 devices = 1 process x 8 devices.

    The 2 processes run main.py (jax.distributed on 127.0.0.1); the reference is the same train and refine
    in this process on its 8 devices (what main.py calls), which saves two interpreter starts.
    """
    import socket

    dist = str(tmp_path / "dist")
    for mode in ("train", "refine"):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        flags = [f"--coordinator=127.0.0.1:{port}", "--num_processes=2"]
        procs = [_dgflow_cli(dist, mode, *flags, f"--process_id={i}", devices=4) for i in range(2)]
        logs = [p.communicate(timeout=600)[1] for p in procs]
        assert all(p.returncode == 0 for p in procs), "\n".join(log[-1500:] for log in logs)
    cfg, single = _set(grid25.get_config(), dict(TWO_PROCESS)), str(tmp_path / "single")
    assert training.run(cfg, single, checks.validate(cfg, single, "train")) is False
    refinement.run(cfg, single, checks.validate(cfg, single, "refine"))
    a, b = (np.load(os.path.join(refinement.output_dir(cfg, w, 20), "samples.npz")) for w in (dist, single))
    assert sorted(a.files) == sorted(b.files) == ["before", "data", "ddls", "dgflow_kl"]
    for name in b.files:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-4, atol=1e-4, err_msg=name)
