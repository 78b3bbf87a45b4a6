"""DGflow vs DDLS on 25 Gaussians and the Swiss roll with a WGAN-GP trained here: the table for BENCHMARKS.md.

    python tools/bench_dgflow.py --out=runs/bench_dgflow

For each toy: train the WGAN-GP of configs/dgflow/<toy>.py (--gan_steps) and a corrector (a logistic
classifier of data vs G's samples), then from the same 5000 latents: the generator's samples, DGflow
for f in {KL, JS, logD} with d = the WGAN critic and with d = the corrector's logit, and DDLS with the
same number of gradient evaluations (n_steps) at several step sizes. Prints one markdown table per toy.
Re-running with the same --out reuses the trained checkpoints.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags, logging  # noqa: E402

OUT = flags.DEFINE_string("out", "runs/bench_dgflow", "folder for the runs (checkpoints, pictures)")
GAN_STEPS = flags.DEFINE_integer("gan_steps", 3000, "WGAN-GP generator steps (5 critic steps each)")
CORRECTOR_STEPS = flags.DEFINE_integer("corrector_steps", 1500, "corrector training steps")
TOYS = flags.DEFINE_list("toys", ["grid25", "swissroll"], "configs/dgflow/<name>.py to run")
DDLS_ETAS = flags.DEFINE_list("ddls_etas", ["0.001", "0.003", "0.01", "0.03"], "DDLS step sizes to report")


def ddls_samples(cfg, generator, logit, eta: float, mesh):
    """DDLS alone at step size eta, from the same latents and per-particle noise keys as refinement.refine_samples."""
    from projects.dgflow import refinement

    cfg = cfg.copy_and_resolve_references()
    cfg.refine.fs, cfg.refine.ddls_eta, cfg.refine.n_paths = (), eta, 0
    return refinement.refine_samples(cfg, generator, logit, mesh)[0]["ddls"]


def bench_toy(name: str):
    import importlib

    import numpy as np

    from projects.dgflow import components, evaluation, plots, refinement, training
    from scoresde import parallel

    cfg = importlib.import_module(f"configs.dgflow.{name}").get_config()
    cfg.training.n_steps, cfg.training.checkpoint_every = GAN_STEPS.value, GAN_STEPS.value
    cfg.corrector.train, cfg.corrector.n_steps = True, CORRECTOR_STEPS.value
    workdir = os.path.join(OUT.value, name)
    mesh = parallel.make_mesh()
    t0 = time.perf_counter()
    training.run(cfg, workdir, mesh)
    train_s = time.perf_counter() - t0
    test = components.load_examples(cfg, "test")
    rows = {}
    t0 = time.perf_counter()
    for ratio in ("discriminator", "corrector"):
        cfg.refine.ratio = ratio
        generator, logit, _ = training.restore(cfg, workdir, mesh)
        samples, paths = refinement.refine_samples(cfg, generator, logit, mesh)
        label = "critic" if ratio == "discriminator" else "corrector"
        if ratio == "discriminator":
            rows["generator"] = evaluation.toy_metrics(cfg, samples["before"], test)
            plots.write(cfg, os.path.join(workdir, "refine"), test, samples, paths)
        for f in cfg.refine.fs:
            rows[f"DGflow {f} (d = {label})"] = evaluation.toy_metrics(cfg, samples[f"dgflow_{f}"], test)
        for eta in DDLS_ETAS.value:
            x = ddls_samples(cfg, generator, logit, float(eta), mesh)
            rows[f"DDLS eta={eta} (d = {label})"] = evaluation.toy_metrics(cfg, x, test)
    refine_s = time.perf_counter() - t0
    reference = components.load_examples(cfg, "train")[: len(test)]
    rows["data (held-out vs train)"] = evaluation.toy_metrics(cfg, np.asarray(reference), test)
    r = cfg.refine
    head = (
        f"### {name}: WGAN-GP ({GAN_STEPS.value} steps), {r.n_samples} samples; DGflow eta={r.eta} gamma={r.gamma}, "
        f"{r.n_steps} steps (= DDLS's gradient evaluations); train {train_s:.0f} s, refine+metrics {refine_s:.0f} s"
    )
    return head + "\n\n" + evaluation.table(rows)


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    for name in TOYS.value:
        print(bench_toy(name), "\n", flush=True)


if __name__ == "__main__":
    app.run(main)
