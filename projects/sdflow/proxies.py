"""Proxy scores and the SD-flow velocity v_sigma = grad log p_sigma - grad log q_sigma.

Every proxy score is an equinox Module score(x, sigma) of a batch x and a scalar sigma, so its
arrays (target samples, a mixture, a score net) enter jitted code as arguments, never as constants:
- kernel: the exact score of the sigma-smoothed empirical measure of a sample set (the target's
  samples, or the moving particles themselves for the source); O(N M D) per call;
- exact: the oracle's score of a Gaussian mixture convolved with N(0, sigma^2 I) (tests, checks);
- learned: a sigma-conditioned score network s(x, sigma), trained by denoising score matching.
"""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float, PyTree

from scoresde import nets, oracle


class KernelScore(eqx.Module):
    """Score of (1/M sum_j delta(y_j)) * N(0, sigma^2 I), y = `samples`."""

    samples: Float[Array, " m *data"]
    chunk_size: int = eqx.field(static=True)
    query_chunk: int = eqx.field(static=True)

    def __call__(self, x, sigma):
        return oracle.empirical_score(x, self.samples, sigma, chunk_size=self.chunk_size, query_chunk=self.query_chunk)


class KernelSelfScore(eqx.Module):
    """Score of the particles' own smoothed empirical measure, evaluated at the particles."""

    chunk_size: int = eqx.field(static=True)
    query_chunk: int = eqx.field(static=True)

    def __call__(self, x, sigma):
        return oracle.empirical_score(x, x, sigma, chunk_size=self.chunk_size, query_chunk=self.query_chunk)


class ExactScore(eqx.Module):
    mixture: oracle.GaussianMixture

    def __call__(self, x, sigma):
        return self.mixture.sigma_score_fn()(x, jnp.full((x.shape[0],), sigma, x.dtype))


class NetScore(eqx.Module):
    """s(x, sigma) = net(x, log sigma) / sigma (NCSNv2's output scaling; stable across noise levels)."""

    net: eqx.Module

    def __call__(self, x, sigma):
        fn = nets.sigma_score_fn_from_net(self.net, parameterization="scale_by_sigma", conditioning="log_sigma")
        return fn(x, jnp.full((x.shape[0],), sigma, x.dtype))


def kernel_score(samples, *, chunk_size: int, query_chunk: int) -> KernelScore:
    return KernelScore(jnp.asarray(samples), chunk_size, query_chunk)


def kernel_self_score(*, chunk_size: int, query_chunk: int) -> KernelSelfScore:
    return KernelSelfScore(chunk_size, query_chunk)


def exact_score(mixture: oracle.GaussianMixture) -> ExactScore:
    return ExactScore(mixture)


def net_score(model) -> NetScore:
    return NetScore(model)


class Velocity(eqx.Module):
    """v_sigma(x) = grad log p_sigma(x) - grad log q_sigma(x): steepest descent of KL(q_sigma || p_sigma).

    Called as v(x, sigma) or, in the flow, v(x, sigma, aux) (aux unused: both scores are fixed Modules).
    """

    score_p: eqx.Module
    score_q: eqx.Module

    def __call__(self, x, sigma, aux=None):
        del aux
        return self.score_p(x, sigma) - self.score_q(x, sigma)


class LearnedSourceVelocity(eqx.Module):
    """v(x, sigma, aux) = score_p(x, sigma) - s_q(x, sigma), s_q the source net rebuilt from aux.params (re-fitted)."""

    score_p: eqx.Module
    source_static: PyTree  # the source net's non-array part; its arrays are aux.params

    def __call__(self, x, sigma, aux):
        return self.score_p(x, sigma) - NetScore(eqx.combine(aux.params, self.source_static))(x, sigma)


def velocity(score_p, score_q) -> Velocity:
    return Velocity(score_p, score_q)


def denoiser_velocity(denoise_p, denoise_q):
    """The same velocity in Tweedie form, v = (D_p(x, sigma) - D_q(x, sigma)) / sigma^2."""

    def v(x, sigma):
        return (denoise_p(x, sigma) - denoise_q(x, sigma)) / sigma**2

    return v


def from_config(cfg, target_train, workdir: str):
    """(velocity Module v(x, sigma, aux), aux0, refit Module or None) for the configured proxies.

    aux carries the learned source net's training state (None otherwise). The velocity holds the
    target samples / mixture / net as arrays: pass it to jitted code as an argument.
    """
    from . import components, learned

    f, shape = cfg.flow, target_train.shape[1:]
    chunks = dict(chunk_size=f.chunk_size, query_chunk=f.query_chunk)
    if cfg.proxy.target == "kernel":
        score_p = kernel_score(target_train, **chunks)
    elif cfg.proxy.target == "exact":
        score_p = exact_score(components.target_mixture(cfg))
    else:
        score_p = net_score(learned.restore(cfg, "target", shape, workdir, seed_offset=100))
    if cfg.proxy.source == "kernel":
        return velocity(score_p, kernel_self_score(**chunks)), None, None
    state, static = learned.refit_state(cfg, learned.restore(cfg, "source", shape, workdir, seed_offset=200))
    refit = learned.Refit.from_config(cfg, static) if cfg.learned.refit_steps > 0 else None
    return LearnedSourceVelocity(score_p, static), state, refit
