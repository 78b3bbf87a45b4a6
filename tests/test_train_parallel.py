"""Train step, EMA, non-finite guard, sharding over 8 devices, checkpoints across meshes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ml_collections import ConfigDict

from scoresde import checkpoint, nets, parallel, train


def _setup(lr=1e-2, flat=True):
    net = nets.MLP(2, width=32, depth=2, key=jax.random.key(0))
    opt = train.make_optimizer(ConfigDict(dict(lr=lr, warmup=2, grad_clip=1.0)))
    state, static = train.init_state(net, opt, jax.random.key(1), flat=flat)

    def loss_fn(model, batch, key):
        noise = jax.random.normal(key, batch["x"].shape)
        out = jax.vmap(model)(batch["x"] + 0.1 * noise, jnp.zeros(batch["x"].shape[0]))
        return jnp.mean((out - batch["x"]) ** 2)

    return state, static, opt, train.make_train_step(loss_fn, opt, static, ema_rate=0.9)


def _batches(n=5, b=16):
    rng = np.random.default_rng(0)
    return [{"x": rng.standard_normal((b, 2)).astype(np.float32)} for _ in range(n)]


def _run(step_fn, state, batches, mesh=None):
    if mesh is None:
        jitted = train.jit_train_step(step_fn)
        losses = []
        for b in batches:
            state, m = jitted(state, {"x": jnp.asarray(b["x"])})
            losses.append(float(m["loss"]))
        return state, losses
    shardings = parallel.param_shardings(mesh, state)
    state = parallel.shard_tree(state, shardings)
    jitted = train.jit_train_step(step_fn, shardings, parallel.batch_sharding(mesh))
    losses = []
    for b in batches:
        state, m = jitted(state, parallel.global_batch(b, mesh))
        losses.append(float(m["loss"]))
    return state, losses


def test_optimizer_config_errors():
    with pytest.raises(ValueError, match="optim.optimizer"):
        train.make_optimizer(ConfigDict(dict(optimizer="sgdd")))
    with pytest.raises(ValueError, match="optim.lr"):
        train.make_optimizer(ConfigDict(dict(lr=0.0)))


def test_training_reduces_loss_and_ema_follows():
    state, _, _, step = _setup()
    state, losses = _run(step, state, _batches(30))
    assert losses[-1] < 0.7 * losses[0]
    assert int(state.step) == 30
    # the EMA is a convex combination of iterates: it differs from the parameters but not wildly
    p, e = jax.tree_util.tree_leaves(state.params), jax.tree_util.tree_leaves(state.ema)
    assert any(not np.allclose(a, b) for a, b in zip(p, e, strict=True))


@pytest.mark.parametrize("fsdp, flat", [(1, True), (2, False)])  # the layouts the projects use on these meshes
def test_eight_device_run_matches_one_device(fsdp, flat):
    assert jax.device_count() == 8
    batches = _batches(4)
    state, _, _, step = _setup(flat=flat)
    _, ref = _run(step, state, batches)
    state, _, _, step = _setup(flat=flat)
    _, sharded = _run(step, state, batches, parallel.make_mesh(fsdp=fsdp))
    np.testing.assert_allclose(sharded, ref, rtol=1e-6, atol=1e-6)


def test_flat_and_tree_layouts_train_alike():
    """The flat layout changes only where the arrays live: the same losses and parameters, up to the order in
    which the global gradient norm (gradient clipping) sums its squares."""
    batches = _batches(6)
    flat, static, _, step = _setup(flat=True)
    tree, _, _, tree_step = _setup(flat=False)
    assert isinstance(flat.params, train.FlatParams) and len(flat.params.buffers) == 1
    assert isinstance(flat.opt_state[1][0].mu, train.FlatParams)  # the Adam moments are vectors too
    flat, flat_losses = _run(step, flat, batches)
    tree, tree_losses = _run(tree_step, tree, batches)
    np.testing.assert_allclose(flat_losses, tree_losses, rtol=1e-6)
    for part in ("params", "ema"):
        got = train.model_from(getattr(flat, part), static)
        want = train.model_from(getattr(tree, part), static)
        for a, b in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want), strict=True):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-7)


def test_fsdp_shards_large_parameters():
    mesh = parallel.make_mesh(fsdp=4)
    tree = {"big": jnp.zeros((256, 128)), "small": jnp.zeros((3,))}
    sh = parallel.param_shardings(mesh, tree)
    assert sh["big"].spec == jax.sharding.PartitionSpec("fsdp", None)
    assert sh["small"].spec == jax.sharding.PartitionSpec()
    with pytest.raises(ValueError, match="parallel.fsdp"):
        parallel.make_mesh(fsdp=3)


def test_global_batch_must_split_over_devices():
    with pytest.raises(ValueError, match="does not split over 8 devices"):
        parallel.global_batch({"x": np.zeros((6, 2))}, parallel.make_mesh())


def test_non_finite_loss_freezes_state_and_sets_flag():
    state, static, opt, _ = _setup()

    def loss_fn(model, batch, key):
        return jnp.mean(jax.vmap(model)(batch["x"], jnp.zeros(batch["x"].shape[0]))) * batch["scale"]

    step = train.jit_train_step(train.make_train_step(loss_fn, opt, static, ema_rate=0.9))
    x = jnp.ones((4, 2))
    state, _ = step(state, {"x": x, "scale": jnp.float32(1.0)})
    before = jax.tree_util.tree_map(jnp.copy, state.params)
    state, m = step(state, {"x": x, "scale": jnp.float32(jnp.nan)})
    assert bool(state.bad) and not np.isfinite(float(m["loss"]))
    assert int(state.step) == 1
    for a, b in zip(jax.tree_util.tree_leaves(before), jax.tree_util.tree_leaves(state.params), strict=True):
        np.testing.assert_array_equal(a, b)


def _same_state(a, b):
    """Equal values leaf by leaf, whatever either state's layout (flat vectors or one array per leaf)."""
    a, b = train.unflatten(a), train.unflatten(b)
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
        if jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
            x, y = jax.random.key_data(x), jax.random.key_data(y)
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_checkpoint_restores_onto_another_mesh_and_layout(tmp_path):
    """An FSDP run (one array per leaf, split over 2 devices) resumes as a data-parallel run (flat vectors)."""
    state, _, _, step = _setup(flat=False)
    state, _ = _run(step, state, _batches(2), parallel.make_mesh(fsdp=2))
    ck = checkpoint.Checkpointer(str(tmp_path / "ckpt"), max_to_keep=2)
    for s in (1, 2, 3):
        ck.save(s, state, {"data": {"next_index": s}})
    assert ck.all_steps() == [2, 3]
    mesh = parallel.make_mesh(fsdp=1)
    flat, static, _, _ = _setup(flat=True)
    template = parallel.shard_tree(flat, parallel.param_shardings(mesh, flat))
    restored, record = ck.restore(template)
    assert record == {"data": {"next_index": 3}}
    _same_state(restored, state)
    buffer = restored.params.buffers[0]
    assert buffer.sharding.is_equivalent_to(template.params.buffers[0].sharding, buffer.ndim)
    assert isinstance(train.model_from(restored.params, static), nets.MLP)
    # and back: the flat state's checkpoint restores into the per-leaf template of the FSDP mesh
    ck.save(4, restored, {"data": {"next_index": 4}})
    fsdp = parallel.make_mesh(fsdp=2)
    back, _ = ck.restore(parallel.shard_tree(state, parallel.param_shardings(fsdp, state)))
    _same_state(back, state)


