"""SD flow: exact-score velocity, KL decrease, the diffusion link, a tiny kernel run, determinism, bad inputs."""

import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from configs.sdflow import gauss_to_25gaussians  # noqa: E402
from projects.sdflow import checks, components, evaluation, flow, flowing, proxies  # noqa: E402
from scoresde import oracle, sde, solvers  # noqa: E402


def _tiny(**kw):
    c = gauss_to_25gaussians.get_config()
    c.flow.n_particles, c.target.n, c.target.n_test = 256, 256, 256
    c.flow.n_levels, c.flow.steps_per_level = 6, 5
    c.eval.n_projections = 64
    for k, v in kw.items():
        node = c
        *path, last = k.split(".")
        for p in path:
            node = node[p]
        node[last] = v
    return c


def test_exact_velocity_is_the_analytic_score_difference():
    p, q = oracle.grid_mixture(), oracle.GaussianMixture(np.array([1.0]), np.zeros((1, 2)), np.array([1.0]))
    x = jax.random.normal(jax.random.key(0), (16, 2)) * 2
    sigma = 0.7
    v = proxies.velocity(proxies.exact_score(p), proxies.exact_score(q))(x, sigma)
    xn, mu, var = np.asarray(x, float), np.asarray(p.means, float), 0.05**2 + sigma**2
    logits = -((xn[:, None] - mu[None]) ** 2).sum(-1) / (2 * var)
    r = np.exp(logits - logits.max(1, keepdims=True))
    r /= r.sum(1, keepdims=True)
    ref = (r[..., None] * (mu[None] - xn[:, None])).sum(1) / var - (-xn / (1 + sigma**2))
    np.testing.assert_allclose(v, ref, rtol=1e-4, atol=1e-4)


def test_denoiser_form_of_the_velocity_equals_the_score_form():
    """v = (D_p - D_q) / sigma^2 with Tweedie denoisers of the two sample sets (DESIGN section 3)."""
    y = jax.random.normal(jax.random.key(5), (300, 2)) * 2
    x = jax.random.normal(jax.random.key(6), (64, 2))
    sigma = 0.6
    chunks = dict(chunk_size=128, query_chunk=32)
    by_score = proxies.velocity(proxies.kernel_score(y, **chunks), proxies.kernel_self_score(**chunks))(x, sigma)
    d_p = lambda z, s: oracle.empirical_denoiser(z, y, s, **chunks)  # noqa: E731
    d_q = lambda z, s: oracle.empirical_denoiser(z, z, s, **chunks)  # noqa: E731
    by_denoiser = proxies.denoiser_velocity(d_p, d_q)(x, sigma)
    np.testing.assert_allclose(by_denoiser, by_score, rtol=1e-4, atol=1e-4)
    assert float(jnp.abs(by_score).max()) > 0.1


def test_kl_between_proxies_decreases_monotonically_for_small_eta():
    p = oracle.grid_mixture()
    x = jax.random.normal(jax.random.key(1), (200, 2))
    sigma = 1.0
    v = proxies.velocity(proxies.exact_score(p), proxies.kernel_self_score(chunk_size=256, query_chunk=256))
    log_p = lambda u, s: p.perturbed(1.0, s).log_prob(u)  # noqa: E731
    kl = jax.jit(lambda y: evaluation.kl_proxies(y, sigma, log_p, jax.random.key(2), n_mc=64))
    _, path, nfe, _ = flow.anneal(x, [sigma] * 8, [0.05] * 8, steps_per_level=2, velocity=lambda y, s, a: v(y, s))
    kls = np.array([float(kl(path[i])) for i in range(path.shape[0])])
    assert nfe == 16 and np.all(np.diff(kls) < 0), kls


def test_flat_source_sd_step_is_the_core_pf_ode_and_reverse_diffusion_step():
    """DIFFUSION_LINK.md: grad log q_sigma = 0, sigma = the VE level, eta = g^2 dt / 2 (ODE) or g^2 dt (+ noise)."""
    p, ve = oracle.grid_mixture(), sde.VESDE(sigma_min=0.01, sigma_max=50.0)
    x = jax.random.normal(jax.random.key(3), (32, 2)) * 3
    t, dt = 0.6, 0.01
    tb = jnp.full((32,), t)
    sigma = float(ve.sigma(t))
    score = p.score_fn(ve)(x, tb)
    flat = lambda y, s: jnp.zeros_like(y)  # noqa: E731
    v = proxies.velocity(proxies.exact_score(p), flat)(x, sigma)
    euler = x - dt * ve.ode_drift(x, tb, score)
    np.testing.assert_allclose(x + 0.5 * float(ve.diffusion(t)) ** 2 * dt * v, euler, rtol=1e-5, atol=1e-5)
    z = jax.random.normal(jax.random.key(4), x.shape)
    rd, _ = solvers.reverse_diffusion_step(ve, x, tb, score, dt, z)
    eta = sigma**2 - float(ve.sigma(t - dt)) ** 2
    np.testing.assert_allclose(x + eta * v + np.sqrt(eta) * z, rd, rtol=1e-4, atol=1e-4)


