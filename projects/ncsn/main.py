"""NCSN / Score-SDE: train, sample and evaluate score models.

    python projects/ncsn/main.py --config=configs/digits.py --workdir=runs/digits --mode=train
    python projects/ncsn/main.py --workdir=runs/digits --mode=sample     (the run's saved config.json)
    python projects/ncsn/main.py --workdir=runs/digits --mode=eval --config.eval.n_samples=2000

train: minimise the configured score-matching loss (DSM over t ~ U(eps, 1), NCSN's multi-sigma
DSM, DDPM's eps loss, or sliced SM) with Adam, EMA, sharded over all devices, resuming from
the last checkpoint. sample: draw from the EMA model with the configured sampler. eval:
bits/dim, and sample-quality metrics against held-out data.

The first train saves the resolved config as <workdir>/config.json; a resume, sample or eval may
change sampling.*, eval.*, parallel.* and the bookkeeping fields in EXEMPT, not what the model was
trained with (FIXED).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from absl import logging  # noqa: E402

from scoresde import project  # noqa: E402

FIXED = ("seed", "data", "sde", "model", "training", "optim")
EXEMPT = ("data.path", "data.n_test", "data.plot_lim", "training.n_steps", "training.log_every",
          "training.checkpoint_every", "training.snapshot_every", "training.snapshot_samples",
          "training.eval_every", "training.max_to_keep")  # fmt: skip
PROJECT = project.Project(("train", "sample", "eval"), "train", project.RunFields(FIXED, EXEMPT))


def run(r: project.Run):
    from projects.ncsn import checks, evaluation, sampling_mode, training

    mesh = checks.validate(r.cfg, r.workdir, r.mode)
    project.begin(r)
    if r.mode == "train":
        _, stopped = training.run(r.cfg, r.workdir, mesh)
        logging.info("stopped by SIGTERM after saving" if stopped else "training finished")
    elif r.mode == "sample":
        sampling_mode.run(r.cfg, r.workdir, mesh)
    else:
        evaluation.run(r.cfg, r.workdir, mesh)


if __name__ == "__main__":
    project.main(PROJECT, run)
