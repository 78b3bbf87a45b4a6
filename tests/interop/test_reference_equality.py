"""Our networks, loaded through `scoresde.interop` with the reference code's own random weights, compute what
the reference code computed: max|ours - ref| / max|ref| <= 1e-5 (float32) for every fixture of
tests/data/reference/ (score_sde_pytorch, score_sde (Flax), ermongroup/ncsn, ermongroup/ncsnv2, DiT,
pytorch-fid), for the network output and, where the fixture has it, the reference's full score function
(its input centring and scale_by_sigma included) against `nets.score_fn_from_config`.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from scoresde import interop, metrics, nets
from scoresde import sde as sdes

from .fixtures import Fixture, cases, rel_err

TOL = 1e-5
FORMATS = {
    "score_sde_pytorch": "score_sde_pytorch",
    "score_sde": "score_sde",
    "ermongroup_ncsn": "ncsn",
    "ermongroup_ncsnv2": "ncsnv2",
    "dit": "dit",
}
CASES = [(ref, case) for ref in FORMATS for case in cases(ref) if not case.startswith("checkpoint")]


def network_output(net, fx: Fixture) -> np.ndarray:
    """Our network on the fixture's inputs, in the reference's convention (output / divisor; DiT's 2C channels).

    Run eagerly and vmapped like the score wrapper runs it: the fixtures share a few sizes, so the
    operations compiled for one case serve the next (compiling each network whole costs far more).
    """
    x = jnp.asarray(fx.input("x"))
    if isinstance(net, nets.DiT):
        f = net.forward_with_variance if net.learn_sigma else net.__call__
        return np.asarray(jax.vmap(lambda xi, ti, yi: f(xi, ti, label=yi))(x, fx.input("t"), fx.input("y")))
    out = jax.vmap(lambda xi, ci: net(xi, ci))(x, jnp.asarray(fx.input("c")))
    return np.asarray(out) / fx.input("divisor")[:, None, None, None]


def sde_of(spec: dict):
    if spec["name"] == "ve":
        return sdes.VESDE(sigma_min=spec["sigma_min"], sigma_max=spec["sigma_max"])
    return sdes.get_sde(spec["name"], beta_min=spec["beta_min"], beta_max=spec["beta_max"])


def unused_reference_params(fx: Fixture) -> int:
    """Parameters score_sde_pytorch creates but never uses: the Dense_0 of every block of an unconditional net."""
    if fx.meta["reference"] != "score_sde_pytorch" or fx.meta["config"].get("conditional", True):
        return 0
    return sum(int(np.prod(s)) for k, s in zip(fx.keys, fx.meta["shapes"], strict=True) if ".Dense_0." in k)


@pytest.mark.parametrize(("reference", "case"), CASES, ids=[f"{r}/{c}" for r, c in CASES])
def test_network_equals_the_reference(reference, case):
    fx = Fixture(reference, case)
    cfg = fx.config()
    net = interop.from_state_dict(fx.weights(), cfg, format=FORMATS[reference])
    assert nets.count_params(net) == fx.meta["params_theirs"] - unused_reference_params(fx)
    err = rel_err(network_output(net, fx), fx.output("net"))
    assert err <= TOL, (case, err)
    if fx.has("score"):
        score_fn = nets.score_fn_from_config(net, sde_of(fx.meta["config"]["sde"]), cfg)
        err = rel_err(score_fn(jnp.asarray(fx.input("x")), jnp.asarray(fx.input("t"))), fx.output("score"))
        assert err <= TOL, (case, "score", err)


def test_inception_equals_pytorch_fid():
    """pytorch-fid's InceptionV3 (resize to 299, 2x - 1, pool3) and its network's 1008 logits."""
    fx = Fixture("pytorch_fid", "fid_inception_v3")
    model = metrics.from_state_dict(fx.weights())
    images = jnp.asarray(fx.input("x")).transpose(0, 2, 3, 1)  # NCHW in [0, 1] -> NHWC
    pool3, logits = jax.jit(jax.vmap(model))(metrics.preprocess(images))
    assert rel_err(pool3, fx.output("pool3")) <= TOL
    assert rel_err(logits, fx.output("logits")) <= TOL


def test_full_size_parameter_counts_equal_the_references():
    """configs/models/* against the reference implementations at their CIFAR-10 configs (count_params.py)."""
    import importlib
    import json
    import sys
    from pathlib import Path

    import equinox as eqx

    repo = Path(__file__).resolve().parents[2]
    sys.path.insert(0, str(repo))
    counts = json.loads((repo / "tests" / "data" / "reference" / "param_counts.json").read_text())["counts"]
    assert len(counts) == 8
    for name, ref in counts.items():
        cfg = importlib.import_module(f"configs.models.{name}").get_config()
        cfg.image_size = 32
        net = eqx.filter_eval_shape(nets.build, cfg, jax.random.key(0))
        assert nets.count_params(net) == ref["params"], (name, nets.count_params(net), ref)