def test_kernel_flow_reaches_25_gaussians_deterministic_and_sharded(tmp_path):
    from tests.projects._ncsn_helpers import mesh_of

    cfg = _tiny()
    target, test = components.target_samples(cfg, "train"), components.target_samples(cfg, "test")
    p1, _, nfe, _ = flowing.particles(cfg, mesh_of(1), str(tmp_path), target)
    p8, _, _, _ = flowing.particles(cfg, mesh_of(8), str(tmp_path), target)
    np.testing.assert_allclose(p1, p8, rtol=1e-4, atol=1e-4)
    assert nfe == 30
    rows, ref, _ = evaluation.level_metrics(cfg, p1, np.geomspace(2, 0.05, 6), target, test)
    assert rows[-1]["swd"] < 1.5 * ref["swd_data_vs_data"] < rows[0]["swd"]


@pytest.mark.parametrize(
    "override, message",
    [
        ({"flow.eta": -0.1}, "flow.eta"),
        ({"flow.sigmas": "0.5,1,2"}, "strictly decreasing"),
        ({"flow.sigma_max": 0.01}, "must exceed"),
        ({"target.n": 0}, "empty"),
        ({"source.name": "digits"}, "same data shape"),
        ({"proxy.target": "exact", "target.name": "swissroll"}, "Gaussian-mixture"),
        ({"proxy.source": "learned", "learned.refit_every": 3}, "refit_every"),
        ({"proxy.source": "learned", "learned.refit_steps": -1}, "learned.refit_steps"),
        ({"proxy.source": "learned", "learned.refit_batch": 10**6}, "learned.refit_batch"),
        ({"proxy.target": "learned", "learned.log_every": 0}, "learned.log_every"),
        ({"flow.method": "generator", "flow.noise": 0.1}, "flow.noise"),
        ({"flow.method": "generator", "generator.steps_per_level": 0}, "generator.steps_per_level"),
    ],
)
def test_bad_input_one_line_error_and_nothing_written(tmp_path, override, message):
    workdir = str(tmp_path / "run")
    with pytest.raises(ValueError, match=message) as e:
        checks.validate(_tiny(**override), workdir, "flow")
    assert "\n" not in str(e.value) and not os.path.exists(workdir)


def _learned_tiny():
    return _tiny(**{"proxy.target": "learned", "proxy.source": "learned", "learned.width": 64, "learned.depth": 2,
                    "learned.n_steps": 400, "learned.batch_size": 128, "learned.log_every": 200,
                    "learned.checkpoint_every": 200, "learned.refit_steps": 2, "flow.sigma_max": 4.0})  # fmt: skip


def test_learned_proxies_train_flow_eval_and_deterministic(tmp_path):
    """Both score nets trained by DSM, the source net re-fitted on the particles every step, then the flow."""
    from projects.sdflow import training
    from tests.projects._ncsn_helpers import mesh_of

    cfg, workdir = _learned_tiny(), str(tmp_path / "run")
    with pytest.raises(ValueError, match="no trained target score net"):
        proxies.from_config(cfg, components.target_samples(cfg, "train"), workdir)
    assert training.run(cfg, workdir, mesh_of(1)) == ["target", "source"]
    _, record = flowing.run(cfg, workdir, mesh_of(1))
    assert record["nfe"] == 30 and os.path.isfile(os.path.join(workdir, "flow", "particles.png"))
    result = evaluation.run(cfg, workdir, mesh_of(1))
    first, last = result["levels"][0]["swd"], result["final_swd"]
    assert last < 0.5 * first, (first, last)
    target = components.target_samples(cfg, "train")
    again, _, _, _ = flowing.particles(cfg, mesh_of(1), workdir, target)
    np.testing.assert_array_equal(again[-1], np.load(os.path.join(workdir, "flow", "path.npz"))["path"][-1])
    sharded, _, _, _ = flowing.particles(cfg, mesh_of(8), workdir, target)  # particles over 8 devices
    np.testing.assert_allclose(sharded[-1], again[-1], rtol=1e-3, atol=1e-3)


