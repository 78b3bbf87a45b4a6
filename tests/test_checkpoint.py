"""Checkpointer: path-named leaves readable by orbax alone, the model export, one-line mismatches, the old layout,
fallback from a damaged step to the newest intact one, failed saves that keep the earlier steps."""

import glob
import logging
import os
import resource
import signal

import equinox as eqx
import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest
from ml_collections import ConfigDict

from scoresde import checkpoint, nets, train


def _state(width=16, seed=0, flat=False):
    net = nets.MLP(2, width=width, depth=1, key=jax.random.key(seed))
    opt = train.make_optimizer(ConfigDict(dict(lr=1e-3)))
    state, _ = train.init_state(net, opt, jax.random.key(seed + 1), flat=flat)
    # distinct EMA and params, so a mix-up between them shows
    return eqx.tree_at(lambda s: s.ema, state, jax.tree_util.tree_map(lambda x: x + 1.0, state.ema))


def _model_template(width=16):
    return eqx.partition(nets.MLP(2, width=width, depth=1, key=jax.random.key(7)), eqx.is_inexact_array)[0]


def _assert_same(a, b):
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
        if jax.numpy.issubdtype(x.dtype, jax.dtypes.prng_key):
            x, y = jax.random.key_data(x), jax.random.key_data(y)
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def _saved(tmp_path, steps=(1, 2, 3)):
    state = _state()
    ck = checkpoint.Checkpointer(str(tmp_path / "ckpt"), max_to_keep=5)
    for s in steps:
        ck.save(s, state, {"data_state": {"next": s}}, model=state.ema)
    return ck, state


def test_leaves_saved_under_path_names_and_readable_by_orbax_alone(tmp_path):
    ck, state = _saved(tmp_path, steps=(5,))
    names = checkpoint.leaf_names(state)
    assert {"step", "key", "bad", "params/inp/weight", "ema/out/bias"} <= set(names)
    assert any(n.startswith("opt_state/") for n in names) and all("." not in n and "[" not in n for n in names)
    raw = ocp.StandardCheckpointer().restore(os.path.join(ck.directory, "5", "state"))  # no template at all
    np.testing.assert_array_equal(raw["params"]["inp"]["weight"], state.params.inp.weight)
    np.testing.assert_array_equal(raw["ema"]["out"]["bias"], state.ema.out.bias)
    assert raw["key"].dtype == np.uint32  # key data
    model = ocp.StandardCheckpointer().restore(os.path.join(ck.directory, "5", "model"))
    assert sorted(model) == ["cond", "inp", "out"] and "opt_state" not in model
    np.testing.assert_array_equal(model["cond"]["0"]["weight"], state.ema.cond[0].weight)


def test_unsafe_and_colliding_names():
    assert checkpoint.leaf_names({"a.b c": np.zeros(1), "x": [np.zeros(1)]}) == ["a_b_c", "x/0"]
    assert checkpoint.leaf_names(np.zeros(2)) == ["value"]
    with pytest.raises(ValueError, match=r"both save as 'a_b'") as e:
        checkpoint.leaf_names({"a.b": np.zeros(1), "a_b": np.zeros(1)})
    assert "\n" not in str(e.value)


def test_round_trip_and_model_export_without_the_optimizer(tmp_path):
    ck, state = _saved(tmp_path)
    restored, record = ck.restore(_state(seed=3))  # another init: every value must come from the file
    assert record == {"data_state": {"next": 3}}
    _assert_same(restored, state)
    model, step = ck.restore_model(_model_template())
    assert step == 3
    _assert_same(model, state.ema)
    assert isinstance(eqx.combine(model, eqx.partition(nets.MLP(2, width=16, depth=1, key=jax.random.key(0)),
                                                       eqx.is_inexact_array)[1]), nets.MLP)  # fmt: skip
    raw, step = ck.restore_model(step=2)  # no template: the stored nested dict
    assert step == 2 and raw["inp"]["weight"].shape == state.ema.inp.weight.shape


