"""train_loop's progress: `step k/N`, steps/s and ETA from step time alone (a fake clock: a slow first call,
snapshots and evals that take long), the compile / snapshot / eval / checkpoint lines, and the tqdm bar."""

import io
import logging
import math

import numpy as np
import pytest
from absl import logging as absl_logging

from scoresde import checkpoint, train
from scoresde.train import _progress
from tests.test_checkpoint import _state


class _Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def _run(tmp_path, monkeypatch, **kw):
    """train_loop with a trivial step: the first call takes 5 s (compilation), later ones 0.1 s each;
    a snapshot takes 100 s and an eval 50 s. Returns (on_log's seconds per step, log messages)."""
    clock = _Clock()
    monkeypatch.setattr(_progress, "_clock", clock)
    calls, seen = [], []

    def step(state, batch):
        clock.now += 5.0 if not calls else 0.1 * kw.get("steps_per_call", 1)
        calls.append(1)
        return state, {"loss": np.float32(0.5)}

    def on_log(s, metrics, sec_per_step):
        seen.append(sec_per_step)
        return f"extra {s}"

    def on_snapshot(s, state):
        clock.now += 100.0
        return f"snap_{s}.png"

    def on_eval(s, state):
        clock.now += 50.0
        return {"loss": 0.25}

    ck = checkpoint.Checkpointer(str(tmp_path / "run" / "checkpoints"))
    args = dict(total_steps=40, log_every=10, checkpoint_every=1000, snapshot_every=20, eval_every=10)
    train.train_loop(_state(), step, iter(lambda: {"x": np.zeros(2)}, None), lambda b: b, ck,
                     on_log=on_log, on_snapshot=on_snapshot, on_eval=on_eval, **{**args, **kw})  # fmt: skip
    ck.close()
    return seen


def test_rate_and_eta_leave_out_compilation_snapshots_and_evals(tmp_path, monkeypatch, caplog):
    with caplog.at_level(logging.INFO):
        seen = _run(tmp_path, monkeypatch)
    lines = [r.getMessage() for r in caplog.records]
    assert "compiled train step in 5.0 s" in lines
    # steps 2..10 took 0.9 s: 10 steps/s, not 10 / 5.9 s; the snapshot (100 s) and evals (50 s) are not step time
    assert np.allclose(seen, 0.1)
    progress = [v for v in lines if v.startswith("step ") and "  loss " in v]
    assert progress == [
        "step 10/40  loss 0.5  10 steps/s  ETA 3s  extra 10",
        "step 20/40  loss 0.5  10 steps/s  ETA 2s  extra 20",
        "step 30/40  loss 0.5  10 steps/s  ETA 1s  extra 30",
        "step 40/40  loss 0.5  10 steps/s  ETA 0s  extra 40",
    ]
    assert [v for v in lines if "eval/" in v] == [f"step {s}/40  eval/loss 0.25  (50.0 s)" for s in (10, 20, 30, 40)]
    assert [v for v in lines if v.startswith("snapshot")] == [
        "snapshot snap_20.png at step 20 in 100.0 s",
        "snapshot snap_40.png at step 40 in 100.0 s",
    ]
    assert [v for v in lines if v.startswith("saved checkpoint")] == ["saved checkpoint 40 in 0.0 s"]


def test_a_log_point_on_the_first_call_has_no_rate_and_the_name_prefixes_lines(tmp_path, monkeypatch, caplog):
    with caplog.at_level(logging.INFO):
        seen = _run(tmp_path, monkeypatch, total_steps=6, steps_per_call=2, log_every=2, snapshot_every=0,
                    eval_every=0, name="critic")  # fmt: skip
    lines = [r.getMessage() for r in caplog.records]
    assert math.isnan(seen[0]) and np.allclose(seen[1:], 0.1)
    assert [v for v in lines if v.startswith("critic step")] == [
        "critic step 2/6  loss 0.5  - steps/s  ETA ?  extra 2",
        "critic step 4/6  loss 0.5  10 steps/s  ETA 0s  extra 4",
        "critic step 6/6  loss 0.5  10 steps/s  ETA 0s  extra 6",
    ]
    assert "critic compiled train step in 5.0 s" in lines


def test_tqdm_bar_replaces_the_progress_lines_on_stderr_only(tmp_path, monkeypatch, caplog):
    handler = absl_logging.get_absl_handler()
    on_stderr = []
    monkeypatch.setattr(handler.python_handler, "emit", lambda record: on_stderr.append(record.getMessage()))
    root = logging.getLogger()
    added = handler not in root.handlers
    if added:
        root.addHandler(handler)
    bar = io.StringIO()
    monkeypatch.setattr("sys.stderr", bar)
    try:
        with caplog.at_level(logging.INFO):
            _run(tmp_path, monkeypatch, progress_bar=True)
    finally:
        if added:
            root.removeHandler(handler)
    assert "40/40" in bar.getvalue() and "10 steps/s  ETA 0s" in bar.getvalue()
    assert "compiled train step in 5.0 s" in on_stderr
    assert not [v for v in on_stderr if "  loss " in v], on_stderr  # the bar shows them ...
    assert "step 40/40  loss 0.5  10 steps/s  ETA 0s  extra 40" in [r.getMessage() for r in caplog.records]  # log.txt
    assert not [f for f in handler.filters if isinstance(f, _progress._BarFilter)]


@pytest.mark.parametrize(
    "seconds, text", [(0.4, "0s"), (47, "47s"), (947, "15m47s"), (7500, "2h05m"), (273600, "3d04h"), (math.nan, "?")]
)
def test_durations(seconds, text):
    assert _progress.format_duration(seconds) == text


@pytest.mark.parametrize("rate, text", [(0.01234, "0.0123"), (1.94, "1.94"), (1070.4, "1070"), (math.nan, "-")])
def test_rates(rate, text):
    assert _progress.format_rate(rate) == text