def test_stale_source_net_diverges_and_refit_keeps_it_bounded(tmp_path):
    """Why the source net is re-fitted every step: frozen, it keeps pushing particles out (q_sigma stays N(0, I))."""
    from projects.sdflow import training
    from tests.projects._ncsn_helpers import mesh_of

    cfg, workdir = _learned_tiny(), str(tmp_path / "run")
    training.run(cfg, workdir, mesh_of(1))
    target = components.target_samples(cfg, "train")
    refit, _, _, _ = flowing.particles(cfg, mesh_of(1), workdir, target)
    cfg.learned.refit_steps = 0
    frozen, _, _, _ = flowing.particles(cfg, mesh_of(1), workdir, target)
    assert np.abs(refit[-1]).max() < 8 < np.abs(frozen[-1]).max()


def test_generator_is_a_one_step_sampler_and_resumes(tmp_path):
    from configs.sdflow import gauss_to_25gaussians_generator
    from projects.sdflow import generator, training
    from tests.projects._ncsn_helpers import mesh_of

    cfg = gauss_to_25gaussians_generator.get_config()
    # the batch is the q proxy: it needs many samples (BENCHMARKS.md), so 1000 here, 5 levels x 200 steps
    cfg.flow.n_particles, cfg.target.n, cfg.target.n_test, cfg.generator.batch_size = 1000, 1000, 1000, 1000
    cfg.flow.n_levels, cfg.generator.steps_per_level, cfg.generator.width = 5, 200, 128
    cfg.generator.checkpoint_every, cfg.eval.n_projections = 500, 64
    workdir = str(tmp_path / "run")
    assert training.run(cfg, workdir, mesh_of(1)) == ["generator"]
    path, record = flowing.run(cfg, workdir, mesh_of(1))
    assert record["nfe"] == 1 and path.shape == (2, 1000, 2)
    result = evaluation.run(cfg, workdir, mesh_of(1))
    assert result["final_swd"] < 0.85 * result["levels"][0]["swd"], result
    model = generator.restore(cfg, (2,), workdir)
    training.run(cfg, workdir, mesh_of(1))  # already at the last step: nothing changes
    again = generator.restore(cfg, (2,), workdir)
    z = components.source_samples(cfg)
    np.testing.assert_array_equal(generator.apply(model, z), generator.apply(again, z))


@pytest.mark.parametrize(
    "name",
    ["gauss_to_25gaussians", "gauss_to_swissroll", "gaussians25_to_swissroll", "noise_to_digits",
     "gauss_to_25gaussians_generator", "cifar10"],
)  # fmt: skip
def test_every_shipped_config_validates_and_cifar_names_its_flag(tmp_path, name):
    import importlib

    cfg = importlib.import_module(f"configs.sdflow.{name}").get_config()
    workdir = str(tmp_path / "run")
    if name == "cifar10":
        with pytest.raises(ValueError, match=r"^target\.path is not set.*--config\.target\.path=PATH$"):
            checks.validate(cfg, workdir, "flow")
    else:
        checks.validate(cfg, workdir, "train")
    assert not os.path.exists(workdir)


def test_cifar_source_without_the_archive_names_source_path(tmp_path):
    cfg = _tiny(**{"source.name": "cifar10", "target.name": "cifar10", "target.path": "/nonexistent/cifar.tar.gz"})
    with pytest.raises(ValueError, match=r"source\.path|target\.path") as e:
        components.source_samples(cfg)
    assert "source.path" in str(e.value) and "target.path" not in str(e.value)


def _sdflow_cli(workdir, *extra, devices: int):
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env.update({"JAX_PLATFORMS": "cpu", "PYTHONUNBUFFERED": "1",
                "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"})  # fmt: skip
    args = ["--config=configs/sdflow/gauss_to_25gaussians.py", f"--workdir={workdir}", "--mode=flow",
            "--config.flow.n_particles=256", "--config.target.n=256", "--config.target.n_test=256",
            "--config.flow.n_levels=6", "--config.flow.steps_per_level=5", *extra]  # fmt: skip
    cmd = [sys.executable, os.path.join(ROOT, "projects", "sdflow", "main.py"), *args]
    return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_process_distributed_flow_matches_one_process(tmp_path):
    """Particles sharded over 2 processes x 4 devices (jax.distributed on 127.0.0.1) = one process with 8 devices."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dist = [
        _sdflow_cli(
            tmp_path / "dist", f"--coordinator=127.0.0.1:{port}", "--num_processes=2", f"--process_id={i}", devices=4
        )  # fmt: skip
        for i in range(2)
    ]
    logs = [p.communicate(timeout=600)[1] for p in dist]
    assert all(p.returncode == 0 for p in dist), logs[0][-2000:] + logs[1][-2000:]
    single = _sdflow_cli(tmp_path / "single", devices=8)
    log = single.communicate(timeout=600)[1]
    assert single.returncode == 0, log[-2000:]
    a = np.load(tmp_path / "dist" / "flow" / "path.npz")["path"]
    b = np.load(tmp_path / "single" / "flow" / "path.npz")["path"]
    assert a.shape == b.shape == (7, 256, 2)
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
