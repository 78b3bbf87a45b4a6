"""SD flow (Weber, TMLR 2023): move samples of a source q toward a target p along the score difference.

    python projects/sdflow/main.py --config=configs/sdflow/gauss_to_25gaussians.py --workdir=runs/sdf --mode=flow
    python projects/sdflow/main.py --config=configs/sdflow/gauss_to_25gaussians.py --workdir=runs/sdf --mode=eval

The algorithm: for sigma_1 > ... > sigma_L (annealed), repeat steps_per_level times
    x <- x + eta_l (grad log p_sigma(x) - grad log q_sigma(x))      [+ sqrt(2 gamma eta_l) xi]
with proxies p_sigma = p * N(0, sigma^2 I), q_sigma = q * N(0, sigma^2 I) of the target and of the
current particles: kernel (exact scores of the smoothed sample sets), learned (DSM score nets) or
exact (Gaussian-mixture oracle). train: fit the learned scores / the one-step generator.
flow: run the flow (or sample the generator), save particles per level and plots. eval: SWD/MMD
per level beside data-vs-data and the KL between the proxies.

The first train (or flow) saves the resolved config as <workdir>/config.json; later runs in that
workdir may not change what --mode=train learned from (`run_fields`): the source, target, proxies
and method always; the score nets and their noise ladder (flow.sigma_*) with learned proxies; the
whole flow schedule with the generator. Everything else (flow.eta of a particle flow, eval.*, ...) may.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from absl import logging  # noqa: E402

from scoresde import project  # noqa: E402

ALWAYS = ("seed", "source", "target", "proxy", "flow.method")
LADDER = ("flow.sigma_max", "flow.sigma_min", "flow.n_levels", "flow.sigmas")
SCHEDULE = ("flow.n_particles", "flow.eta", "flow.step_scaling", "flow.steps_per_level", "flow.noise")
EXEMPT = ("source.path", "target.path", "target.n_test", "learned.refit_steps", "learned.refit_every",
          "learned.refit_batch", "learned.n_steps", "learned.log_every", "learned.checkpoint_every",
          "generator.steps_per_level", "generator.log_every", "generator.checkpoint_every")  # fmt: skip


def run_fields(cfg) -> project.RunFields:
    """What the run's --mode=train learned from (decided by its saved config)."""
    learned = "learned" in (cfg.proxy.target, cfg.proxy.source)
    generator = cfg.flow.method == "generator"
    fixed = ALWAYS + (("learned", "optim") + LADDER if learned else ())
    fixed += ("flow.n_particles",) if cfg.proxy.source == "learned" else ()
    fixed += ("generator",) + LADDER + SCHEDULE if generator else ()
    return project.RunFields(tuple(dict.fromkeys(fixed)), EXEMPT)


PROJECT = project.Project(("train", "flow", "eval"), "flow", run_fields, creates=("train", "flow"))


def run(r: project.Run):
    from projects.sdflow import checks, evaluation, flowing, training

    mesh = checks.validate(r.cfg, r.workdir, r.mode)
    project.begin(r)
    if r.mode == "train":
        logging.info("trained: %s", ", ".join(training.run(r.cfg, r.workdir, mesh)) or "nothing")
    elif r.mode == "flow":
        flowing.run(r.cfg, r.workdir, mesh)
    else:
        evaluation.run(r.cfg, r.workdir, mesh)


if __name__ == "__main__":
    project.main(PROJECT, run)
