"""Class-conditional digits samples read back by the digits classifier: accuracy against guidance weight.

    python tools/train_digits_classifier.py --out=runs/digits_classifier.eqx
    python projects/ncsn/main.py --config=configs/digits_cond.py --workdir=runs/digits_cond
    python tools/conditional_accuracy.py --config=configs/digits_cond.py --workdir=runs/digits_cond \
        --classifier=runs/digits_classifier.eqx --guidance=0,0.5,1,2,4 --n=520

For each guidance weight w, draws n samples from the EMA model with labels 0..9 in turn (the configured
sampler, classifier-free guidance (1 + w) s(x, y) - w s(x)) and prints the fraction the classifier reads as
the asked label, the worst class, and the Frechet distance to the test split in the classifier's features
(diversity: guidance trades it for accuracy); unconditional (null-class) samples give the chance level.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402
from ml_collections import config_flags  # noqa: E402

_CONFIG = config_flags.DEFINE_config_file("config", None, "a class-conditional digits config", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "the trained run's folder")
_CLASSIFIER = flags.DEFINE_string("classifier", "runs/digits_classifier.eqx", "from tools/train_digits_classifier.py")
_GUIDANCE = flags.DEFINE_list("guidance", ["0", "0.5", "1", "2", "4"], "guidance weights w >= 0")
_N = flags.DEFINE_integer("n", 520, "samples per guidance weight")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    import time

    import jax
    import jax.numpy as jnp
    import numpy as np

    from projects.ncsn import checks, components, sampling, training
    from scoresde import metrics

    cfg, workdir = _CONFIG.value, _WORKDIR.value
    try:
        weights = [float(w) for w in _GUIDANCE.value]
        if not weights or min(weights) < 0:
            raise ValueError(f"--guidance={','.join(_GUIDANCE.value)}: give one or more weights w >= 0")
        if cfg.data.name != "digits":
            raise ValueError(f"data.name={cfg.data.name!r}: the classifier reads digits only")
        if not os.path.isfile(_CLASSIFIER.value):
            raise ValueError(f"--classifier={_CLASSIFIER.value!r} does not exist: run tools/train_digits_classifier.py")
        with cfg.unlocked():
            cfg.sampling.task, cfg.sampling.labels, cfg.sampling.guidance = "conditional", "all", max(weights)
        mesh = checks.validate(cfg, workdir, "sample")
    except ValueError as e:
        sys.exit(f"error: {str(e).splitlines()[0]}")
    model, step = training.restore_ema_model(cfg, workdir, mesh)
    clf = metrics.load_classifier(_CLASSIFIER.value)
    to_clf = (lambda v: v) if cfg.data.centered else (lambda v: 2 * v - 1)
    labels = sampling.task_labels(cfg, _N.value)

    test_x = components.to_model_layout(components.load_examples(cfg, "test")["image"], cfg)
    f_test = np.asarray(metrics.batched_features(clf, jnp.asarray(to_clf(test_x))))

    def read(x):
        """(accuracy, worst class's accuracy, Frechet distance to the test split in the classifier's features)."""
        pred = np.asarray(metrics.batched_predict(clf, jnp.asarray(to_clf(x))))
        per_class = [float(np.mean(pred[labels == k] == k)) for k in range(10)]
        feats = np.asarray(metrics.batched_features(clf, jnp.asarray(to_clf(x))))
        return float(np.mean(pred == labels)), min(per_class), metrics.frechet_distance(feats, f_test)

    method = cfg.sampling.method
    print(f"step {step}, sampler {method} ({dict(cfg.sampling[method])}), {_N.value} samples\n")
    print("| guidance w | accuracy | worst class | Frechet to test | net evals per sample | seconds |")
    print("|---|---|---|---|---|---|")
    for w in weights:
        t0 = time.perf_counter()
        x, nfe = sampling.generate(cfg, model, jax.random.key(0), _N.value, mesh, labels=labels, guidance_w=w,
                                   progress=False)  # fmt: skip
        acc, worst, fd = read(x)
        evals, sec = nfe * (2 if w > 0 else 1), time.perf_counter() - t0
        print(f"| {w:g} | {acc:.3f} | {worst:.3f} | {fd:.2f} | {evals} | {sec:.0f} |", flush=True)
    x, _ = sampling.generate(cfg, model, jax.random.key(0), _N.value, mesh, progress=False)
    acc, worst, fd = read(x)
    print(f"| unconditional (null class; accuracy = chance) | {acc:.3f} | {worst:.3f} | {fd:.2f} | | |")
    train_x = components.to_model_layout(components.load_examples(cfg, "train")["image"][: _N.value], cfg)
    f_train = np.asarray(metrics.batched_features(clf, jnp.asarray(to_clf(train_x))))
    print(f"| train split (data vs data floor) | | | {metrics.frechet_distance(f_train, f_test):.2f} | | |")


if __name__ == "__main__":
    app.run(main)
