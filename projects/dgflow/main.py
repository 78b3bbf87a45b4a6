"""DGflow: refine GAN and VAE samples by discriminator gradient flow (Ansari, Ang & Soh, ICLR 2021), DDLS as baseline.

    python projects/dgflow/main.py --config=configs/dgflow/grid25.py --workdir=runs/dgflow_grid25 --mode=train
    python projects/dgflow/main.py --config=configs/dgflow/grid25.py --workdir=runs/dgflow_grid25 --mode=refine
    python projects/dgflow/main.py --config=configs/dgflow/grid25.py --workdir=runs/dgflow_grid25 --mode=eval

train: fit the generator G and discriminator d (WGAN-GP, non-saturating or hinge; or a VAE), then, for
models without a usable d, a corrector: a classifier of data vs G's samples whose logit estimates
log p_data / p_G. refine: draw z ~ N(0, I) and, for each f in {KL, JS, logD}, simulate
    z <- z + eta c(d(G(z))) grad_z d(G(z)) + sqrt(2 gamma eta) xi      (n_steps times)
and, as the baseline with as many gradients of d, DDLS: Langevin on |z|^2 / 2 - d(G(z)).
eval: quality of G(z) before and after each refinement.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from absl import app, flags, logging  # noqa: E402
from ml_collections import config_flags  # noqa: E402

_CONFIG = config_flags.DEFINE_config_file("config", None, "path to a config file with get_config()", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "run folder: checkpoints, refined samples, metrics")
_MODE = flags.DEFINE_enum("mode", "train", ["train", "refine", "eval"], "what to do")
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
    from projects.dgflow import checks, evaluation, refinement, training

    cfg, workdir = _CONFIG.value, _WORKDIR.value
    try:
        mesh = checks.validate(cfg, workdir, _MODE.value)
    except ValueError as e:
        sys.exit(f"error: {str(e).splitlines()[0]}")
    try:
        if _MODE.value == "train":
            stopped = training.run(cfg, workdir, mesh)
            logging.info("stopped by SIGTERM after saving" if stopped else "training finished")
        elif _MODE.value == "refine":
            refinement.run(cfg, workdir, mesh)
        else:
            evaluation.run(cfg, workdir, mesh)
    except train.NonFiniteLossError as e:  # the last good checkpoint stays; say so in one line
        sys.exit(f"error: {str(e).splitlines()[0]}")


if __name__ == "__main__":
    app.run(main)
