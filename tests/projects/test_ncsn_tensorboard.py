"""NCSN training's record: the progress lines (step k/N, ETA, the compile line) and TensorBoard's event file read
back without tensorflow (sample grid image, eval/loss at training.eval_every, the config as text)."""

import glob
import json
import logging
import os
import struct

import pytest

from configs import digits
from projects.ncsn import checks, training  # noqa: E402  (path set by helpers)
from tests.projects._ncsn_helpers import mesh_of, tiny_toy_config


def _events(folder: str) -> list:
    """Every Event of the TFRecord files in `folder` (uint64 length, uint32 crc, data, uint32 crc)."""
    from tensorboardX.proto import event_pb2

    events = []
    for path in sorted(glob.glob(os.path.join(folder, "events.*"))):
        with open(path, "rb") as f:
            data = f.read()
        at = 0
        while at < len(data):
            (n,) = struct.unpack("<Q", data[at : at + 8])
            event = event_pb2.Event()
            event.ParseFromString(data[at + 12 : at + 12 + n])
            events.append(event)
            at += 12 + n + 4
    return events


def _digits_config(**training):
    cfg = digits.get_config()
    cfg.model.name, cfg.model.width, cfg.model.depth = "mlp", 32, 2
    cfg.training.update(dict(n_steps=20, log_every=10, checkpoint_every=20, snapshot_every=20, snapshot_samples=16))
    cfg.training.update(training)
    cfg.sampling.dpm_solver.n_steps = 4
    return cfg


def test_progress_lines_and_tensorboard_images_eval_loss_and_config(tmp_path, caplog):
    cfg = _digits_config(eval_every=10)
    workdir = str(tmp_path / "run")
    with caplog.at_level(logging.INFO):
        training.run(cfg, workdir, mesh_of(1))
    lines = [r.getMessage() for r in caplog.records]
    assert [v for v in lines if v.startswith("compiled train step in ")], lines
    progress = [v for v in lines if v.startswith("step ") and "  loss " in v]
    assert [v.split("  ")[0] for v in progress] == ["step 10/20", "step 20/20"]
    assert all(" steps/s  ETA " in v and "  lr " in v and "  grad_norm " in v and "examples/s " in v for v in progress)
    assert [v.split("  ")[0] for v in lines if "eval/loss" in v] == ["step 10/20", "step 20/20"]
    assert any(v.startswith("snapshot ") and "step_0000020.png at step 20 in " in v for v in lines), lines

    scalars, images, texts = {}, [], []
    for event in _events(os.path.join(workdir, "tensorboard")):
        for value in event.summary.value:
            if value.HasField("image"):
                images.append((value.tag, event.step, value.image.height, value.image.width))
            elif value.metadata.plugin_data.plugin_name == "text":
                texts.append((value.tag, value.tensor.string_val[0].decode()))
            elif value.HasField("simple_value"):
                scalars.setdefault(value.tag, []).append((event.step, value.simple_value))
    assert [(tag, step) for tag, step, *_ in images] == [("samples", 20)] and images[0][2] > 16
    assert [s for s, _ in scalars["eval/loss"]] == [10, 20] and all(v > 0 for _, v in scalars["eval/loss"])
    assert [s for s, _ in scalars["train/steps_per_sec"]] == [10, 20]
    (tag, text), *_ = texts
    assert tag.startswith("config") and json.loads(text)["training"]["eval_every"] == 10


def test_eval_every_must_be_a_nonnegative_integer_with_a_test_split_to_draw_on(tmp_path):
    with pytest.raises(ValueError, match=r"^training\.eval_every=-1 must be an integer >= 0$"):
        checks.validate(_digits_config(eval_every=-1), str(tmp_path / "run"), "train")
    small = tiny_toy_config(**{"training.eval_every": 10, "data.n_test": 4})  # 8 devices here
    with pytest.raises(ValueError, match=r"^training\.eval_every=10 needs a held-out batch of at least the 8 devices"):
        checks.validate(small, str(tmp_path / "run"), "train")
    assert not os.path.exists(tmp_path / "run")
