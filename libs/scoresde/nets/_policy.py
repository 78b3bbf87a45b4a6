"""Mixed precision for any backbone: bf16 (or f16) compute, float32 parameters and outputs."""

import equinox as eqx
import jax
import jax.numpy as jnp

POLICIES = ("float32", "bfloat16", "float16")


class DtypePolicy(eqx.Module):
    """Wraps an unbatched net: casts its floating parameters and the input x to `compute_dtype` in the call.

    Stored parameters (and so gradients and optimiser state) stay float32; the output is float32.
    The noise condition c is passed as it is (float32): the backbones embed it in float32 and cast
    the embedding, since 999 t or a Fourier phase loses its meaning in 8 mantissa bits. Norm
    statistics and attention softmaxes run in float32 inside the layers.
    """

    net: eqx.Module
    compute_dtype: str = eqx.field(static=True)

    def __check_init__(self):
        if self.compute_dtype not in POLICIES:
            raise ValueError(
                f"model.compute_dtype={self.compute_dtype!r} is not one of {', '.join(map(repr, POLICIES))}"
            )

    def __call__(self, x, c, *, key=None, label=None):
        dt = jnp.dtype(self.compute_dtype)
        cast = lambda p: p.astype(dt) if eqx.is_inexact_array(p) else p  # noqa: E731
        net = jax.tree_util.tree_map(cast, self.net)
        out = net(x.astype(dt), c, key=key, label=label)
        return out.astype(jnp.float32)

    def __getattr__(self, name):
        # Read-only access to the wrapped net's attributes (sizes, flags), so callers need not unwrap.
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(object.__getattribute__(self, "net"), name)
