"""Import a released checkpoint into a run folder that `projects/ncsn/main.py --mode=sample|eval` uses as it is.

    python tools/import_checkpoint.py --format=score_sde_pytorch --checkpoint=checkpoint_8.pth \
        --config=configs/cifar.py --workdir=runs/cifar_pretrained [--config.model.num_res_blocks=8] [--noema]

Formats: score_sde_pytorch (.pth), score_sde (Flax msgpack `checkpoint_N`), ncsnv2, ncsn (.pth of
ermongroup's runners), dit (facebookresearch/DiT .pt). The weights are mapped onto the network of
`--config` (the same --config and overrides must be given to main.py afterwards); the EMA weights are
taken (what the reference samples with) unless --noema. They become both the EMA and the raw
parameters of a fresh train state (optimiser state zero) saved at the checkpoint's step, with the
EMA weights as the checkpoint's model export (what --mode=sample and --mode=eval restore), so training
can also continue from there. The run record is written as a train run writes it: the resolved config
as <workdir>/config.json (main.py then needs no --config: `--mode=sample --workdir=<workdir>`) and a
line in <workdir>/log.txt. A checkpoint of another architecture or config, a missing EMA, an unreadable
file, a workdir that already holds checkpoints or whose config.json records another run is one line on
stderr, a non-zero exit, and nothing written.
"""

import os
import shlex
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402
from ml_collections import config_flags  # noqa: E402

_CONFIG = config_flags.DEFINE_config_file("config", None, "run config the checkpoint is used with", lock_config=True)
_CHECKPOINT = flags.DEFINE_string("checkpoint", None, "the checkpoint file")
_FORMAT = flags.DEFINE_enum(
    "format", None, ["score_sde_pytorch", "score_sde", "ncsnv2", "ncsn", "dit"], "which repository wrote it"
)
_WORKDIR = flags.DEFINE_string("workdir", None, "run folder to create (must hold no checkpoints yet)")
_EMA = flags.DEFINE_bool("ema", True, "take the EMA weights (--noema: the raw training weights)")
flags.mark_flags_as_required(["config", "checkpoint", "format", "workdir"])


def _fail(msg: str):
    sys.exit(f"error: {str(msg).splitlines()[0]}")


def check_workdir(workdir: str, cfg) -> str:
    """An absolute path to a folder that is (or can become) writable, holds no checkpoints, and records no other
    run: a config.json already there must agree with `cfg` on the fields that define the run, as for a train."""
    from projects.ncsn.main import PROJECT
    from scoresde import checkpoint, project

    path = checkpoint.check_workdir(workdir)
    ckpts = os.path.join(path, "checkpoints")
    if os.path.isdir(ckpts) and os.listdir(ckpts):
        raise ValueError(f"--workdir={workdir!r} already holds checkpoints; give a new run folder")
    saved = project.read_record(path)
    if saved is not None:
        project.check_against_record(cfg, saved, PROJECT.fields, where=project.record_path(path), mode="train")
    return path


def write_workdir(cfg, workdir: str, model, step: int, record: dict) -> str:
    """Save `model` as the EMA (and raw) weights of a train state of `cfg` in workdir/checkpoints, the EMA also
    as the model export; then the run record (config.json, a log.txt line) and imported.json.

    The state is what projects.ncsn.training builds (init_state of the same model, optimiser from
    cfg.optim), so `training.restore_ema_model(cfg, workdir, mesh)` restores it.
    """
    import jax
    import jax.numpy as jnp
    from absl import logging

    from scoresde import checkpoint, project, train

    optimizer = train.make_optimizer(cfg.optim)
    _, k_train = jax.random.split(jax.random.key(cfg.seed))  # the key split of training.build_state
    state, _ = train.init_state(model, optimizer, k_train)
    state = type(state)(
        step=jnp.asarray(step, jnp.int32),
        params=state.params,
        ema=state.params,
        opt_state=state.opt_state,
        key=state.key,
        bad=state.bad,
    )
    with checkpoint.WorkdirLock(workdir):  # the folder is being written: no trainer may start meanwhile
        ckpt = checkpoint.Checkpointer(os.path.join(workdir, "checkpoints"))
        ckpt.save(step, state, record, model=state.ema)
        ckpt.close()
        project.write_json_atomic(project.record_path(workdir), project.to_plain(cfg))
        project.write_json_atomic(os.path.join(workdir, "imported.json"), record)
        project.log_to_file(workdir)
        logging.info("run: %s", " ".join(map(shlex.quote, sys.argv)))
        logging.info("imported %s (%s, %s weights) as checkpoint %d", record["imported_from"], record["format"],
                     "EMA" if record["ema"] else "raw", step)  # fmt: skip
        project.stop_log_file()
    return os.path.join(workdir, "checkpoints", str(step))


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    from projects.ncsn import components
    from scoresde import checkpoint, interop, nets

    checkpoint.quiet_orbax_logs()
    cfg, path = _CONFIG.value, _CHECKPOINT.value
    t0 = time.perf_counter()
    try:
        workdir = check_workdir(_WORKDIR.value, cfg)
        if not os.path.isfile(path):
            raise ValueError(f"--checkpoint={path!r} does not exist")
        model_cfg = components.model_config(cfg)
        params, info = interop.read_parameters(path, model_cfg, format=_FORMAT.value, ema=_EMA.value)
        model = interop.from_state_dict(params, model_cfg, format=_FORMAT.value, where=path)
        del params
        components.check_model(cfg)  # the run config's own checks (shapes, labels) before anything is written
    except ValueError as e:
        _fail(e)
    t_read = time.perf_counter() - t0
    step = info["step"] if info["step"] is not None else 0
    record = dict(imported_from=os.path.abspath(path), format=_FORMAT.value, ema=bool(_EMA.value), step=step)
    out = write_workdir(cfg, workdir, model, step, record)
    which = "EMA" if _EMA.value else "raw"
    print(
        f"wrote {out}: the {which} weights of {path} ({nets.count_params(model):,} parameters, "
        f"step {step}; read {t_read:.1f} s, total {time.perf_counter() - t0:.1f} s)"
    )


if __name__ == "__main__":
    app.run(main)
