"""--mode=train: whatever the configured proxies and method need, trained with the library's loop.

- proxy.target=learned: the target score net on the target samples (workdir/checkpoints/target);
- proxy.source=learned: the source score net on the initial particles (workdir/checkpoints/source);
- flow.method=generator: G(z) regressed onto SD-flow updates (workdir/checkpoints/generator).
"""

from absl import logging

from . import components, generator, learned, proxies


def run(cfg, workdir, mesh):
    """Returns the names of what was trained (empty for a kernel particle flow: nothing to learn)."""
    trained = []
    target_train = components.target_samples(cfg, "train")
    ladder = components.training_sigmas(cfg)
    if cfg.proxy.target == "learned":
        _, stopped = learned.fit(cfg, "target", target_train, ladder, workdir, mesh, seed_offset=100)
        trained.append("target")
        if stopped:
            return trained
    if cfg.proxy.source == "learned":
        src = components.source_samples(cfg)
        _, stopped = learned.fit(cfg, "source", src, ladder, workdir, mesh, seed_offset=200)
        trained.append("source")
        if stopped:
            return trained
    if cfg.flow.method == "generator":
        velocity, aux, _ = proxies.from_config(cfg, target_train, workdir)
        generator.fit(cfg, velocity, aux, target_train.shape[1:], workdir, mesh)
        trained.append("generator")
    if not trained:
        logging.info("nothing to train: kernel/exact proxies and a particle flow; run --mode=flow")
    return trained
