"""Proxy scores and the SD-flow velocity v_sigma = grad log p_sigma - grad log q_sigma.

Every proxy score is a function score(x, sigma) of a batch x and a scalar sigma:
- kernel: the exact score of the sigma-smoothed empirical measure of a sample set (the target's
  samples, or the moving particles themselves for the source); O(N M D) per call;
- exact: the oracle's score of a Gaussian mixture convolved with N(0, sigma^2 I) (tests, checks);
- learned: a sigma-conditioned score network s(x, sigma), trained by denoising score matching.
"""

import jax.numpy as jnp

from scoresde import nets, oracle


def kernel_score(samples, *, chunk_size: int, query_chunk: int):
    """Score of (1/M sum_j delta(y_j)) * N(0, sigma^2 I)."""

    def score(x, sigma):
        return oracle.empirical_score(x, samples, sigma, chunk_size=chunk_size, query_chunk=query_chunk)

    return score


def kernel_self_score(*, chunk_size: int, query_chunk: int):
    """Score of the particles' own smoothed empirical measure, evaluated at the particles."""

    def score(x, sigma):
        return oracle.empirical_score(x, x, sigma, chunk_size=chunk_size, query_chunk=query_chunk)

    return score


def exact_score(mixture: oracle.GaussianMixture):
    fn = mixture.sigma_score_fn()

    def score(x, sigma):
        return fn(x, jnp.full((x.shape[0],), sigma, x.dtype))

    return score


def net_score(model):
    """s(x, sigma) = net(x, log sigma) / sigma (NCSNv2's output scaling; stable across noise levels)."""
    fn = nets.sigma_score_fn_from_net(model, parameterization="scale_by_sigma", conditioning="log_sigma")

    def score(x, sigma):
        return fn(x, jnp.full((x.shape[0],), sigma, x.dtype))

    return score


def velocity(score_p, score_q):
    """v_sigma(x) = grad log p_sigma(x) - grad log q_sigma(x): steepest descent of KL(q_sigma || p_sigma)."""

    def v(x, sigma):
        return score_p(x, sigma) - score_q(x, sigma)

    return v


def denoiser_velocity(denoise_p, denoise_q):
    """The same velocity in Tweedie form, v = (D_p(x, sigma) - D_q(x, sigma)) / sigma^2."""

    def v(x, sigma):
        return (denoise_p(x, sigma) - denoise_q(x, sigma)) / sigma**2

    return v


def from_config(cfg, target_train, workdir: str):
    """(velocity(x, sigma, aux), aux0, refit or None) for the configured proxies.

    aux carries the learned source net's training state (None otherwise); the target net, the
    target samples and the mixture are constants of the velocity.
    """
    from . import components, learned

    f, shape = cfg.flow, target_train.shape[1:]
    chunks = dict(chunk_size=f.chunk_size, query_chunk=f.query_chunk)
    if cfg.proxy.target == "kernel":
        score_p = kernel_score(jnp.asarray(target_train), **chunks)
    elif cfg.proxy.target == "exact":
        score_p = exact_score(components.target_mixture(cfg))
    else:
        score_p = net_score(learned.restore(cfg, "target", shape, workdir, seed_offset=100))
    if cfg.proxy.source == "kernel":
        score_q = kernel_self_score(**chunks)
        return (lambda x, sigma, aux: score_p(x, sigma) - score_q(x, sigma)), None, None
    import equinox as eqx

    state, static = learned.refit_state(cfg, learned.restore(cfg, "source", shape, workdir, seed_offset=200))
    refit, _ = learned.make_refit(cfg, static)

    def v(x, sigma, aux):
        return score_p(x, sigma) - net_score(eqx.combine(aux.params, static))(x, sigma)

    return v, state, (refit if cfg.learned.refit_steps > 0 else None)
