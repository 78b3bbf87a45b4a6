"""Learned proxy scores: sigma-conditioned MLP score nets trained by multi-sigma DSM with the library's training code.

The target net is trained once on the target samples (--mode=train); the source net is trained
on the initial particles and then re-fitted on the moving particles inside the jitted flow:
learned.refit_steps DSM steps at the current sigma before every learned.refit_every flow steps
(default 1: every step; 0: once per level).
"""

import math
import os

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import PyTree
from ml_collections import ConfigDict

from scoresde import checkpoint, data, nets, objectives, parallel, train


def build_net(cfg, shape, key):
    m = ConfigDict(dict(name="mlp", dim=math.prod(shape), width=cfg.learned.width, depth=cfg.learned.depth))
    return nets.build(m, key)


def dsm_loss(ladder):
    """loss(model, batch, key): NCSN's multi-sigma DSM of the net's score s(x, sigma) = net(x, log sigma) / sigma."""

    def loss(model, batch, key):
        fn = nets.sigma_score_fn_from_net(model, parameterization="scale_by_sigma", conditioning="log_sigma")
        sig = batch["sigma"] if ladder is None else ladder
        return objectives.ncsn_loss(fn, sig, batch["x"], key)

    return loss


def _state(cfg, shape, seed_offset, optim_cfg):
    k_model, k_train = jax.random.split(jax.random.key(cfg.seed + seed_offset))
    optimizer = train.make_optimizer(optim_cfg)
    state, static = train.init_state(build_net(cfg, shape, k_model), optimizer, k_train, flat=cfg.parallel.fsdp == 1)
    return state, static, optimizer


def fit(cfg, name: str, samples: np.ndarray, ladder: np.ndarray, workdir: str, mesh, seed_offset: int):
    """Train (or resume) the score net `name` on `samples` over the noise ladder; returns the EMA model."""
    state, static, optimizer = _state(cfg, samples.shape[1:], seed_offset, cfg.optim)
    shardings = parallel.param_shardings(mesh, state)
    state = parallel.shard_tree(state, shardings)
    step = train.make_train_step(dsm_loss(ladder), optimizer, static, ema_rate=cfg.learned.ema_rate)
    jitted = train.jit_train_step(step, shardings, parallel.batch_sharding(mesh))
    batches = iter(
        data.make_dataset(
            {"x": samples},
            batch_size=cfg.learned.batch_size,
            seed=cfg.seed + seed_offset,
            process_index=jax.process_index(),
            process_count=jax.process_count(),
        )
    )

    def on_log(s, metrics, sec):
        return f"grad_norm {float(metrics['grad_norm']):.3f}"

    ckpt = checkpoint.Checkpointer(os.path.join(workdir, "checkpoints", name), max_to_keep=2)
    state, stopped = train.train_loop(
        state, jitted, batches, lambda b: parallel.global_batch(b, mesh), ckpt,
        total_steps=cfg.learned.n_steps, log_every=cfg.learned.log_every,
        checkpoint_every=cfg.learned.checkpoint_every, on_log=on_log, name=f"{name} net",
    )  # fmt: skip
    ckpt.close()
    return state, stopped


def restore(cfg, name: str, shape, workdir: str, seed_offset: int):
    """The EMA score net `name` from workdir/checkpoints/<name>."""
    folder = os.path.join(workdir, "checkpoints", name)
    ckpt = checkpoint.Checkpointer(folder) if os.path.isdir(folder) else None
    if ckpt is None or ckpt.latest_step() is None:
        raise ValueError(f"--workdir={workdir!r} has no trained {name} score net: run --mode=train first")
    state, static, _ = _state(cfg, shape, seed_offset, cfg.optim)
    state, _ = ckpt.restore(state)
    ckpt.close()
    return train.model_from(state.ema, static)


class Refit(eqx.Module):
    """refit(state, x, sigma, key) -> state: `n_steps` DSM steps at sigma on the current particles.

    Only static settings (the net's non-array part, the optimiser's fields): the state comes in as an
    argument, so two runs with the same settings share one compiled flow.
    """

    static: PyTree
    optim: tuple = eqx.field(static=True)  # the refit optimiser's config items
    n_steps: int = eqx.field(static=True)
    n_batch: int = eqx.field(static=True)  # particles per step (0: all)

    @classmethod
    def from_config(cls, cfg, static) -> "Refit":
        items = tuple(sorted(cfg.refit_optim.to_dict().items()))
        return cls(static, items, cfg.learned.refit_steps, cfg.learned.refit_batch)

    def __call__(self, state, x, sigma, key):
        step = train.make_train_step(dsm_loss(None), train.make_optimizer(dict(self.optim)), self.static, ema_rate=0.0)

        def one(st, k):
            xb = x if not self.n_batch else x[jax.random.choice(k, x.shape[0], (self.n_batch,), replace=False)]
            st, _ = step(st, {"x": xb, "sigma": jnp.reshape(sigma, (1,))})
            return st, None

        state, _ = jax.lax.scan(one, state, jax.random.split(key, self.n_steps))
        return state


def refit_state(cfg, model):
    """A fresh refit optimiser state around the trained source net: (state, static)."""
    optimizer = train.make_optimizer(cfg.refit_optim)
    params, static = eqx.partition(model, eqx.is_inexact_array)
    state = train.TrainState(
        step=jnp.zeros((), jnp.int32), params=params, ema=params, opt_state=optimizer.init(params),
        key=jax.random.key(cfg.seed + 7), bad=jnp.zeros((), bool),
    )  # fmt: skip
    return state, static
