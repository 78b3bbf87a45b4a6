"""The one dense layer: y = W x + b on the last axis, so also per pixel of a channels-last image (score_sde's NIN)."""

import math

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float

from ._init import ddpm_init, normal, torch_default_init, uniform, xavier_uniform

INITS = ("ddpm", "torch", "xavier", "normal", "zeros")


class Dense(eqx.Module):
    """Linear map on the last axis: of a vector, or at every pixel of an (H, W, C) image (score_sde's NIN).

    `weight` is (out, in) as in PyTorch's nn.Linear. Initialisations (all with zero bias except
    'torch'): 'ddpm' (score_sde's default_init with `scale`), 'torch' (U(+-1/sqrt(in)) for weight and
    bias), 'xavier', 'normal' (N(0, std^2)), 'zeros'.
    """

    weight: Float[Array, "out in"]
    bias: Float[Array, " out"] | None

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        init: str = "ddpm",
        scale: float = 1.0,
        std: float = 0.02,
        use_bias: bool = True,
        key=None,
    ):
        shape = (int(out_features), int(in_features))
        if init == "ddpm":
            self.weight = ddpm_init(key, shape, scale)
        elif init == "torch":
            self.weight = torch_default_init(key, shape)
        elif init == "xavier":
            self.weight = xavier_uniform(key, shape)
        elif init == "normal":
            self.weight = normal(key, shape, std)
        elif init == "zeros":
            self.weight = jnp.zeros(shape)
        else:
            raise ValueError(f"init={init!r} is not one of {', '.join(map(repr, INITS))}")
        if not use_bias:
            self.bias = None
        elif init == "torch":
            self.bias = uniform(jr.fold_in(key, 1), shape[:1], 1.0 / math.sqrt(shape[1]))
        else:
            self.bias = jnp.zeros((shape[0],))

    def __check_init__(self):
        if self.weight.ndim != 2:
            raise ValueError(f"Dense weight must be (out, in), got shape {self.weight.shape}")
        if self.bias is not None and self.bias.shape != self.weight.shape[:1]:
            raise ValueError(f"Dense bias must have shape {self.weight.shape[:1]}, got {self.bias.shape}")

    def __call__(self, x: Float[Array, "*batch in"]) -> Float[Array, "*batch out"]:
        y = x @ self.weight.T
        return y if self.bias is None else y + self.bias