def test_a_flat_state_saves_its_tree_and_restores_either_way(tmp_path):
    """Parameters held as flat vectors are stored under the tree's names: the files do not depend on the layout."""
    tree, flat = _state(), _state(flat=True)
    flat = eqx.tree_at(lambda s: s.ema, flat, train.FlatParams.of(tree.ema))  # the same distinct EMA
    ck = checkpoint.Checkpointer(str(tmp_path / "ckpt"))
    ck.save(1, tree, {"data_state": None}, model=tree.ema)
    ck.save(2, flat, {"data_state": None}, model=flat.ema)
    for step in ("1", "2"):
        raw = ocp.StandardCheckpointer().restore(os.path.join(ck.directory, step, "state"))
        np.testing.assert_array_equal(raw["params"]["inp"]["weight"], tree.params.inp.weight)
        np.testing.assert_array_equal(raw["opt_state"]["1"]["0"]["mu"]["out"]["bias"], tree.opt_state[1][0].mu.out.bias)
    into_flat, _ = ck.restore(_state(seed=3, flat=True), step=1)
    assert isinstance(into_flat.params, train.FlatParams)
    _assert_same(into_flat, flat)
    into_tree, _ = ck.restore(_state(seed=3), step=2)
    _assert_same(into_tree, tree)
    model, _ = ck.restore_model(_state(seed=3, flat=True).ema, step=1)
    _assert_same(model, flat.ema)
    with pytest.raises(ValueError, match=r"leaf params/inp/weight expected shape \(24, 2\), found \(16, 2\)$"):
        ck.restore(_state(width=24, flat=True))


def test_a_model_of_another_shape_is_one_line_naming_the_leaf(tmp_path):
    ck, _ = _saved(tmp_path, steps=(1,))
    with pytest.raises(ValueError) as e:
        ck.restore_model(_model_template(width=24))
    where = f"checkpoint 1 in {ck.directory}"
    assert str(e.value) == f"{where} does not fit: leaf inp/weight expected shape (24, 2), found (16, 2)"
    with pytest.raises(ValueError, match=r"leaf params/inp/weight expected shape \(24, 2\), found \(16, 2\)$"):
        ck.restore(_state(width=24))
    with pytest.raises(ValueError, match=r"leaf extra/weight \(shape \(3,\)\) is not in it$"):
        ck.restore_model({"inp": {"weight": np.zeros((16, 2), np.float32)}, "extra": {"weight": np.zeros(3)}})
    with pytest.raises(ValueError, match=r"leaf cond/0/bias \(shape \(16,\)\) is not in the template$"):
        ck.restore_model({"inp": {"weight": np.zeros((16, 2), np.float32)}})
    with pytest.raises(FileNotFoundError, match=r"checkpoint 9 is not in .* \(it has: 1\)$"):
        ck.restore_model(step=9)


def _save_old_layout(directory, step, state, record):
    """What Checkpointer.save wrote before path names: the flat leaf list under 00000, 00001, ... (no model)."""
    leaves = [jax.random.key_data(x) if x.dtype == jax.random.key(0).dtype else x
              for x in jax.tree_util.tree_leaves(state)]  # fmt: skip
    manager = ocp.CheckpointManager(
        directory,
        options=ocp.CheckpointManagerOptions(enable_async_checkpointing=False, create=True),
        item_names=("state", "record"),
    )
    items = {f"{i:05d}": x for i, x in enumerate(leaves)}
    manager.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(items), record=ocp.args.JsonSave(record)))
    manager.wait_until_finished()
    manager.close()


def test_old_layout_still_restores_with_the_full_template(tmp_path):
    state = _state()
    _save_old_layout(str(tmp_path / "old"), 4, state, {"data_state": None})
    ck = checkpoint.Checkpointer(str(tmp_path / "old"))
    restored, record = ck.restore(_state(seed=5))
    _assert_same(restored, state)
    _assert_same(ck.restore(_state(seed=5, flat=True))[0], _state(flat=True))  # and into the flat layout
    assert record == {"data_state": None}
    with pytest.raises(checkpoint.CheckpointError, match=r"checkpoint 4 in .* cannot be restored: no model item$"):
        ck.restore_model(_model_template())


def _truncate(path):
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)


def _data_file(step_dir):
    return max(glob.glob(os.path.join(step_dir, "state", "d", "*")), key=os.path.getsize)


