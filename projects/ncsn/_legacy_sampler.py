"""Interim: the function samplers of scoresde.solvers behind the sampler-object call, one sample per key.

Goes away when scoresde.solvers.sampler_from_config lands (samplers as Modules taking a batch of keys).
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from scoresde import guidance, solvers

from . import components


class Solution(eqx.Module):
    x: jax.Array
    nfe: jax.Array


class LegacySampler(eqx.Module):
    """sample(process, score_fn, shape, key=keys): every sample solved alone from its own key (vmap)."""

    method: str = eqx.field(static=True)
    settings: tuple = eqx.field(static=True)
    sigmas: tuple = eqx.field(static=True, default=())

    def _one(self, sde, score_fn, key, shape):
        s, m = dict(self.settings), self.method
        if m == "pc":
            return solvers.pc(sde, score_fn, key, shape, n_steps=s["n_steps"], snr=s["snr"],
                              n_corrector=s["n_corrector"], predictor=s["predictor"], corrector=s["corrector"],
                              eps=s["eps"])  # fmt: skip
        if m == "reverse_sde":
            return solvers.reverse_sde(sde, score_fn, key, shape, n_steps=s["n_steps"], predictor=s["predictor"],
                                       eps=s["eps"])  # fmt: skip
        if m == "ode":
            n = s["n_steps"] if s["ode_solver"] in ("heun", "euler") else None
            return solvers.probability_flow(sde, score_fn, key, shape, solver=s["ode_solver"], rtol=s["rtol"],
                                            atol=s["atol"], n_steps=n, eps=s["eps"])  # fmt: skip
        if m == "edm_heun":
            return solvers.edm_heun(sde, score_fn, key, shape, n_steps=s["n_steps"], churn=s["churn"], eps=s["eps"])
        if m == "dpm_solver_2m":
            return solvers.dpm_solver_2m(sde, score_fn, key, shape, n_steps=s["n_steps"], eps=s["eps"])
        if m == "langevin":
            k0, k1 = jax.random.split(key)
            x0 = s["init_scale"] * jax.random.normal(k0, shape)
            fn = lambda x: score_fn(x, jnp.zeros(x.shape[:1]))  # noqa: E731
            return solvers.langevin(fn, k1, x0, step_size=s["step_size"], n_steps=s["n_steps"])
        return solvers.annealed_langevin(score_fn, np.asarray(self.sigmas, np.float32), key, shape,
                                         n_steps_each=s["n_steps_each"], step_lr=s["step_lr"],
                                         denoise=s["denoise"])  # fmt: skip

    def sample(self, process, score, shape, *, key, labels=None):
        def one(k, y):
            x, nfe = self._one(process, score.conditioned(None if y is None else y[None]), k, (1, *shape[1:]))
            return x[0], jnp.asarray(nfe)

        x, nfe = jax.vmap(one)(key, labels)
        return Solution(x, nfe[0])

    def inpaint(self, process, score, x_known, mask, *, key, labels=None):
        s = dict(self.settings)
        corrector = "none" if self.method == "reverse_sde" else s["corrector"]

        def one(k, xk, y):
            x, nfe = guidance.inpaint(process, score.conditioned(None if y is None else y[None]), k, xk[None],
                                      mask[None], n_steps=s["n_steps"], predictor=s["predictor"], corrector=corrector,
                                      n_corrector=s["n_corrector"], snr=s["snr"], eps=s["eps"])  # fmt: skip
            return x[0], jnp.asarray(nfe)

        x, nfe = jax.vmap(one)(key, x_known, labels)
        return Solution(x, nfe[0])


def from_config(cfg) -> LegacySampler:
    items = tuple(sorted((k, v) for k, v in cfg.sampling.items() if isinstance(v, int | float | str | bool)))
    ladder = tuple(float(v) for v in components.sigmas(cfg)) if components.is_discrete(cfg) else ()
    return LegacySampler(cfg.sampling.method, items, ladder)
