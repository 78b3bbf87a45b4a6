"""--mode=train: the GAN (alternating n_critic discriminator steps and one generator step per jitted step) or
the VAE, then (for a VAE, or with corrector.train) the density-ratio corrector; all through scoresde.train_loop.

Checkpoints: workdir/checkpoints (GAN or VAE), workdir/corrector (the corrector), each step with a model export
(G and d; the VAE's / the corrector's EMA) that refine restores without the optimiser states. Runs resume.
"""

import os

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from absl import logging
from jaxtyping import Array, Bool, Int, PRNGKeyArray, PyTree

from scoresde import checkpoint, data, nets, parallel, train

from . import components, losses


class GANState(eqx.Module):
    """Everything a GAN run updates, as arrays: both networks' parameters and optimiser states."""

    step: Int[Array, ""]
    g: PyTree
    d: PyTree
    g_opt: PyTree
    d_opt: PyTree
    key: PRNGKeyArray
    bad: Bool[Array, ""]  # a non-finite loss or gradient was met: the state stopped updating


def needs_corrector(cfg) -> bool:
    return cfg.model.kind == "vae" or cfg.corrector.train or cfg.refine.ratio == "corrector"


def _place(state, mesh):
    shardings = parallel.param_shardings(mesh, state)
    return parallel.shard_tree(state, shardings), shardings


# ---- GAN --------------------------------------------------------------------------------------
def build_gan(cfg, mesh):
    """(sharded state, its shardings, (generator static, discriminator static), (optimiser g, optimiser d))."""
    k_model, k_train = jax.random.split(jax.random.key(cfg.seed))
    gen, disc = components.build_model(cfg, k_model)
    (g, g_static), (d, d_static) = (eqx.partition(m, eqx.is_inexact_array) for m in (gen, disc))
    opt_g, opt_d = train.make_optimizer(cfg.optim_g), train.make_optimizer(cfg.optim_d)
    state = GANState(
        step=jnp.zeros((), jnp.int32),
        g=g,
        d=d,
        g_opt=opt_g.init(g),
        d_opt=opt_d.init(d),
        key=k_train,
        bad=jnp.zeros((), bool),
    )
    state, shardings = _place(state, mesh)
    return state, shardings, (g_static, d_static), (opt_g, opt_d)


def make_gan_step(cfg, statics, optimizers):
    """step(state, batch) -> (state, metrics): n_critic discriminator updates on n_critic real batches, then G."""
    g_static, d_static = statics
    opt_g, opt_d = optimizers
    kind, n_critic, b = cfg.gan.loss, cfg.gan.n_critic, cfg.training.batch_size
    latent, shape = cfg.model.latent_dim, components.data_shape(cfg)
    G = lambda p: components.batched(eqx.combine(p, g_static))  # noqa: E731
    D = lambda p: components.batched(eqx.combine(p, d_static))  # noqa: E731

    def step(state: GANState, batch):
        key = jax.random.fold_in(state.key, state.step)
        k_d, k_g = jax.random.split(key)
        # row i * n_critic + j is example i of critic step j: the split keeps each device's rows local
        reals = jnp.moveaxis(batch["x"].reshape(b, n_critic, *shape), 1, 0)

        def critic(carry, inp):
            dp, d_opt = carry
            real, k = inp
            k_z, k_gp = jax.random.split(k)
            fake = jax.lax.stop_gradient(G(state.g)(jax.random.normal(k_z, (b, latent))))
            loss, grads = jax.value_and_grad(
                lambda p: losses.d_loss(kind, D(p), real, fake, k_gp, gp_weight=cfg.gan.gp_weight)
            )(dp)
            updates, d_opt = opt_d.update(grads, d_opt, dp)
            dp = nets.update_spectral_norms(optax.apply_updates(dp, updates))
            return (dp, d_opt), (loss, optax.tree.norm(grads))

        # unrolled, not lax.scan: XLA:CPU's collectives inside a while loop can deadlock with many host devices
        carry, stats = (state.d, state.d_opt), []
        for j, k in enumerate(jax.random.split(k_d, n_critic)):
            carry, st = critic(carry, (reals[j], k))
            stats.append(st)
        (d_new, d_opt), d_losses, d_norms = carry, jnp.stack([s[0] for s in stats]), jnp.stack([s[1] for s in stats])
        z = jax.random.normal(k_g, (b, latent))
        g_l, g_grads = jax.value_and_grad(lambda p: losses.g_loss(kind, D(d_new), G(p)(z)))(state.g)
        updates, g_opt = opt_g.update(g_grads, state.g_opt, state.g)
        g_new = optax.apply_updates(state.g, updates)
        g_norm = optax.tree.norm(g_grads)
        finite = [jnp.all(jnp.isfinite(v)) for v in (d_losses, d_norms, g_l, g_norm)]
        ok = jnp.all(jnp.stack(finite)) & ~state.bad
        keep = lambda new, old: jax.tree_util.tree_map(lambda a, c: jnp.where(ok, a, c), new, old)  # noqa: E731
        new = GANState(
            step=state.step + ok.astype(jnp.int32),
            g=keep(g_new, state.g),
            d=keep(d_new, state.d),
            g_opt=keep(g_opt, state.g_opt),
            d_opt=keep(d_opt, state.d_opt),
            key=state.key,
            bad=~ok,
        )
        metrics = {"loss": d_losses[-1], "g_loss": g_l, "d_grad_norm": d_norms[-1], "g_grad_norm": g_norm}
        return new, metrics

    return step


