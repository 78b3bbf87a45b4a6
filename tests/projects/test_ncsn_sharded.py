"""Sharded sampling and resumable eval of the NCSN project: compile counts, samples by index on 1 and 8
devices, the batch on the mesh, eval resumed from shards, the checkpoint sweep (JSON + TensorBoard).

One tiny toy model is trained once (on the 8-device mesh, two snapshots, checkpoints 150 and 300).
"""

import contextlib
import copy
import glob
import json
import os
import struct

import jax
import numpy as np
import pytest

from projects.ncsn import checks, components, evaluation, placement, sampling, score, training  # noqa: E402
from scoresde import parallel
from tests.projects._ncsn_helpers import mesh_of, tiny_toy_config

B = 64  # sampling.batch_size = training.snapshot_samples: snapshots and eval share one compiled draw
CFG = {
    "training.n_steps": 300, "training.steps_per_call": 10, "training.checkpoint_every": 150,
    "training.snapshot_every": 150, "training.snapshot_samples": B, "training.log_every": 150, "optim.warmup": 0,
    "training.max_to_keep": 5, "sampling.pc.n_steps": 20, "sampling.batch_size": B, "eval.n_samples": 200,
}  # fmt: skip


def _with(cfg, **fields):
    cfg = copy.deepcopy(cfg)
    with cfg.unlocked():
        for k, v in fields.items():
            node = cfg
            *path, last = k.split(".")
            for p in path:
                node = node[p]
            node[last] = v
    return cfg


