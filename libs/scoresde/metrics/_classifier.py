"""A small convolutional classifier whose penultimate features define a Frechet distance on small images.

Trained on the data set itself (tools/train_digits_classifier.py for the 8x8 digits), it
plays Inception's role for data where Inception does not apply or is not available.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float


class FeatureClassifier(eqx.Module):
    """(C, H, W) in [-1, 1] -> logits over num_classes; `features` gives the feature_dim vector before the head."""

    conv1: eqx.nn.Conv2d
    conv2: eqx.nn.Conv2d
    dense: eqx.nn.Linear
    head: eqx.nn.Linear

    def __init__(self, channels: int, image_size: int, num_classes: int = 10, feature_dim: int = 64, *, key):
        k1, k2, k3, k4 = jr.split(key, 4)
        self.conv1 = eqx.nn.Conv2d(channels, 32, 3, padding=1, key=k1)
        self.conv2 = eqx.nn.Conv2d(32, 64, 3, padding=1, stride=2, key=k2)
        side = (image_size + 1) // 2
        self.dense = eqx.nn.Linear(64 * side * side, feature_dim, key=k3)
        self.head = eqx.nn.Linear(feature_dim, num_classes, key=k4)

    def features(self, x: Float[Array, " C H W"]) -> Float[Array, " F"]:
        h = jax.nn.relu(self.conv1(x))
        h = jax.nn.relu(self.conv2(h))
        return jax.nn.relu(self.dense(h.reshape(-1)))

    def __call__(self, x: Float[Array, " C H W"]) -> Float[Array, " K"]:
        return self.head(self.features(x))


def save_classifier(path: str, model: FeatureClassifier, hyper: dict) -> None:
    """Hyper-parameters as a JSON line, then the weights (equinox serialisation); written atomically."""
    import json
    import os

    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write((json.dumps(hyper) + "\n").encode())
        eqx.tree_serialise_leaves(f, model)
    os.replace(tmp, path)


def load_classifier(path: str) -> FeatureClassifier:
    import json
    import os

    if not path or not os.path.isfile(path):
        raise ValueError(
            f"eval.classifier_path={path!r} is not a file: train one with "
            "`python tools/train_digits_classifier.py --out=PATH` and pass --config.eval.classifier_path=PATH"
        )
    with open(path, "rb") as f:
        try:
            hyper = json.loads(f.readline())
            like = FeatureClassifier(**hyper, key=jr.key(0))
            return eqx.tree_deserialise_leaves(f, like)
        except Exception as e:  # noqa: BLE001
            raise ValueError(f"eval.classifier_path={path!r} is not a classifier saved by scoresde ({e})") from None


def batched_features(model: FeatureClassifier, x, batch: int = 512):
    f = jax.jit(jax.vmap(model.features))
    return jnp.concatenate([f(x[i : i + batch]) for i in range(0, len(x), batch)])


def batched_predict(model: FeatureClassifier, x, batch: int = 512):
    f = jax.jit(jax.vmap(model))
    return jnp.concatenate([jnp.argmax(f(x[i : i + batch]), -1) for i in range(0, len(x), batch)])