# ---- single-network runs (VAE, corrector) -----------------------------------------------------
def build_single(cfg, mesh, model, optim_cfg, key):
    optimizer = train.make_optimizer(optim_cfg)
    state, static = train.init_state(model, optimizer, key, flat=cfg.parallel.fsdp == 1)
    state, shardings = _place(state, mesh)
    return state, shardings, static, optimizer


def build_vae(cfg, mesh):
    k_model, k_train = jax.random.split(jax.random.key(cfg.seed))
    return build_single(cfg, mesh, components.build_model(cfg, k_model), cfg.optim_g, k_train)


def build_corrector(cfg, mesh):
    k_model, k_train = jax.random.split(jax.random.key(cfg.seed + 101))
    return build_single(cfg, mesh, components.build(cfg, "corrector", k_model), cfg.corrector.optim, k_train)


# ---- the loop ---------------------------------------------------------------------------------
def gan_export(state: GANState) -> dict:
    """The GAN's model export, saved with each checkpoint: what refine needs (G and d), no optimiser states."""
    return {"g": state.g, "d": state.d}


def ema_export(state: train.TrainState):
    """The model export of a VAE or corrector checkpoint: its EMA parameters."""
    return state.ema


def _fit(cfg, mesh, directory, state, step_fn, shardings, examples, *, batch_size, n_steps, name, frozen=None,
         model_of=ema_export):  # fmt: skip
    """train_loop over grain batches of `examples` (global batch `batch_size`), checkpoints in `directory` with
    the model export `model_of(state)` (the EMA; the GAN's G and d).

    `frozen`: arrays (e.g. a fixed network's) the step reads as batch["frozen"], replicated: an argument of
    the jitted step, not a compile-time constant.
    """
    n_proc = jax.process_count()
    batches = iter(
        data.make_dataset(
            {"x": examples},
            batch_size=batch_size,
            seed=cfg.seed,
            process_index=jax.process_index(),
            process_count=n_proc,
        )
    )
    batch_sharding, to_device = parallel.batch_sharding(mesh), lambda host: parallel.global_batch(host, mesh)
    if frozen is not None:
        rep = parallel.replicated(mesh)
        frozen = parallel.shard_tree(frozen, jax.tree_util.tree_map(lambda _: rep, frozen))
        batch_sharding = {"x": batch_sharding, "frozen": rep}
        to_device = lambda host: {**parallel.global_batch(host, mesh), "frozen": frozen}  # noqa: E731
    jitted = train.jit_train_step(step_fn, shardings, batch_sharding)

    def on_log(step, metrics, sec_per_step):
        return "  ".join(f"{k} {float(v):.5g}" for k, v in metrics.items() if k != "loss")

    ckpt = checkpoint.Checkpointer(directory, max_to_keep=cfg.training.max_to_keep)
    log_every = max(1, min(cfg.training.log_every, n_steps))
    state, stopped = train.train_loop(
        state, jitted, batches, to_device, ckpt,
        total_steps=n_steps, log_every=log_every, name=name,
        checkpoint_every=max(1, min(cfg.training.checkpoint_every, n_steps)), on_log=on_log, model_of=model_of,
    )  # fmt: skip
    ckpt.close()
    return state, stopped


def model_dir(workdir):
    return os.path.join(workdir, "checkpoints")


def corrector_dir(workdir):
    return os.path.join(workdir, "corrector")