DAMAGES = {
    "truncated data": lambda d: _truncate(_data_file(d)),
    "deleted data": lambda d: os.remove(_data_file(d)),
    "deleted manifest": lambda d: os.remove(os.path.join(d, "state", "manifest.ocdbt")),
    "truncated metadata": lambda d: _truncate(os.path.join(d, "state", "_METADATA")),
    "truncated record": lambda d: _truncate(os.path.join(d, "record", "metadata")),
}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_damaged_latest_step_falls_back_with_one_warning(tmp_path, caplog, damage):
    ck, state = _saved(tmp_path)
    DAMAGES[damage](os.path.join(ck.directory, "3"))
    with caplog.at_level(logging.WARNING):
        restored, record, step = ck.restore_intact(_state(seed=3))
    assert step == 2 and record == {"data_state": {"next": 2}}
    _assert_same(restored, state)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "\n" not in warnings[0], warnings
    assert warnings[0].startswith(f"checkpoint 3 in {ck.directory} is damaged (")
    assert warnings[0].endswith("): restored 2 instead")


def test_model_export_falls_back_too_and_none_intact_is_one_line(tmp_path):
    ck, state = _saved(tmp_path, steps=(1, 2))
    for s in (1, 2):
        _truncate(max(glob.glob(os.path.join(ck.directory, str(s), "model", "d", "*")), key=os.path.getsize))
    _truncate(os.path.join(ck.directory, "2", "record", "metadata"))
    with pytest.raises(checkpoint.CheckpointError) as e:
        ck.restore_model(_model_template())
    msg = str(e.value)
    assert msg.startswith(f"no intact checkpoint in {ck.directory}: step 2: ") and "; step 1: " in msg
    assert "\n" not in msg and len(msg) < 600
    _, _, step = ck.restore_intact(_state())  # the full states are fine: step 2's record is not
    assert step == 1


def test_train_loop_resumes_from_the_newest_intact_step_and_keeps_the_damaged_one(tmp_path):
    state, static, opt = _state(), None, None
    del static, opt
    step = train.jit_train_step(lambda s, b: (s, {"loss": b["x"].sum()}))
    batches = iter(lambda: {"x": np.ones(2, np.float32)}, None)
    ck = checkpoint.Checkpointer(str(tmp_path / "run" / "checkpoints"), max_to_keep=5)
    train.train_loop(state, step, batches, lambda b: b, ck, total_steps=30, log_every=10, checkpoint_every=10)
    assert ck.all_steps() == [10, 20, 30]
    _truncate(_data_file(os.path.join(ck.directory, "30")))
    ck = checkpoint.Checkpointer(ck.directory, max_to_keep=5)
    state, stopped = train.train_loop(
        _state(), step, batches, lambda b: b, ck, total_steps=40, log_every=10, checkpoint_every=10
    )
    assert not stopped and ck.all_steps() == [10, 20, 30, 40]
    assert os.path.isdir(os.path.join(ck.directory, "damaged_30"))  # set aside, not deleted
    model, at = ck.restore_model(_model_template())
    assert at == 40
    _assert_same(model, _state().ema)
    assert not os.path.exists(tmp_path / "run" / checkpoint.LOCK_NAME)


@pytest.mark.parametrize("how", ["read-only workdir", "file size limit"])
def test_failed_save_is_one_line_and_keeps_the_earlier_steps(tmp_path, how):
    if how == "read-only workdir" and os.geteuid() == 0:
        pytest.skip("root ignores permissions; the file-size-limit case covers the failing write")
    ck, state = _saved(tmp_path, steps=(1, 2))
    before = sorted(glob.glob(os.path.join(ck.directory, "**"), recursive=True))
    old_limit, old_handler = resource.getrlimit(resource.RLIMIT_FSIZE), signal.getsignal(signal.SIGXFSZ)
    try:
        if how == "read-only workdir":
            os.chmod(ck.directory, 0o555)
        else:  # a write that fails like a full disk: files may not grow past 100 bytes (EFBIG)
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (100, old_limit[1]))
        with pytest.raises(checkpoint.CheckpointError) as e:
            ck.save(3, state, {"data_state": None}, model=state.ema)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old_limit)
        signal.signal(signal.SIGXFSZ, old_handler)
        os.chmod(ck.directory, 0o755)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"checkpoint 3 could not be saved in {ck.directory} (")
    assert msg.endswith("the earlier checkpoints are intact: 1, 2")
    assert sorted(glob.glob(os.path.join(ck.directory, "**"), recursive=True)) == before  # no partial folder left
    assert ck.all_steps() == [1, 2]
    restored, _, step = checkpoint.Checkpointer(ck.directory).restore_intact(_state(seed=4))
    assert step == 2
    _assert_same(restored, state)
