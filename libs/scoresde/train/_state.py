"""Training state and the generic sharded train step.

The state is a pytree of arrays only (parameters, their EMA, optimiser state, step, RNG key,
and a flag that remembers a non-finite loss), so it jits, shards and checkpoints as is; the
model's static structure is kept apart and recombined inside the step (`model_from`).

By default the parameters, the EMA and the optimiser's moments are each one vector per dtype
(`FlatParams`): the step then compiles to one optimiser pass instead of one per parameter leaf,
which roughly halves what XLA compiles and what a compilation-cache hit loads. Checkpoints and
model exports still hold the ordinary tree (the checkpointer expands and packs at its edge).
"""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Bool, Int, PRNGKeyArray, PyTree

from .._flat import FlatParams, unflatten


class TrainState(eqx.Module):
    step: Int[Array, ""]
    params: PyTree
    ema: PyTree
    opt_state: PyTree
    key: PRNGKeyArray
    bad: Bool[Array, ""]  # a non-finite loss or gradient was met: the state stopped updating


def init_state(model, optimizer: optax.GradientTransformation, key, *, flat: bool = True) -> tuple[TrainState, PyTree]:
    """(state, static) from an equinox model: the arrays to train and the rest of the module.

    `flat`: parameters, EMA and optimiser moments as `FlatParams` vectors (see the module docstring).
    False keeps one array per parameter leaf, as FSDP needs to split each along its own largest axis.
    """
    params, static = eqx.partition(model, eqx.is_inexact_array)
    if flat:
        params = FlatParams.of(params)
    state = TrainState(
        step=jnp.zeros((), jnp.int32),
        params=params,
        ema=jax.tree_util.tree_map(jnp.copy, params),
        opt_state=optimizer.init(params),
        key=key,
        bad=jnp.zeros((), bool),
    )
    return state, static


def model_from(params: PyTree, static: PyTree):
    """The equinox model from a state's `params` or `ema` (flat or a tree) and the static part."""
    return eqx.combine(unflatten(params), static)


def make_train_step(
    loss_fn: Callable,
    optimizer: optax.GradientTransformation,
    static: PyTree,
    *,
    ema_rate: float,
) -> Callable:
    """step(state, batch) -> (state, metrics); `loss_fn(model, batch, key) -> scalar loss`.

    One optimiser update per call, EMA by optax.incremental_update. If the loss or the
    gradient norm is not finite the update is skipped and `state.bad` is set: the caller
    stops the run and never checkpoints that state. Wrap with `jax.jit(..., donate_argnums=0)`
    (see `jit_train_step`).
    """

    def step(state: TrainState, batch):
        key, sub = jax.random.split(jax.random.fold_in(state.key, state.step))

        def loss_of(params):
            return loss_fn(model_from(params, static), batch, sub)

        def update(args):
            params, opt_state, ema, grads = args
            updates, opt_state = optimizer.update(grads, opt_state, params)
            params = optax.apply_updates(params, updates)
            return params, opt_state, optax.incremental_update(params, ema, 1.0 - ema_rate)

        loss, grads = jax.value_and_grad(loss_of)(state.params)
        gnorm = optax.tree.norm(grads)
        ok = jnp.isfinite(loss) & jnp.isfinite(gnorm) & ~state.bad
        # A branch rather than a select per leaf: with the state donated, per-leaf selects made XLA copy the
        # parameters and both Adam moments on entry (three copies a leaf) and doubled the program's load time.
        params, opt_state, ema = jax.lax.cond(
            ok, update, lambda args: args[:3], (state.params, state.opt_state, state.ema, grads)
        )
        new = TrainState(
            step=state.step + ok.astype(jnp.int32),
            params=params,
            ema=ema,
            opt_state=opt_state,
            key=state.key,
            bad=~ok,
        )
        return new, {"loss": loss, "grad_norm": gnorm}

    return step


def jit_train_step(step: Callable, state_sharding=None, batch_sharding=None, n_inner: int = 1) -> Callable:
    """jit with the state donated; `n_inner` > 1 runs that many steps per call over a stacked batch.

    With n_inner > 1 the batch carries a leading axis of size n_inner, scanned over; the
    metrics of the last inner step are returned.
    """
    if n_inner > 1:
        inner = step

        def step(state, batches):  # noqa: F811
            state, metrics = jax.lax.scan(inner, state, batches)
            return state, jax.tree_util.tree_map(lambda m: m[-1], metrics)

    kw = {}
    if state_sharding is not None:
        kw = dict(in_shardings=(state_sharding, batch_sharding), out_shardings=(state_sharding, None))
    return jax.jit(step, donate_argnums=0, **kw)