def run(cfg, workdir, mesh):
    """Train the generative model, then the corrector if the config needs one; returns stopped_by_signal."""
    examples = components.load_examples(cfg, "train")
    if cfg.model.kind == "gan":
        state, shardings, statics, opts = build_gan(cfg, mesh)
        step_fn = make_gan_step(cfg, statics, opts)
        batch = cfg.training.batch_size * cfg.gan.n_critic
    else:
        state, shardings, static, opt = build_vae(cfg, mesh)
        step_fn = train.make_train_step(
            lambda m, b, k: losses.vae_loss(m, b["x"], k, obs_std=cfg.vae.obs_std), opt, static,
            ema_rate=cfg.vae.ema_rate,
        )  # fmt: skip
        batch = cfg.training.batch_size
    logging.info(
        "%s: %d parameters", cfg.model.kind, nets.count_params(state.g if cfg.model.kind == "gan" else state.params)
    )
    state, stopped = _fit(
        cfg, mesh, model_dir(workdir), state, step_fn, shardings, examples,
        batch_size=batch, n_steps=cfg.training.n_steps, name=cfg.model.kind,
        model_of=gan_export if cfg.model.kind == "gan" else ema_export,
    )  # fmt: skip
    if stopped or not needs_corrector(cfg):
        return stopped
    generator = generator_of(cfg, state, statics if cfg.model.kind == "gan" else static)
    return train_corrector(cfg, workdir, mesh, generator, examples)


def train_corrector(cfg, workdir, mesh, generator, examples):
    """Logistic regression between data and the (frozen) generator's samples, checkpointed under workdir/corrector."""
    state, shardings, static, opt = build_corrector(cfg, mesh)
    b, latent = cfg.corrector.batch_size, cfg.model.latent_dim
    g_arrays, g_static = eqx.partition(generator, eqx.is_array)

    def loss(model, batch, key):
        g = eqx.combine(batch["frozen"], g_static)  # the generator enters the jitted step as an argument
        fake = jax.lax.stop_gradient(g(jax.random.normal(key, (b, latent))))
        return losses.corrector_loss(components.batched(model), batch["x"], fake)

    step_fn = train.make_train_step(loss, opt, static, ema_rate=cfg.corrector.ema_rate)
    _, stopped = _fit(
        cfg, mesh, corrector_dir(workdir), state, step_fn, shardings, examples,
        batch_size=b, n_steps=cfg.corrector.n_steps, name="corrector", frozen=g_arrays,
    )  # fmt: skip
    return stopped


# ---- restoring for refine / eval --------------------------------------------------------------
def generator_of(cfg, state, statics):
    """The batched generator z -> x of a trained state (the VAE's EMA decoder)."""
    if cfg.model.kind == "gan":
        return components.batched(eqx.combine(state.g, statics[0]))
    return components.batched(train.model_from(state.ema, statics))


def _open(directory, what):
    if not os.path.isdir(directory):
        raise ValueError(f"{directory} holds no {what} checkpoint: run --mode=train first")
    ckpt = checkpoint.Checkpointer(directory)
    if ckpt.latest_step() is None:
        ckpt.close()
        raise ValueError(f"{directory} holds no {what} checkpoint: run --mode=train first")
    return ckpt


def restore_checkpoint(directory, template, what):
    """(state laid out like `template`, step) of the latest checkpoint in `directory`; one-line error if none."""
    ckpt = _open(directory, what)
    state, _, step = ckpt.restore_intact(template)  # the newest intact step
    ckpt.close()
    return state, int(step)


def restore_export(directory, template, export, what):
    """(export(template) filled from the newest intact checkpoint, step), read from its model export: no
    optimiser state is read. A checkpoint without an export (saved before exports): from the full state."""
    ckpt = _open(directory, what)
    try:
        model, step = ckpt.restore_model(export(template))
    except checkpoint.CheckpointError:  # no intact step has an export
        state, _, step = ckpt.restore_intact(template)
        model = export(state)
    ckpt.close()
    return model, int(step)


def restore(cfg, workdir, mesh):
    """(batched generator, batched logit d or None, step): the trained model and the ratio refine should use,
    from the checkpoints' model exports (G and d; the VAE's and the corrector's EMA)."""
    if cfg.model.kind == "gan":
        template, _, statics, _ = build_gan(cfg, mesh)
        gd, step = restore_export(model_dir(workdir), template, gan_export, "generator/discriminator")
        generator = components.batched(eqx.combine(gd["g"], statics[0]))
        logit = components.batched(eqx.combine(gd["d"], statics[1]))
    else:
        template, _, statics, _ = build_vae(cfg, mesh)
        ema, step = restore_export(model_dir(workdir), template, ema_export, "VAE")
        generator, logit = components.batched(train.model_from(ema, statics)), None
    if cfg.refine.ratio == "corrector":
        template, _, static, _ = build_corrector(cfg, mesh)
        ema, _ = restore_export(corrector_dir(workdir), template, ema_export, "corrector")
        logit = components.batched(train.model_from(ema, static))
    return generator, logit, step
