"""The one config adapter: complete defaults, swapping backbones by model.name, one-line errors, the score
wrapper's settings from the config, placeholders in configs/models, and the mixed-precision policy."""

import importlib
import sys
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ml_collections import ConfigDict

from scoresde import nets
from scoresde import sde as sdes

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
IMAGE_BACKBONES = ("ncsnpp", "ddpmpp", "ddpm", "ncsn", "ncsnv2", "dit")


def model_config(name: str):
    cfg = importlib.import_module(f"configs.models.{name}").get_config()
    cfg.image_size = 16  # the run code fills it in from the data
    return cfg


@pytest.mark.parametrize("name", IMAGE_BACKBONES)
def test_a_name_alone_builds_the_standard_network(name):
    net = eqx.filter_eval_shape(nets.build, ConfigDict(dict(name=name, image_size=16)), jax.random.key(0))
    out = eqx.filter_eval_shape(lambda n, x: n(x, 1.0), net, jax.ShapeDtypeStruct((3, 16, 16), jnp.float32))
    assert out.shape == (3, 16, 16)
    assert set(nets.spec(name).wrapper) == {"parameterization", "conditioning"}


@pytest.mark.parametrize("name", IMAGE_BACKBONES)
def test_any_image_config_swaps_in_any_backbone(name):
    # configs/models/digits-like: a U-Net config naming U-Net fields (nf, ch_mult, ...) as run configs do
    cfg = model_config("ddpmpp_cifar")
    cfg.nf, cfg.ch_mult, cfg.num_res_blocks, cfg.attn_resolutions = 32, (1, 2), 1, ()
    cfg.name = name
    net = eqx.filter_eval_shape(nets.build, cfg, jax.random.key(0))
    assert type(net).__name__ == {"ddpmpp": "NCSNpp", "ncsn": "CondRefineNetDilated"}.get(name, type(net).__name__)
    if name == "dit":
        assert (net.depth, net.hidden_size, net.patch_size) == (12, 384, 2)  # DiT-S/2, its standard settings


def test_every_field_of_every_backbone_is_a_placeholder_in_configs_models():
    cfg = model_config("ncsnpp_cifar")
    for field in nets.config_fields():
        assert field in cfg, field
    assert cfg.patch_size is None and cfg.ngf is None  # other backbones' fields: unset
    cfg.name, cfg.patch_size = "dit", 4  # settable, as --config.model.patch_size=4 is
    assert eqx.filter_eval_shape(nets.build, cfg, jax.random.key(0)).patch_size == 4


def test_a_field_no_backbone_has_is_one_line_listing_the_valid_ones():
    cfg = ConfigDict(dict(name="ncsnpp", image_size=16, nff=8))
    with pytest.raises(ValueError) as e:
        nets.build(cfg, jax.random.key(0))
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("model.nff is not a field of model.name='ncsnpp'")
    assert "valid fields:" in msg and "nf," in msg and "fir," in msg
    for bad, field in ((dict(fir="yes"), "model.fir"), (dict(nf=8.5), "model.nf"), (dict(ch_mult=3), "model.ch_mult")):
        with pytest.raises(ValueError, match=field.replace(".", r"\.")):
            nets.build(ConfigDict(dict(name="ncsnpp", image_size=16, **bad)), jax.random.key(0))


def test_score_fn_from_config_uses_the_configs_or_the_backbones_settings():
    net = nets.build(ConfigDict(dict(name="mlp", dim=2, width=16, depth=1)), jax.random.key(0))
    sde = sdes.VPSDE()
    x, t = jnp.ones((3, 2)), jnp.array([0.2, 0.5, 0.9])
    # unset: the backbone's standard pair (the MLP: the score on t)
    cfg = ConfigDict(dict(name="mlp", dim=2, width=16, depth=1))
    want = nets.score_fn_from_net(net, sde, parameterization="score", conditioning="t")(x, t)
    np.testing.assert_array_equal(nets.score_fn_from_config(net, sde, cfg)(x, t), want)
    # set: the config's
    cfg.parameterization, cfg.conditioning = "eps", "t999"
    want = nets.score_fn_from_net(net, sde, parameterization="eps", conditioning="t999")(x, t)
    np.testing.assert_array_equal(nets.score_fn_from_config(net, sde, cfg)(x, t), want)
    assert nets.spec("ncsnpp").wrapper == {"parameterization": "scale_by_sigma", "conditioning": "log_sigma"}
    assert nets.spec("dit").wrapper == {"parameterization": "eps", "conditioning": "t999"}


def test_the_policy_keeps_the_noise_condition_in_float32():
    # 999 and 999.5 are one bfloat16 value: a condition cast to bf16 would give equal outputs
    cfg = ConfigDict(dict(name="mlp", dim=4, width=32, depth=2, compute_dtype="bfloat16"))
    net = nets.build(cfg, jax.random.key(0))
    assert isinstance(net, nets.DtypePolicy) and jnp.bfloat16(999.0) == jnp.bfloat16(999.5)
    x = jnp.linspace(-1, 1, 4)
    assert not np.array_equal(np.asarray(net(x, jnp.float32(999.0))), np.asarray(net(x, jnp.float32(999.5))))
