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

The first train saves the resolved config as <workdir>/config.json (refine and eval then need no
--config); a resume, refine or eval may change refine.*, eval.*, parallel.* and the bookkeeping
fields in EXEMPT, not what the models were trained with (FIXED).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from absl import logging  # noqa: E402

from scoresde import project  # noqa: E402

FIXED = ("seed", "data", "model", "gan", "vae", "training", "optim_g", "optim_d", "corrector")
EXEMPT = ("data.path", "data.n_test", "data.plot_lim", "training.n_steps", "training.log_every",
          "training.checkpoint_every", "training.max_to_keep", "corrector.train", "corrector.n_steps")  # fmt: skip
PROJECT = project.Project(("train", "refine", "eval"), "train", project.RunFields(FIXED, EXEMPT))


def run(r: project.Run):
    from projects.dgflow import checks, evaluation, refinement, training

    mesh = checks.validate(r.cfg, r.workdir, r.mode)
    project.begin(r)
    if r.mode == "train":
        stopped = training.run(r.cfg, r.workdir, mesh)
        logging.info("stopped by SIGTERM after saving" if stopped else "training finished")
    elif r.mode == "refine":
        refinement.run(r.cfg, r.workdir, mesh)
    else:
        evaluation.run(r.cfg, r.workdir, mesh)


if __name__ == "__main__":
    project.main(PROJECT, run)
