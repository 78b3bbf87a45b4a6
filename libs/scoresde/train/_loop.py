"""The host-side training loop shared by the projects: resume, step, log, snapshot, checkpoint, stop.

One jitted call per iteration (which may run several steps); the host reads device values
only every `log_every` steps, at snapshots, evals and checkpoints, and once after the first
call (its compilation is timed apart), never in between. Progress (`step k/N`, steps/s, ETA)
counts step time only: see `_progress`. Process 0 holds the
workdir lock for the whole loop (a second trainer fails in one line). A SIGTERM (on any
process of a multi-host run) is turned into a checkpoint at a step all processes agree on and
a clean return; a non-finite loss stops the run with an error and no checkpoint of the bad
state (the update that met it was already skipped on device). A damaged latest checkpoint is
set aside and the newest intact one resumed.
"""

from collections.abc import Callable, Iterator

import jax
import numpy as np
from absl import logging

from ..checkpoint import Checkpointer, PreemptionGuard, hold_workdir, workdir_of
from . import _progress
from ._progress import Progress


class NonFiniteLossError(RuntimeError):
    pass


def _record(data_iter) -> dict:
    return {"data_state": data_iter.get_state() if hasattr(data_iter, "get_state") else None}


def ema_of(state):
    """The default model export of a checkpoint: the state's EMA parameters, if it has them."""
    return getattr(state, "ema", None)


def restore_or_keep(checkpointer: Checkpointer, state, data_iter):
    """Resume from the newest intact checkpoint if there is one: (state, step, resumed?)."""
    if checkpointer.latest_step() is None:
        return state, 0, False
    state, record, step = checkpointer.restore_intact(state, set_aside=True)
    if record.get("data_state") is not None and hasattr(data_iter, "set_state"):
        data_iter.set_state(record["data_state"])
    logging.info("resumed from checkpoint %d in %s", step, checkpointer.directory)
    return state, int(step), True


def train_loop(
    state,
    train_step: Callable,
    data_iter: Iterator,
    to_device: Callable,
    checkpointer: Checkpointer,
    *,
    total_steps: int,
    steps_per_call: int = 1,
    log_every: int = 100,
    checkpoint_every: int = 1000,
    snapshot_every: int = 0,
    on_log: Callable | None = None,
    on_snapshot: Callable | None = None,
    workdir: str | None = None,
    model_of: Callable = ema_of,
    eval_every: int = 0,
    on_eval: Callable | None = None,
    name: str = "",
    progress_bar: bool | None = None,
):
    """Train until `total_steps` (resuming from the last checkpoint); returns (state, stopped_by_signal).

    `to_device(host_batch)` builds the global device batch; with `steps_per_call` > 1 the
    host batches are stacked along a new leading axis first. Every `log_every` steps the loop
    logs `[name ]step k/N  loss  steps/s  ETA` followed by what `on_log(step, metrics,
    sec_per_step)` returns (a string, or None); `sec_per_step` is step time only: the first
    call (compilation, its own line "compiled train step in X s") and the snapshots, evals and
    checkpoints (each on its own line with its seconds) are not in it. `on_snapshot(step,
    state)` may return a description (e.g. a path) for its line; `on_eval(step, state)` every
    `eval_every` steps returns {name: float} for its line. The callbacks run on every process
    (they decide who writes). `progress_bar`: a tqdm bar instead of progress lines on stderr
    (None: when stderr is a tty, on process 0). `workdir`: the folder whose LOCK is held
    (default: `workdir_of(checkpointer.directory)`); `model_of(state)`: the model export saved
    with each checkpoint (None: none).
    """
    lock_dir = workdir if workdir is not None else workdir_of(checkpointer.directory)
    prefix = f"{name} " if name else ""
    with PreemptionGuard() as guard, hold_workdir(lock_dir):
        state, step, resumed = restore_or_keep(checkpointer, state, data_iter)
        last_saved = step if resumed else None
        progress = Progress(total_steps, step, name=name, bar=progress_bar)

        def paused(fn, *args, **kwargs):
            """fn(...) outside step time: pending steps finish first (this point reads the device anyway)."""
            jax.block_until_ready(state)
            with progress.pause() as p:
                out = fn(*args, **kwargs)
            return out, p.seconds

        def save(at_step):
            nonlocal last_saved
            if bool(jax.device_get(state.bad)):
                raise NonFiniteLossError(
                    f"training stopped: non-finite loss or gradient before step {at_step}; "
                    f"nothing was saved, the last good checkpoint is {last_saved}"
                )
            _, sec = paused(checkpointer.save, at_step, state, _record(data_iter), model=model_of(state))
            progress.say(f"{prefix}saved checkpoint {at_step} in {sec:.1f} s")
            last_saved = at_step

        try:
            while step < total_steps:
                host = [next(data_iter) for _ in range(steps_per_call)]
                if steps_per_call > 1:
                    host = [{k: np.stack([h[k] for h in host]) for k in host[0]}]
                first = progress.first_call_pending
                if first:
                    progress.say(f"{prefix}compiling train step (the first call)")
                t0 = _progress._clock()
                state, metrics = train_step(state, to_device(host[0]))
                step += steps_per_call
                if first:
                    jax.block_until_ready((state, metrics))
                    progress.compiled(step, _progress._clock() - t0)
                else:
                    progress.advance(step)
                if step % log_every < steps_per_call or step >= total_steps:
                    metrics = jax.device_get(metrics)
                    if bool(jax.device_get(state.bad)) or not np.isfinite(float(metrics["loss"])):
                        raise NonFiniteLossError(
                            f"training stopped: non-finite loss at step {step} (loss={float(metrics['loss'])}); "
                            f"nothing was saved, the last good checkpoint is {last_saved}"
                        )
                    sec_per_step = progress.interval(step)
                    extra = on_log(step, metrics, sec_per_step) if on_log is not None else None
                    progress.report(step, float(metrics["loss"]), extra or "")
                if on_snapshot is not None and snapshot_every and step % snapshot_every < steps_per_call:
                    what, sec = paused(on_snapshot, step, state)
                    where = f" {what}" if what else ""
                    progress.say(f"{prefix}snapshot{where} at step {step} in {sec:.1f} s")
                if on_eval is not None and eval_every and step % eval_every < steps_per_call:
                    values, sec = paused(on_eval, step, state)
                    shown = "  ".join(f"eval/{k} {float(v):.7g}" for k, v in dict(values or {}).items())
                    progress.say(f"{prefix}step {step}/{total_steps}  {shown}  ({sec:.1f} s)")
                if step % checkpoint_every < steps_per_call:
                    save(step)
                if guard.should_stop():
                    logging.warning("SIGTERM: saving checkpoint %d and stopping", step)
                    if last_saved != step:
                        save(step)
                    return state, True
            if last_saved != step:
                save(step)
            return state, False
        finally:
            progress.close()
