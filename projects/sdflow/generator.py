"""Model optimisation (the paper's second algorithm): train G(z) by regressing its outputs onto their SD-flow updates.

For each sigma level (annealed like the particle flow), steps_per_level times: draw z, x = G(z),
x' = x + eta_l v_sigma_l(x) with the source proxy the kernel score of the batch x itself, and take
one optimiser step on |G(z) - stop_gradient(x')|^2. The trained G is a one-step sampler.
"""

import collections
import math
import os

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from ml_collections import ConfigDict

from scoresde import checkpoint, nets, parallel, train

from . import components


def build(cfg, shape, key):
    """G: latent z (the source's shape) -> a sample; the registry's gan_mlp (ReLU: sharp splits between modes)."""
    g = cfg.generator
    m = ConfigDict(dict(name="gan_mlp", in_dim=math.prod(shape), out_shape=tuple(shape), width=g.width,
                        depth=g.depth, activation=g.activation))  # fmt: skip
    return nets.build(m, key)


TRACES = collections.Counter()  # times the jitted loss / sampler were traced (tests: once per run / shape)


def apply(model, z):
    return jax.vmap(model)(z)


@eqx.filter_jit
def sample(model, z):
    """G(z) for a batch of latents, jitted with G as an argument (one compilation for any G of the same shape)."""
    TRACES["sample"] += 1
    return apply(model, z)


class LatentBatches:
    """Global batches {'z', 'sigma', 'eta'} computed from (seed, step): resumable through get/set_state."""

    def __init__(self, cfg, shape, sigmas, steps):
        self.cfg, self.shape, self.sigmas, self.steps, self.step = cfg, shape, sigmas, steps, 0
        self.local = cfg.generator.batch_size // jax.process_count()

    def __iter__(self):
        return self

    def __next__(self):
        g = self.cfg.generator
        level = min(self.step // g.steps_per_level, len(self.sigmas) - 1)
        rng = np.random.default_rng([self.cfg.seed, 30, self.step, jax.process_index()])
        z = self.cfg.source.std * rng.standard_normal((self.local, *self.shape)).astype(np.float32)
        self.step += 1
        full = lambda v: np.full((self.local,), v, np.float32)  # noqa: E731
        return {"z": z, "sigma": full(self.sigmas[level]), "eta": full(self.steps[level])}

    def get_state(self):
        return {"step": self.step}

    def set_state(self, state):
        self.step = int(state["step"])


def make_loss(proxies_static):
    """loss(G, batch, key); batch["proxies"] holds the arrays of (velocity, aux): arguments, not constants."""

    def loss(model, batch, key):
        TRACES["loss"] += 1
        velocity, aux = eqx.combine(batch["proxies"], proxies_static)
        x = apply(model, batch["z"])
        sigma, eta = batch["sigma"][0], batch["eta"][0]
        target = jax.lax.stop_gradient(x + eta * velocity(jax.lax.stop_gradient(x), sigma, aux))
        return jnp.mean(jnp.sum((x - target).reshape(x.shape[0], -1) ** 2, axis=1))

    return loss


def _state(cfg, shape):
    k_model, k_train = jax.random.split(jax.random.key(cfg.seed + 300))
    optimizer = train.make_optimizer(cfg.optim)
    state, static = train.init_state(build(cfg, shape, k_model), optimizer, k_train, flat=cfg.parallel.fsdp == 1)
    return state, static, optimizer


def fit(cfg, velocity, aux, shape, workdir, mesh):
    """Train G over all levels (n_levels * generator.steps_per_level steps), resuming; returns (state, stopped)."""
    sig = components.sigmas(cfg)
    steps = components.step_sizes(cfg, sig)
    state, static, optimizer = _state(cfg, shape)
    shardings = parallel.param_shardings(mesh, state)
    state = parallel.shard_tree(state, shardings)
    arrays, proxies_static = eqx.partition((velocity, aux), eqx.is_array)
    rep, batch = parallel.replicated(mesh), parallel.batch_sharding(mesh)
    arrays = parallel.shard_tree(arrays, jax.tree.map(lambda _: rep, arrays))
    step = train.make_train_step(make_loss(proxies_static), optimizer, static, ema_rate=0.0)
    jitted = train.jit_train_step(step, shardings, {"z": batch, "sigma": batch, "eta": batch, "proxies": rep})
    g = cfg.generator

    def on_log(s, metrics, sec):
        return f"grad_norm {float(metrics['grad_norm']):.3f}"

    ckpt = checkpoint.Checkpointer(os.path.join(workdir, "checkpoints", "generator"), max_to_keep=2)
    state, stopped = train.train_loop(
        state, jitted, LatentBatches(cfg, shape, sig, steps),
        lambda b: {**parallel.global_batch(b, mesh), "proxies": arrays}, ckpt,
        total_steps=len(sig) * g.steps_per_level, log_every=g.log_every, checkpoint_every=g.checkpoint_every,
        on_log=on_log, name="generator",
    )  # fmt: skip
    ckpt.close()
    return state, stopped


def restore(cfg, shape, workdir):
    folder = os.path.join(workdir, "checkpoints", "generator")
    ckpt = checkpoint.Checkpointer(folder) if os.path.isdir(folder) else None
    if ckpt is None or ckpt.latest_step() is None:
        raise ValueError(f"--workdir={workdir!r} has no trained generator: run --mode=train first")
    state, static, _ = _state(cfg, shape)
    state, _ = ckpt.restore(state)
    ckpt.close()
    return train.model_from(state.params, static)
