"""SD flow with kernel, learned and exact proxies, and the one-step generator: the table for BENCHMARKS.md.

    python tools/bench_sdflow.py --out=runs/bench_sdflow

For each target (configs/sdflow/gauss_to_<target>.py, source N(0, I)) every row runs the project's
own --mode=train / flow / eval code and reports the final SWD and MMD to held-out target data, the
data-vs-data SWD (2000 train vs 2000 held-out samples), their ratio, the velocity evaluations (NFE;
each is one score of p and one of q) and the seconds to train and to flow (the flow's compilation excluded). Rows:
- kernel / kernel: both proxies from samples (the target's, the particles' own);
- learned / kernel: the target score net (multi-sigma DSM) against the particles' kernel score;
- learned / learned: both score nets, the source net re-fitted on the moving particles
  (learned.refit_steps DSM steps before every learned.refit_every flow steps);
- exact / kernel: the oracle mixture score (25 Gaussians only);
- generator: G(z) regressed onto kernel SD-flow updates, then one forward pass (NFE 1 at sampling).
Re-running with the same --out reuses the trained score nets and generators.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags, logging  # noqa: E402

OUT = flags.DEFINE_string("out", "runs/bench_sdflow", "folder for the runs (checkpoints, flow output, plots)")
TARGETS = flags.DEFINE_list("targets", ["25gaussians", "swissroll"], "configs/sdflow/gauss_to_<target>.py to run")


def _row(cfg, workdir, mesh):
    """Train what the config needs (skipped when already trained), flow, eval: the table row's numbers."""
    from projects.sdflow import evaluation, flowing, training

    t0 = time.perf_counter()
    training.run(cfg, workdir, mesh)
    train_s = time.perf_counter() - t0
    _, record = flowing.run(cfg, workdir, mesh)
    result = evaluation.run(cfg, workdir, mesh)
    return {**result, "train_s": train_s, "flow_s": record["seconds"]}


def bench_target(name: str) -> str:
    import importlib

    from scoresde import parallel

    module = importlib.import_module(f"configs.sdflow.gauss_to_{name}")
    mesh = parallel.make_mesh()
    nets = os.path.abspath(os.path.join(OUT.value, name, "nets"))
    variants = [
        ("kernel", "kernel", "particles"),
        ("learned", "kernel", "particles"),
        ("learned", "learned", "particles"),
        ("exact", "kernel", "particles"),
        ("kernel", "kernel", "generator"),
    ]
    lines = [
        "| target proxy | source proxy | method | SWD | data-vs-data SWD | ratio | MMD | NFE | train s | flow s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for target, source, method in variants:
        if target == "exact" and name != "25gaussians":
            continue
        cfg = (
            importlib.import_module("configs.sdflow.gauss_to_25gaussians_generator").get_config()
            if method == "generator"
            else module.get_config()
        )
        cfg.target.name = name
        cfg.proxy.target, cfg.proxy.source = target, source
        workdir = os.path.join(OUT.value, name, f"{target}_{source}_{method}")
        os.makedirs(workdir, exist_ok=True)
        if "learned" in (target, source):  # one pair of score nets per target, shared by the learned rows
            os.makedirs(nets, exist_ok=True)
            link = os.path.join(workdir, "checkpoints")
            if not os.path.exists(link):
                os.symlink(nets, link)
        r = _row(cfg, workdir, mesh)
        nfe = f"{r['nfe']} (train {cfg.generator.steps_per_level * cfg.flow.n_levels} steps)" if method == "generator" \
            else str(r["nfe"])  # fmt: skip
        lines.append(
            f"| {target} | {source} | {method} | {r['final_swd']:.4f} | {r['swd_data_vs_data']:.4f} | "
            f"{r['swd_ratio']:.2f} | {r['final_mmd']:.2e} | {nfe} | {r['train_s']:.1f} | {r['flow_s']:.2f} |"
        )
    c = module.get_config()
    f = c.flow
    head = (
        f"### N(0, I) -> {name}: {f.n_particles} particles, {c.target.n} target samples; sigma {f.sigma_max} -> "
        f"{f.sigma_min} over {f.n_levels} levels x {f.steps_per_level} steps, eta {f.eta} (x sigma^2); learned nets "
        f"{c.learned.n_steps} DSM steps, refit {c.learned.refit_steps} steps every {c.learned.refit_every} flow step"
    )
    return head + "\n\n" + "\n".join(lines)


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    for name in TARGETS.value:
        print(bench_target(name), "\n", flush=True)


if __name__ == "__main__":
    app.run(main)
