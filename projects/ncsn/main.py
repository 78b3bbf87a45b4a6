"""NCSN / Score-SDE: train, sample and evaluate score models.

    python projects/ncsn/main.py --config=configs/digits.py --workdir=runs/digits --mode=train
    python projects/ncsn/main.py --config=configs/digits.py --workdir=runs/digits --mode=sample
    python projects/ncsn/main.py --config=configs/digits.py --workdir=runs/digits --mode=eval

train: minimise the configured score-matching loss (DSM over t ~ U(eps, 1), NCSN's multi-sigma
DSM, DDPM's eps loss, or sliced SM) with Adam, EMA, sharded over all devices, resuming from
the last checkpoint. sample: draw from the EMA model with the configured sampler. eval:
bits/dim, and sample-quality metrics against held-out data.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from absl import app, flags, logging  # noqa: E402
from ml_collections import config_flags  # noqa: E402

_CONFIG = config_flags.DEFINE_config_file("config", None, "path to a config file with get_config()", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "run folder: checkpoints, logs, samples")
_MODE = flags.DEFINE_enum("mode", "train", ["train", "sample", "eval"], "what to do")
_COORD = flags.DEFINE_string("coordinator", "", "host:port of process 0 for a multi-host run (jax.distributed)")
_NPROC = flags.DEFINE_integer("num_processes", 0, "number of processes in a multi-host run")
_PID = flags.DEFINE_integer("process_id", -1, "this process's index in a multi-host run")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    from scoresde import checkpoint, parallel, train

    parallel.maybe_initialize_distributed(_COORD.value, _NPROC.value, _PID.value)
    checkpoint.quiet_orbax_logs()
    from projects.ncsn import checks, evaluation, sampling_mode, training

    cfg, workdir = _CONFIG.value, _WORKDIR.value
    try:
        mesh = checks.validate(cfg, workdir, _MODE.value)
    except ValueError as e:
        sys.exit(f"error: {str(e).splitlines()[0]}")
    try:
        if _MODE.value == "train":
            _, stopped = training.run(cfg, workdir, mesh)
            logging.info("stopped by SIGTERM after saving" if stopped else "training finished")
        elif _MODE.value == "sample":
            sampling_mode.run(cfg, workdir, mesh)
        else:
            evaluation.run(cfg, workdir, mesh)
    except train.NonFiniteLossError as e:  # the last good checkpoint stays; say so in one line
        sys.exit(f"error: {str(e).splitlines()[0]}")


if __name__ == "__main__":
    app.run(main)
