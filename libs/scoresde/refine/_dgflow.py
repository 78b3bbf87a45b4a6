"""Discriminator gradient flow (DGflow) and discriminator-driven latent sampling (DDLS), on `integrate_flow`.

d is a logit estimating log p_data / p_gen (for WGAN the critic output). DGflow simulates the
entropy-regularised f-divergence gradient flow with the ratio held at the discriminator's estimate:

    z <- z + eta c(d) grad_z d(G(z)) + sqrt(2 gamma eta) xi,   c = 1 (KL), sigmoid(d) (JS), sigmoid(-d) (logD)

(c(d) grad d = -grad f'(e^{-d}) for the three f). In latent space the refined latent density is
p_Z(z) p_data(G(z)) / p_gen(G(z)), whose ratio to p_Z is the data-space ratio at G(z), so no prior term
enters the velocity (the paper's update); `generator=None` runs the same flow in data space.
DDLS runs Langevin on E(z) = |z|^2 / 2 - d(G(z)): z <- z - (eta/2) grad E + sqrt(eta) xi.
Both take one gradient of d per step, so equal `n_steps` means equal discriminator gradient evaluations.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._checks import check_choice, check_positive_int, check_range
from .._typing import Keys
from ..solvers import integrate_flow

F_DIVERGENCES = ("kl", "js", "logd")


def velocity_scale(f: str, d: Float[Array, "*batch"]) -> Float[Array, "*batch"]:
    """c(d), the factor in front of grad d in DGflow's velocity: 1 (KL), sigmoid(d) (JS), sigmoid(-d) (log D)."""
    check_choice("f", f, F_DIVERGENCES)
    if f == "kl":
        return jnp.ones_like(d)
    return jax.nn.sigmoid(d) if f == "js" else jax.nn.sigmoid(-d)


def _logit_and_grad(logit_fn: Callable, generator: Callable | None, z):
    """d(G(z)) per example and its gradient in z (the batched sum's gradient: examples are independent)."""

    def total(z):
        d = logit_fn(z if generator is None else generator(z))
        return jnp.sum(d), d

    grad, d = jax.grad(total, has_aux=True)(z)
    return d, grad


def _expand(c, like):
    return c.reshape(c.shape + (1,) * (like.ndim - c.ndim))


def dgflow(
    logit_fn: Callable,
    z0: Float[Array, " batch *latent"],
    *,
    f: str = "kl",
    step_size: float = 0.1,
    noise: float = 0.01,
    n_steps: int = 25,
    key: Keys | None = None,
    generator: Callable | None = None,
    n_saves: int = 0,
):
    """Refine particles z0 by DGflow; returns (z, nfe[, path]) like `integrate_flow`.

    `logit_fn(x) -> (batch,)` the batched discriminator logit; `generator(z) -> x` batched (None: data
    space, z is x). `step_size` = eta > 0, `noise` = gamma >= 0 (0: the deterministic flow). nfe counts
    gradient evaluations of d. Map the result through the generator to get refined samples.
    """
    check_choice("f", f, F_DIVERGENCES)
    check_range("eta (step_size)", step_size, 0.0, None, strict=True)
    check_range("gamma (noise)", noise, 0.0, None)
    check_positive_int("n_steps", n_steps)

    def velocity(z, t):
        d, grad = _logit_and_grad(logit_fn, generator, z)
        return _expand(velocity_scale(f, d), grad) * grad

    return integrate_flow(velocity, z0, step_size=step_size, n_steps=n_steps, noise=noise, key=key, n_saves=n_saves)


def ddls(
    logit_fn: Callable,
    z0: Float[Array, " batch *latent"],
    *,
    generator: Callable,
    step_size: float = 0.01,
    n_steps: int = 25,
    key: Keys,
    n_saves: int = 0,
):
    """DDLS: Langevin in the latent space on E(z) = |z|^2 / 2 - d(G(z)) (standard normal prior); (z, nfe[, path])."""
    check_range("eta (step_size)", step_size, 0.0, None, strict=True)
    check_positive_int("n_steps", n_steps)

    def velocity(z, t):
        _, grad = _logit_and_grad(logit_fn, generator, z)
        return 0.5 * (grad - z)

    return integrate_flow(velocity, z0, step_size=step_size, n_steps=n_steps, noise=0.5, key=key, n_saves=n_saves)