def test_no_recompilation_after_the_first_step():
    state, _, _, step = _setup()
    traces = []

    def counted(state, batch):
        traces.append(1)  # runs only when jax traces (and so compiles) the step
        return step(state, batch)

    mesh = parallel.make_mesh(fsdp=2)
    shardings = parallel.param_shardings(mesh, state)
    state = parallel.shard_tree(state, shardings)
    jitted = train.jit_train_step(counted, shardings, parallel.batch_sharding(mesh))
    for b in _batches(4):
        state, _ = jitted(state, parallel.global_batch(b, mesh))
    assert len(traces) == 1


def test_quiet_orbax_logs_drops_only_orbax_info_and_check_workdir(tmp_path):
    import logging as pylogging

    from scoresde import checkpoint

    checkpoint.quiet_orbax_logs()
    checkpoint.quiet_orbax_logs()  # idempotent
    absl_logger = pylogging.getLogger("absl")
    assert sum(type(f).__name__ == "_DropOrbaxInfo" for f in absl_logger.filters) == 1

    def record(level, path):
        return pylogging.LogRecord("absl", level, path, 1, "msg", None, None)

    keep = absl_logger.filter
    assert not keep(record(pylogging.INFO, "/site-packages/orbax/checkpoint/checkpoint_manager.py"))
    assert keep(record(pylogging.WARNING, "/site-packages/orbax/checkpoint/checkpoint_manager.py"))
    assert keep(record(pylogging.INFO, "/work/projects/ncsn/training.py"))

    assert checkpoint.check_workdir(str(tmp_path / "a" / "b")) == str(tmp_path / "a" / "b")
    assert not (tmp_path / "a").exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is not a folder"):
        checkpoint.check_workdir(str(tmp_path / "file"))
