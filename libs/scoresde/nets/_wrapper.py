"""From an unbatched network to the batched score function the samplers take.

The network sees one sample and a scalar noise condition; this wrapper vmaps it over the batch,
chooses what scalar the network is conditioned on, and turns its output into a score according to
the parameterisation it was trained with. Both must be said: `score_fn_from_config` reads them from
the model config (or the backbone's standard ones), `score_fn_from_net` takes them explicitly.
"""

import math

import jax
import jax.numpy as jnp
import jax.random as jr

from .._checks import check_choice
from .._typing import ScoreFn
from ..sde import AbstractSDE
from ..sde._abstract import _bcast
from ._config import config_items, wrapper_settings
from ._registry import model_name, spec

PARAMETERIZATIONS = ("score", "eps", "scale_by_sigma", "edm")
CONDITIONINGS = ("t", "t999", "sigma", "log_sigma", "edm")


def noise_condition(sde: AbstractSDE, t, conditioning: str):
    """The scalar each network is conditioned on: t, 999 t (DDPM), sigma(t), log sigma(t) or log(sigma)/4 (EDM)."""
    check_choice("conditioning", conditioning, CONDITIONINGS)
    if conditioning == "t":
        return t
    if conditioning == "t999":
        return 999.0 * t
    sigma = sde.sigma(t)
    if conditioning == "sigma":
        return sigma
    if conditioning == "log_sigma":
        return jnp.log(sigma)
    return 0.25 * jnp.log(sigma)


def score_fn_from_net(
    net,
    sde: AbstractSDE,
    *,
    parameterization: str,
    conditioning: str,
    key=None,
    labels=None,
    sigma_data: float = 0.5,
) -> ScoreFn:
    """Batched score_fn(x, t) from an unbatched `net(x, c, *, key=None, label=None)`.

    parameterization:
      'score'           s = net(x, c)
      'eps'             s = -net(x, c) / std(t)                          (DDPM epsilon prediction)
      'scale_by_sigma'  s = net(x, c) / std(t)                           (score_sde's VE models)
      'edm'             D = c_skip x^ + c_out net(c_in x^, c_noise), s = (a D - x) / std^2,
                        with x^ = x / a and sigma = std / a (Karras et al. 2022, Table 1)
    `key` turns on dropout (one key per sample is split from it); `labels` (batch,) are passed
    to the network for class conditioning.
    """
    check_choice("parameterization", parameterization, PARAMETERIZATIONS)
    check_choice("conditioning", conditioning, CONDITIONINGS)

    def call(x, c, batch_key, y):
        def one(xi, ci, ki, yi):
            return net(xi, ci, key=ki, label=yi)

        b = x.shape[0]
        keys = None if batch_key is None else jr.split(batch_key, b)
        in_axes = (0, 0, None if keys is None else 0, None if y is None else 0)
        return jax.vmap(one, in_axes=in_axes)(x, c, keys, y)

    def score_fn(x, t):
        a, std = sde.marginal(t)
        if parameterization == "edm":
            sigma = std / a
            x_hat = x / _bcast(a, x)
            c_in = 1 / jnp.sqrt(sigma**2 + sigma_data**2)
            c_skip = sigma_data**2 / (sigma**2 + sigma_data**2)
            c_out = sigma * sigma_data / jnp.sqrt(sigma**2 + sigma_data**2)
            f = call(_bcast(c_in, x) * x_hat, 0.25 * jnp.log(sigma), key, labels)
            d = _bcast(c_skip, x) * x_hat + _bcast(c_out, x) * f
            return (_bcast(a, x) * d - x) / _bcast(std**2, x)
        out = call(x, noise_condition(sde, t, conditioning), key, labels)
        if parameterization == "score":
            return out
        if parameterization == "eps":
            return -out / _bcast(std, x)
        return out / _bcast(std, x)

    return score_fn


def count_params(module) -> int:
    """Number of trainable scalars (inexact array leaves), also on `eqx.filter_eval_shape` output."""

    def inexact(x):
        return hasattr(x, "shape") and hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.inexact)

    return int(sum(math.prod(x.shape) for x in jax.tree_util.tree_leaves(module) if inexact(x)))


def sigma_score_fn_from_net(net, *, parameterization: str, conditioning: str, key=None, labels=None):
    """Batched score_fn(x, sigma) for NCSN's discrete noise levels from an unbatched net.

    parameterization 'score' (s = net) or 'scale_by_sigma' (s = net / sigma, NCSNv2's output
    scaling done outside the net); conditioning 'sigma' or 'log_sigma'.
    """
    check_choice("parameterization", parameterization, ("score", "scale_by_sigma"))
    check_choice("conditioning", conditioning, ("sigma", "log_sigma"))

    def score_fn(x, sigma):
        c = sigma if conditioning == "sigma" else jnp.log(sigma)
        b = x.shape[0]
        keys = None if key is None else jr.split(key, b)
        in_axes = (0, 0, None if keys is None else 0, None if labels is None else 0)
        out = jax.vmap(lambda xi, ci, ki, yi: net(xi, ci, key=ki, label=yi), in_axes=in_axes)(x, c, keys, labels)
        return out if parameterization == "score" else out / _bcast(sigma, x)

    return score_fn


def _settings(model_config) -> dict:
    name = model_name(model_config)
    out = wrapper_settings(spec(name), model_config)
    sigma_data = config_items(model_config).get("sigma_data")
    if sigma_data is not None:
        out["sigma_data"] = float(sigma_data)
    return out


def score_fn_from_config(model, sde: AbstractSDE, model_config, *, key=None, labels=None) -> ScoreFn:
    """Batched score_fn(x, t) of a network built by `nets.build(model_config)`, used as it was trained.

    parameterization and conditioning come from `model_config` (the backbone's standard ones when it
    does not name them: NCSN++ scale_by_sigma on log sigma, DDPM++ / DDPM / DiT eps on 999 t, the
    RefineNets the score on sigma, the MLP the score on t).
    """
    return score_fn_from_net(model, sde, key=key, labels=labels, **_settings(model_config))


def sigma_score_fn_from_config(model, model_config, *, key=None, labels=None):
    """Batched score_fn(x, sigma) for NCSN's discrete noise levels, parameterization and conditioning from
    `model_config` (see `sigma_score_fn_from_net`)."""
    settings = _settings(model_config)
    settings.pop("sigma_data", None)
    return sigma_score_fn_from_net(model, key=key, labels=labels, **settings)
