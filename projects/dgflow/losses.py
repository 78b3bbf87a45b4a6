"""Losses: the GAN discriminator/generator pairs (WGAN-GP, non-saturating, hinge), the VAE ELBO, the corrector.

For the non-saturating GAN and the corrector the logit d estimates log p_data / p_gen at the optimum
(logistic regression between data and samples); for WGAN-GP and hinge the critic output is used as d.
"""

import jax
import jax.numpy as jnp


def d_loss(kind: str, d, real, fake, key, *, gp_weight: float = 10.0):
    """The discriminator's loss; `d` is batched (x -> (batch,) logits)."""
    dr, df = d(real), d(fake)
    if kind == "ns":
        return jnp.mean(jax.nn.softplus(-dr) + jax.nn.softplus(df))
    if kind == "hinge":
        return jnp.mean(jax.nn.relu(1.0 - dr) + jax.nn.relu(1.0 + df))
    eps = jax.random.uniform(key, (real.shape[0],) + (1,) * (real.ndim - 1))
    mix = eps * real + (1.0 - eps) * fake
    grads = jax.grad(lambda v: jnp.sum(d(v)))(mix)
    norms = jnp.sqrt(jnp.sum(grads.reshape(grads.shape[0], -1) ** 2, -1) + 1e-12)
    return jnp.mean(df) - jnp.mean(dr) + gp_weight * jnp.mean((norms - 1.0) ** 2)


def g_loss(kind: str, d, fake):
    """The generator's loss: -log D(G(z)) for ns, -d(G(z)) for WGAN-GP and hinge."""
    df = d(fake)
    return jnp.mean(jax.nn.softplus(-df)) if kind == "ns" else -jnp.mean(df)


def vae_loss(vae, x, key, *, obs_std: float):
    """Negative ELBO per example (Gaussian decoder of std obs_std, standard normal prior), averaged."""

    def one(xi, k):
        mean, logvar = vae.encode(xi)
        z = mean + jnp.exp(0.5 * logvar) * jax.random.normal(k, mean.shape)
        rec = jnp.sum((xi - vae(z)) ** 2) / (2 * obs_std**2)
        kl = 0.5 * jnp.sum(jnp.exp(logvar) + mean**2 - 1.0 - logvar)
        return rec + kl

    return jnp.mean(jax.vmap(one)(x, jax.random.split(key, x.shape[0])))


def corrector_loss(d, real, fake):
    """Logistic regression of data (label 1) against generated samples (label 0); d estimates log p_data/p_gen."""
    return jnp.mean(jax.nn.softplus(-d(real)) + jax.nn.softplus(d(fake)))