@contextlib.contextmanager
def compiles(name: str):
    """Count XLA compilations of jitted functions whose name contains `name` (and traces of sampling.draw)."""
    seen = {"compiles": 0, "traces": sampling.TRACES["draw"]}

    def listen(event, duration, **kw):
        if event == "/jax/core/compile/backend_compile_duration" and name in str(kw.get("fun_name", "")):
            seen["compiles"] += 1

    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        yield seen
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)
        seen["traces"] = sampling.TRACES["draw"] - seen["traces"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    cfg = tiny_toy_config(**CFG)
    workdir = str(tmp_path_factory.mktemp("sharded") / "run")
    mesh = mesh_of(8)
    jax.clear_caches()  # an earlier test may have compiled this very draw: count from nothing
    with compiles("draw") as seen:
        training.run(cfg, workdir, mesh)
    model, _ = training.restore_ema_model(cfg, workdir, mesh)
    return cfg, workdir, mesh, model, seen


def test_two_snapshots_compile_the_draw_once(run):
    cfg, workdir, _, _, seen = run
    assert sorted(os.listdir(os.path.join(workdir, "snapshots"))) == ["step_0000150.png", "step_0000300.png"]
    assert seen == {"compiles": 1, "traces": 1}, seen
    assert cfg.sampling.batch_size == B  # the snapshot left the config alone


def test_samples_by_index_match_on_1_and_8_devices(run):
    cfg, _, _, model, _ = run
    key = jax.random.key(3)
    x1, nfe = sampling.generate(cfg, model, key, 100, mesh_of(1), progress=False)
    x8, nfe8 = sampling.generate(cfg, model, key, 100, mesh_of(8), progress=False)
    assert x1.shape == (100, 2) and nfe == nfe8 == 40 and np.all(np.abs(x8) < 10)
    # The same per-sample noise, so the same samples. Here they are even bit-identical, but XLA may block a
    # matmul of 8 rows per device differently from one of 64 rows and sums the corrector's batch-mean norms
    # across devices in another order: float32 rounding (~1e-7 relative per op) through 40 score evaluations.
    np.testing.assert_allclose(x8, x1, rtol=1e-4, atol=1e-4)
    fsdp, _ = sampling.generate(cfg, model, key, 100, mesh_of(8, 2), progress=False)  # a (4, 2) data x fsdp mesh
    np.testing.assert_allclose(fsdp, x1, rtol=1e-4, atol=1e-4)
    first, _ = sampling.generate(cfg, model, key, 40, mesh_of(8), progress=False)
    np.testing.assert_array_equal(first, x8[:40])  # sample i depends on (key, i): n does not change it
    other, _ = sampling.generate(cfg, model, jax.random.key(4), 40, mesh_of(8), progress=False)
    assert np.min(np.abs(other - first)) > 0  # another key, other samples


def test_the_batch_is_sharded_over_the_mesh(run):
    cfg, _, mesh, model, _ = run
    process = components.build_process(cfg)
    idx = np.arange(B, 2 * B, dtype=np.int32)
    (idx_d,) = placement.place_rows(mesh, idx)
    key = parallel.shard_tree(jax.random.key(3), parallel.replicated(mesh))
    x, _ = sampling.draw(score.model_score(cfg, model, process), sampling.build_sampler(cfg, process), key, idx_d,
                         None, (2,), parallel.batch_sharding(mesh))  # fmt: skip
    shards = sorted(x.addressable_shards, key=lambda s: s.index[0].start)
    assert len({s.device for s in shards}) == 8 and all(s.data.shape == (B // 8, 2) for s in shards)
    assert placement.local_rows(x) == list(range(B))
    x_all, _ = sampling.generate(cfg, model, jax.random.key(3), 2 * B, mesh, progress=False)
    np.testing.assert_array_equal(np.asarray(x), x_all[B:])  # batch 1 of a run = the same global indices


def _tb_scalars(logdir: str) -> dict[str, dict[int, float]]:
    """tag -> {step: value} from tensorboardX event files (TFRecord framing, Event protos)."""
    from tensorboardX.proto import event_pb2

    out = {}
    for path in glob.glob(os.path.join(logdir, "events.*")):
        with open(path, "rb") as f:
            data = f.read()
        pos = 0
        while pos < len(data):
            (n,) = struct.unpack("<Q", data[pos : pos + 8])
            event = event_pb2.Event.FromString(data[pos + 12 : pos + 12 + n])
            pos += 12 + n + 4
            for v in event.summary.value:
                out.setdefault(v.tag, {})[event.step] = v.simple_value
    return out


def test_sweep_writes_a_json_and_scalars_per_checkpoint_without_recompiling(run):
    cfg, workdir, mesh, _, _ = run
    sweep = _with(cfg, **{"eval.begin_step": 150, "eval.end_step": 300})
    checks.validate(sweep, workdir, "eval")
    with compiles("draw") as seen:
        last = evaluation.run(sweep, workdir, mesh)
    assert seen == {"compiles": 0, "traces": 0}, seen  # 2 checkpoints x 4 batches on the training's compilation
    saved = {}
    for step in (150, 300):
        with open(os.path.join(workdir, "eval", f"step_{step}.json")) as f:
            saved[step] = json.load(f)
        assert saved[step]["n_samples"] == 200 and saved[step]["swd"] > 0
        assert len(glob.glob(os.path.join(workdir, "eval", f"step_{step}", "shard_*.npz"))) == 4
    assert saved[300] == last and saved[150]["swd"] != saved[300]["swd"]
    scalars = _tb_scalars(os.path.join(workdir, "tensorboard", "eval"))
    for name in ("swd", "mmd", "nfe", "swd_data_vs_data"):
        assert scalars[f"eval/{name}"] == pytest.approx({s: saved[s][name] for s in (150, 300)}, rel=1e-6), name
    first = _with(cfg, **{"eval.begin_step": 1, "eval.end_step": 160})
    assert evaluation.eval_steps(first, [150, 300]) == [150]
    assert evaluation.eval_steps(_with(cfg, **{"eval.begin_step": 200}), [150, 300]) == [300]  # end 0: to the latest
    assert evaluation.eval_steps(cfg, [150, 300]) == [300]  # 0 / 0: the latest


@pytest.mark.parametrize(
    "fields, needle",
    [
        ({"eval.begin_step": 301}, "no checkpoint in range (have 150, 300)"),
        ({"eval.begin_step": 160, "eval.end_step": 170}, "eval.begin_step=160 / eval.end_step=170"),
        ({"eval.begin_step": 80, "eval.end_step": 60}, "eval.end_step=60 is before eval.begin_step=80"),
        ({"eval.begin_step": -1}, "eval.begin_step=-1 must be a non-negative integer"),
        ({"eval.n_samples": 1}, "eval.n_samples=1"),
    ],
)
def test_bad_eval_ranges_are_one_line(run, fields, needle):
    cfg, workdir, _, _, _ = run
    with pytest.raises(ValueError) as e:
        checks.validate(_with(cfg, **fields), workdir, "eval")
    assert needle in str(e.value) and "\n" not in str(e.value), str(e.value)


def test_eval_resumes_from_finished_shards(run, monkeypatch):
    cfg, workdir, mesh, _, _ = run
    cfg = _with(cfg, **{"eval.begin_step": 150, "eval.end_step": 150})
    json_path = os.path.join(workdir, "eval", "step_150.json")
    shard_dir = os.path.join(workdir, "eval", "step_150")
    full = evaluation.run(cfg, workdir, mesh)  # shards from the sweep, or drawn now
    drawn, limit, real_draw = [], [None], sampling.draw

    def draw(*args):
        if limit[0] is not None and len(drawn) == limit[0]:
            raise KeyboardInterrupt  # the eval is killed here
        drawn.append(int(np.asarray(args[3])[0]))  # the batch's first sample index
        return real_draw(*args)

    monkeypatch.setattr(sampling, "draw", draw)
    os.remove(json_path)
    for j in (1, 2, 3):
        os.remove(os.path.join(shard_dir, f"shard_{j:05d}.npz"))
    limit[0] = 2
    with pytest.raises(KeyboardInterrupt):
        evaluation.run(cfg, workdir, mesh)
    assert drawn == [B, 2 * B] and not os.path.exists(json_path)
    assert sorted(os.listdir(shard_dir)) == ["manifest.json", "shard_00000.npz", "shard_00001.npz", "shard_00002.npz"]
    drawn.clear()
    limit[0] = None
    assert evaluation.run(cfg, workdir, mesh) == full and drawn == [3 * B]  # only the missing batch
    with open(json_path) as f:
        assert json.load(f) == full
    drawn.clear()
    assert evaluation.run(cfg, workdir, mesh) == full and drawn == []  # everything from the shards
    res = evaluation.run(_with(cfg, **{"sampling.pc.n_steps": 10}), workdir, mesh)  # other settings: shards redrawn
    assert drawn == [0, B, 2 * B, 3 * B] and res["nfe"] == 20 and res["swd"] != full["swd"]
    with open(os.path.join(shard_dir, "manifest.json")) as f:
        assert json.load(f)["sampling"]["pc"]["n_steps"] == 10
