"""--mode=eval: bits/dim on the test split and sample quality against held-out data.

2-D data: sliced Wasserstein and MMD of samples to test points, beside the same numbers
between two disjoint halves of data (the floor a perfect model would reach). Digits: the
Frechet distance in a digits classifier's features and the classes covered. Images: bits/dim, and
FID / IS / KID with pytorch-fid's Inception when eval.inception_path is set.
"""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging
from tqdm import tqdm

from scoresde import likelihood, metrics

from . import components, sampling, training


def _bpd(cfg, model, sde, test_x, key):
    fn = components.score_fn(cfg, model, sde)
    b = cfg.sampling.batch_size
    run = jax.jit(
        lambda x, k: likelihood.bits_per_dim(sde, fn, x, k, centered=cfg.data.centered, divergence="hutchinson")
    )
    vals = []
    for i in tqdm(range(cfg.eval.bpd_batches), desc="bits/dim", disable=jax.process_index() != 0):
        x = test_x[i * b : (i + 1) * b]
        if len(x) < b:
            break
        bpd, _ = run(jnp.asarray(x), jax.random.fold_in(key, i))
        vals.append(np.asarray(bpd))
    return float(np.mean(np.concatenate(vals)))


def _inception_metrics(cfg, samples: np.ndarray) -> dict:
    """FID / IS / KID of the samples, quantised to 8 bits like saved images, against the train split's statistics."""
    model = metrics.load_inception(cfg.eval.inception_path)
    show, batch = jax.process_index() == 0, cfg.eval.get("inception_batch_size", 50)
    if cfg.eval.dataset_stats:
        ref = metrics.load_statistics(cfg.eval.dataset_stats, what="eval.dataset_stats")
        source = cfg.eval.dataset_stats
    else:
        train = components.load_examples(cfg, "train")["image"]
        logging.info(
            "eval: Inception statistics of the %d train images (save them with tools/dataset_stats.py)", len(train)
        )
        ref = metrics.feature_statistics(
            metrics.inception_outputs(model, train, batch_size=batch, progress=show)["pool3"]
        )
        source = f"train split ({len(train)} images)"
    unit = (samples + 1.0) / 2.0 if cfg.data.centered else samples
    images = np.round(np.clip(unit.transpose(0, 2, 3, 1), 0.0, 1.0) * 255.0).astype(np.uint8)
    out = metrics.inception_outputs(model, images, batch_size=batch, progress=show)
    return {**metrics.inception_metrics(out, ref, seed=cfg.seed), "inception_reference": source}


def run(cfg, workdir, mesh):
    try:
        model, step = training.restore_ema_model(cfg, workdir, mesh)
    except ValueError as e:
        raise SystemExit(f"error: {str(e).splitlines()[0]}") from None
    discrete = components.is_discrete(cfg)
    sde = None if discrete else components.build_sde(cfg)
    key = jax.random.key(cfg.seed + 7)
    test = components.load_examples(cfg, "test")
    n = min(cfg.eval.n_samples, len(test["image"]))
    x, nfe = sampling.generate(cfg, model, sde, key, n)
    results = {"step": step, "nfe": nfe, "n_samples": n, "sampler": cfg.sampling.method}
    if cfg.data.name == "toy2d":
        ref = jnp.asarray(test["image"][:n])
        other = jnp.asarray(components.load_examples(cfg, "train")["image"][:n])
        k = jax.random.key(0)
        results["swd"] = float(metrics.sliced_wasserstein(jnp.asarray(x), ref, k))
        results["swd_data_vs_data"] = float(metrics.sliced_wasserstein(other, ref, k))
        results["mmd"] = float(metrics.mmd(jnp.asarray(x), ref))
        results["mmd_data_vs_data"] = float(metrics.mmd(other, ref))
    else:
        test_x = components.to_model_layout(test["image"], cfg)
        if cfg.data.name == "digits":
            clf = metrics.load_classifier(cfg.eval.classifier_path)
            to_clf = (lambda v: v) if cfg.data.centered else (lambda v: 2 * v - 1)
            f_samples = metrics.batched_features(clf, jnp.asarray(to_clf(x)))
            f_test = metrics.batched_features(clf, jnp.asarray(to_clf(test_x[:n])))
            train_x = components.to_model_layout(components.load_examples(cfg, "train")["image"][:n], cfg)
            f_train = metrics.batched_features(clf, jnp.asarray(to_clf(train_x)))
            results["frechet_classifier"] = metrics.frechet_distance(np.asarray(f_samples), np.asarray(f_test))
            results["frechet_classifier_data_vs_data"] = metrics.frechet_distance(
                np.asarray(f_train), np.asarray(f_test)
            )
            classes = np.asarray(metrics.batched_predict(clf, jnp.asarray(to_clf(x))))
            counts = np.bincount(classes, minlength=10)
            results["classes_covered"] = int(np.sum(counts >= max(1, n // 100)))
            results["class_histogram"] = counts.tolist()
        if cfg.eval.get("inception_path", ""):
            results.update(_inception_metrics(cfg, x))
        no_null_class = components.num_classes(cfg) > 0 and not cfg.training.get("label_dropout", 0.0) > 0
        if cfg.eval.bpd and not discrete and no_null_class:
            # The unconditional density of a conditional model needs its null class, trained only with label dropout.
            logging.warning("bits/dim skipped: a class-conditional model trained without label dropout has no p(x)")
            results["bits_per_dim"] = None
        elif cfg.eval.bpd and not discrete:
            results["bits_per_dim"] = _bpd(
                cfg,
                model,
                sde,
                (test_x + (1.0 if cfg.data.centered else 0.0)) / (2.0 if cfg.data.centered else 1.0),
                key,
            )
    if jax.process_index() == 0:
        os.makedirs(os.path.join(workdir, "eval"), exist_ok=True)
        path = os.path.join(workdir, "eval", f"step_{step}.json")
        with open(path + ".tmp", "w") as f:
            json.dump(results, f, indent=2)
        os.replace(path + ".tmp", path)
        logging.info("eval: %s", results)
        print(json.dumps(results, indent=2))
    return results
