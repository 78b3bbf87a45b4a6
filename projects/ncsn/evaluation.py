"""--mode=eval: sample quality (and bits/dim) of one checkpoint or of every checkpoint in a range.

eval.begin_step / eval.end_step (0 / 0: the latest checkpoint; end 0: up to the latest) pick the
checkpoints, as score_sde's sweep. For each: eval.n_samples samples (any number: FID-50k against
train statistics) drawn in sharded batches, each finished batch written as a shard (eval_shards)
so a killed eval resumes; metrics from the shards, one JSON per checkpoint
(workdir/eval/step_<s>.json) and TensorBoard scalars (workdir/tensorboard/eval, tags eval/*).

2-D data: sliced Wasserstein and MMD to test points, beside the same numbers between train and test
data (the floor). Digits: Frechet distance in a digits classifier's features and classes covered.
Images: FID / IS / KID with pytorch-fid's Inception (eval.inception_path) on 8-bit samples, Inception
run batch by batch (only pool3 features and logits are kept), and bits/dim on the test split.
"""

import json
import math
import os

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from absl import logging
from tqdm import tqdm

from scoresde import checkpoint, likelihood, metrics, parallel

from . import components, placement, sampling, state
from .eval_shards import ShardStore, fingerprint
from .score import model_score


def eval_steps(cfg, available: list[int]) -> list[int]:
    """The checkpoints to evaluate; one-line errors for a bad or empty range."""
    begin, end = cfg.eval.get("begin_step", 0), cfg.eval.get("end_step", 0)
    for name, v in (("eval.begin_step", begin), ("eval.end_step", end)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValueError(f"{name}={v!r} must be a non-negative integer (0/0: the latest checkpoint)")
    if end and end < begin:
        raise ValueError(f"eval.end_step={end} is before eval.begin_step={begin}")
    if not available:
        raise ValueError("no checkpoint to evaluate: run --mode=train first")
    if begin == end == 0:
        return [max(available)]
    steps = [s for s in sorted(available) if s >= begin and (end == 0 or s <= end)]
    if not steps:
        have = ", ".join(map(str, sorted(available)))
        raise ValueError(f"eval.begin_step={begin} / eval.end_step={end}: no checkpoint in range (have {have})")
    return steps


def available_steps(workdir: str) -> list[int]:
    ckpt = checkpoint.Checkpointer(os.path.join(workdir, "checkpoints"))
    steps = list(ckpt.all_steps())
    ckpt.close()
    return steps


def to_uint8(cfg, x: np.ndarray) -> np.ndarray:
    """Model-layout samples -> 8-bit NHWC images, as a saved picture holds them."""
    unit = (x + 1.0) / 2.0 if cfg.data.centered else x
    return np.round(np.clip(unit.transpose(0, 2, 3, 1), 0.0, 1.0) * 255.0).astype(np.uint8)


@eqx.filter_jit
def _bpd_batch(score, x, key, centered: bool):
    bpd, _ = likelihood.bits_per_dim(score.process, score, x, key, centered=centered, divergence="hutchinson")
    return bpd


def _bpd(cfg, model, mesh, test_x, key):
    """Bits/dim of eval.bpd_batches test batches of sampling.batch_size, sharded like the samples."""
    score = model_score(cfg, placement.on_mesh(model, mesh), components.build_process(cfg))
    unit = (test_x + 1.0) / 2.0 if cfg.data.centered else test_x
    b, sharding = cfg.sampling.batch_size, parallel.batch_sharding(mesh)
    vals = []
    for i in tqdm(range(cfg.eval.bpd_batches), desc="bits/dim", disable=jax.process_index() != 0):
        x = unit[i * b : (i + 1) * b]
        if len(x) < b:
            break
        x = parallel.shard_tree(jnp.asarray(x), sharding)
        k = parallel.shard_tree(jax.random.fold_in(key, i), parallel.replicated(mesh))
        vals.append(placement.to_host(_bpd_batch(score, x, k, cfg.data.centered)))
    return float(np.mean(np.concatenate(vals))) if vals else None


class Context:
    """What every checkpoint's eval shares: data, the Inception net and its reference statistics, the classifier.

    The metrics are computed by process 0 alone; the other processes only draw their rows of the samples.
    """

    def __init__(self, cfg):
        self.test = components.load_examples(cfg, "test")
        self.train = components.load_examples(cfg, "train")
        self.inception = self.reference = self.classifier = None
        if jax.process_index() != 0:
            return
        path = cfg.eval.get("inception_path", "")
        if path:
            self.inception = metrics.load_inception(path)
            self.reference, self.source = self._reference(cfg)
        if cfg.data.name == "digits" and cfg.eval.get("classifier_path", ""):
            self.classifier = metrics.load_classifier(cfg.eval.classifier_path)

    def _reference(self, cfg):
        if cfg.eval.dataset_stats:
            return metrics.load_statistics(cfg.eval.dataset_stats, what="eval.dataset_stats"), cfg.eval.dataset_stats
        train = self.train["image"]
        logging.info("eval: Inception statistics of the %d train images (save them with tools/dataset_stats.py)",
                     len(train))  # fmt: skip
        out = metrics.inception_outputs(self.inception, train, batch_size=cfg.eval.get("inception_batch_size", 50),
                                        progress=jax.process_index() == 0)  # fmt: skip
        return metrics.feature_statistics(out["pool3"]), f"train split ({len(train)} images)"

    def inception_outputs(self, cfg, images: np.ndarray) -> dict:
        """pool3 and unbiased logits of one batch; padded to whole Inception batches (one compiled shape)."""
        ib = cfg.eval.get("inception_batch_size", 50)
        pad = -len(images) % ib
        padded = np.concatenate([images, np.zeros((pad, *images.shape[1:]), images.dtype)]) if pad else images
        out = metrics.inception_outputs(self.inception, padded, batch_size=ib)
        return {"pool3": out["pool3"][: len(images)], "logits_unbiased": out["logits_unbiased"][: len(images)]}


def _draw_shards(cfg, workdir, mesh, step, model, ctx, n: int) -> ShardStore:
    """Every missing sample batch of this checkpoint, written as a shard (with its Inception outputs)."""
    b = cfg.sampling.batch_size
    store = ShardStore(os.path.join(workdir, "eval", f"step_{step}"), fingerprint(cfg, n, b), math.ceil(n / b))
    done = store.done()
    if done:
        logging.info("eval step %d: %d of %d sample batches already done", step, len(done), store.n_batches)
    key = jax.random.key(cfg.seed + 7)  # sample i of every checkpoint from fold_in(key, i)
    for j, idx, x, nfe in sampling.sample_batches(cfg, model, key, n, mesh, skip=done):
        if not store.writer:
            continue
        arrays = {"indices": idx, "nfe": np.full(1, nfe, np.int64)}
        if cfg.data.name == "toy2d":
            arrays["samples"] = x.astype(np.float32)
        else:
            arrays["images"] = to_uint8(cfg, x)
            if ctx.inception is not None:
                arrays.update(ctx.inception_outputs(cfg, arrays["images"]))
        store.write(j, **arrays)
    return store


def _toy_metrics(ctx, store, n: int) -> dict:
    x = jnp.asarray(store.load("samples")["samples"])
    ref = jnp.asarray(ctx.test["image"][:n])
    other = jnp.asarray(ctx.train["image"][:n])
    k = jax.random.key(0)
    return {
        "swd": float(metrics.sliced_wasserstein(x, ref, k)),
        "swd_data_vs_data": float(metrics.sliced_wasserstein(other, ref, k)),
        "mmd": float(metrics.mmd(x, ref)),
        "mmd_data_vs_data": float(metrics.mmd(other, ref)),
    }


def _classifier_metrics(cfg, ctx, store, n: int) -> dict:
    """Digits: Frechet distance of classifier features to the test split, and the classes the samples cover."""
    to_clf = lambda img: jnp.asarray(2.0 * img.transpose(0, 3, 1, 2).astype(np.float32) / 255.0 - 1.0)  # noqa: E731
    samples = to_clf(store.load("images")["images"])
    f_samples = np.asarray(metrics.batched_features(ctx.classifier, samples))
    f_test = np.asarray(metrics.batched_features(ctx.classifier, to_clf(ctx.test["image"][:n])))
    f_train = np.asarray(metrics.batched_features(ctx.classifier, to_clf(ctx.train["image"][:n])))
    counts = np.bincount(np.asarray(metrics.batched_predict(ctx.classifier, samples)), minlength=10)
    return {
        "frechet_classifier": metrics.frechet_distance(f_samples, f_test),
        "frechet_classifier_data_vs_data": metrics.frechet_distance(f_train, f_test),
        "classes_covered": int(np.sum(counts >= max(1, len(samples) // 100))),
        "class_histogram": counts.tolist(),
    }


def evaluate_step(cfg, workdir, mesh, step: int, ctx: Context) -> dict:
    """Sample (resuming from finished shards), score and record one checkpoint; returns its metrics."""
    model, _ = state.restore_ema_model(cfg, workdir, mesh, step=step)
    n = cfg.eval.n_samples
    store = _draw_shards(cfg, workdir, mesh, step, model, ctx, n)
    results = {"step": step, "n_samples": n, "sampler": cfg.sampling.method}
    if store.writer:
        results["nfe"] = int(store.load("nfe")["nfe"][0])
        if cfg.data.name == "toy2d":
            results.update(_toy_metrics(ctx, store, n))
        elif ctx.classifier is not None:
            results.update(_classifier_metrics(cfg, ctx, store, n))
        if ctx.inception is not None:
            out = store.load("pool3", "logits_unbiased")
            results.update(metrics.inception_metrics(out, ctx.reference, seed=cfg.seed))
            results["inception_reference"] = ctx.source
    if cfg.data.name != "toy2d" and cfg.eval.bpd and not components.is_discrete(cfg):
        results["bits_per_dim"] = _maybe_bpd(cfg, model, mesh, ctx)
    return results


def _maybe_bpd(cfg, model, mesh, ctx):
    if components.num_classes(cfg) > 0 and not cfg.training.get("label_dropout", 0.0) > 0:
        # The unconditional density of a conditional model needs its null class, trained only with label dropout.
        logging.warning("bits/dim skipped: a class-conditional model trained without label dropout has no p(x)")
        return None
    test_x = components.to_model_layout(ctx.test["image"], cfg)
    return _bpd(cfg, model, mesh, test_x, jax.random.key(cfg.seed + 7))


def _record(workdir: str, results: dict, writer) -> None:
    """eval/step_<s>.json (atomically) and the numeric metrics as TensorBoard scalars eval/<name>."""
    os.makedirs(os.path.join(workdir, "eval"), exist_ok=True)
    path = os.path.join(workdir, "eval", f"step_{results['step']}.json")
    with open(path + ".tmp", "w") as f:
        json.dump(results, f, indent=2)
    os.replace(path + ".tmp", path)
    for name, value in results.items():
        if name != "step" and isinstance(value, int | float) and not isinstance(value, bool):
            writer.add_scalar(f"eval/{name}", float(value), results["step"])
    writer.flush()
    logging.info("eval: %s", results)
    print(json.dumps(results, indent=2))


def run(cfg, workdir, mesh):
    """Evaluate the checkpoints of eval.begin_step..eval.end_step; returns the last one's metrics."""
    steps = eval_steps(cfg, available_steps(workdir))
    ctx = Context(cfg)
    writer = None
    if jax.process_index() == 0:
        from tensorboardX import SummaryWriter

        writer = SummaryWriter(os.path.join(workdir, "tensorboard", "eval"))
    results = {}
    for step in steps:
        results = evaluate_step(cfg, workdir, mesh, step, ctx)
        if writer is not None:
            _record(workdir, results, writer)
    if writer is not None:
        writer.close()
    return results
