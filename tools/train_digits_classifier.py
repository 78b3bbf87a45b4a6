"""Train the small digits classifier whose features define the Frechet distance in --mode=eval.

    python tools/train_digits_classifier.py --out=runs/digits_classifier.eqx

Trains on the digits train split (images in [-1, 1], layout (1, 8, 8)), prints the test
accuracy, and saves the model (refuses to save one below --min_accuracy).
"""

import sys

from absl import app, flags

OUT = flags.DEFINE_string("out", "runs/digits_classifier.eqx", "where to save the classifier")
STEPS = flags.DEFINE_integer("steps", 1500, "training steps")
SEED = flags.DEFINE_integer("seed", 0, "random seed")
MIN_ACC = flags.DEFINE_float("min_accuracy", 0.9, "refuse to save a classifier below this test accuracy")


def main(argv):
    del argv
    import os

    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax

    from scoresde import data, metrics

    def prep(split):
        x, y = data.load_digits(split)
        return jnp.asarray(data.scale(x, True).transpose(0, 3, 1, 2)), jnp.asarray(y)

    (x, y), (xt, yt) = prep("train"), prep("test")
    hyper = dict(channels=1, image_size=8, num_classes=10, feature_dim=64)
    model = metrics.FeatureClassifier(**hyper, key=jax.random.key(SEED.value))
    opt = optax.adam(1e-3)
    opt_state = opt.init(eqx.filter(model, eqx.is_array))

    @eqx.filter_jit
    def step(model, opt_state, xb, yb, key):
        def loss_fn(m):
            noisy = xb + 0.1 * jax.random.normal(key, xb.shape)  # mild noise: features stable on samples
            logits = jax.vmap(m)(noisy)
            return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()

        loss, grads = eqx.filter_value_and_grad(loss_fn)(model)
        updates, opt_state = opt.update(grads, opt_state, eqx.filter(model, eqx.is_array))
        return eqx.apply_updates(model, updates), opt_state, loss

    rng = np.random.default_rng(SEED.value)
    for i in range(STEPS.value):
        idx = rng.integers(0, len(x), 128)
        model, opt_state, loss = step(model, opt_state, x[idx], y[idx], jax.random.key(i))
    acc = float(jnp.mean(metrics.batched_predict(model, xt) == yt))
    print(f"test accuracy {acc:.4f} after {STEPS.value} steps (final loss {float(loss):.4f})")
    if acc < MIN_ACC.value:
        sys.exit(f"error: test accuracy {acc:.3f} is below --min_accuracy={MIN_ACC.value}; not saved")
    os.makedirs(os.path.dirname(os.path.abspath(OUT.value)), exist_ok=True)
    metrics.save_classifier(OUT.value, model, hyper)
    print(f"saved {OUT.value}")


if __name__ == "__main__":
    app.run(main)
