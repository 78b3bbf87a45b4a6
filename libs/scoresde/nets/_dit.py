"""DiT: a Diffusion Transformer with adaLN-Zero conditioning (Peebles & Xie 2023).

Unbatched: `net(x, c, *, key=None, label=None)` with x of shape (C, H, W) and a scalar noise
condition c, returning an array shaped like x. Proven equal to facebookresearch/DiT models.py on
its own random weights, learn_sigma included (tests/interop/). The layout:

- patchify: a convolution with kernel = stride = patch_size, tokens in row-major order, plus the
  fixed (not trained) 2-D sin-cos position table (first half of the channels: the patch column);
- condition vector = MLP(timestep_features_256(c)) + label embedding; the features are
  [cos(c w_k), sin(c w_k)], w_k = 10000^(-k/128), and the reference feeds integer DDPM steps
  0..999, so condition DiT on `conditioning="t999"` (or log sigma), not on t in [0, 1];
- label table with num_classes + 1 rows, the last the null class. `label=None` means the null class
  (unconditional); with a key, each label becomes the null class with probability `class_dropout`;
- `depth` blocks: x += gate * Attn(LN(x) (1 + scale) + shift), x += gate * MLP(LN(x) (1 + scale) + shift),
  LayerNorm without affine (eps 1e-6), MLP ratio 4 with tanh-GELU, the six shift/scale/gate vectors
  from Linear(SiLU(cond)) initialised to zero (adaLN-Zero: every block starts as the identity);
- final layer: LN, modulation (shift, scale), Linear to patch^2 * out_channels, both zero-initialised
  (the network outputs exactly 0 at initialisation), then unpatchify;
- initialisation: Xavier-uniform linears with zero biases, the patch projection Xavier-uniform over
  its flattened (hidden, C p p) matrix, label table N(0, 0.02^2), timestep-MLP weights N(0, 0.02^2).

`learn_sigma=True` makes the network output 2C channels like the reference (the prediction, then the
variance interpolation values of improved DDPM). `__call__` keeps the contract (shaped like x) and
returns the first C channels; `forward_with_variance` returns all 2C. `centered=False` maps data in
[0, 1] to 2x - 1 first (the reference has no such option; it is here so that any image config can
swap in DiT).

The blocks are one stacked Module (every array has a leading `depth` axis, built with
`eqx.filter_vmap` over keys) run by `jax.lax.scan`, so tracing and compile time do not grow with depth
(tools/bench_dit_compile.py); `remat=True` wraps the scanned block in `jax.checkpoint`; `unroll` is
passed to the scan (1: a loop; True: straight-line code). The forward is an `eqx.filter_jit`
function (one program per architecture even when called eagerly; inlined under an outer jit).
Mixed precision is `nets.DtypePolicy` (model.compute_dtype), as for every backbone.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int, Real

from .layers import (
    Conv2d,
    Dense,
    MultiHeadAttention,
    layer_norm,
    normal,
    sincos_2d_position_embedding,
    timestep_features,
)

FREQ_DIM = 256  # size of the sinusoidal timestep features fed to the timestep MLP

# name -> (depth, hidden_size, num_heads), Table 1 of the paper
DIT_PRESETS: dict[str, tuple[int, int, int]] = {
    "S": (12, 384, 6),
    "B": (12, 768, 12),
    "L": (24, 1024, 16),
    "XL": (28, 1152, 16),
}


def dit_preset(name: str) -> dict[str, int]:
    """depth / hidden_size / num_heads of a paper model: 'S', 'B', 'L', 'XL' (or 'S/2' etc. with patch_size)."""
    size, _, patch = str(name).partition("/")
    if size not in DIT_PRESETS:
        raise ValueError(f"preset={name!r} is not one of {', '.join(map(repr, DIT_PRESETS))} (optionally '/patch')")
    depth, hidden, heads = DIT_PRESETS[size]
    out = {"depth": depth, "hidden_size": hidden, "num_heads": heads}
    if patch:
        if not patch.isdigit() or int(patch) < 1:
            raise ValueError(f"preset={name!r}: the part after '/' must be a positive patch size")
        out["patch_size"] = int(patch)
    return out


def _modulate(x: Array, shift: Array, scale: Array) -> Array:
    return x * (1 + scale) + shift


class TimestepEmbedder(eqx.Module):
    """Scalar c -> Linear(256, D) -> SiLU -> Linear(D, D) on the sinusoidal features of c."""

    fc1: Dense
    fc2: Dense

    def __init__(self, hidden: int, *, key):
        k1, k2 = jr.split(key)
        self.fc1 = Dense(FREQ_DIM, hidden, init="normal", std=0.02, key=k1)
        self.fc2 = Dense(hidden, hidden, init="normal", std=0.02, key=k2)

    def __call__(self, c: Array, dtype) -> Array:
        return self.fc2(jax.nn.silu(self.fc1(timestep_features(c, FREQ_DIM).astype(dtype))))


class DiTBlock(eqx.Module):
    """One adaLN-Zero transformer block on tokens (T, D), conditioned on silu(cond) (D,)."""

    attn: MultiHeadAttention
    fc1: Dense
    fc2: Dense
    ada: Dense

    def __init__(self, hidden: int, num_heads: int, mlp_ratio: float, *, key):
        k1, k2, k3 = jr.split(key, 3)
        m = int(hidden * mlp_ratio)
        self.attn = MultiHeadAttention(hidden, num_heads, key=k1)
        self.fc1 = Dense(hidden, m, init="xavier", key=k2)
        self.fc2 = Dense(m, hidden, init="xavier", key=k3)
        self.ada = Dense(hidden, 6 * hidden, init="zeros")

    def __call__(self, h: Array, silu_cond: Array) -> Array:
        shift1, scale1, gate1, shift2, scale2, gate2 = jnp.split(self.ada(silu_cond), 6)
        h = h + gate1 * self.attn(_modulate(layer_norm(h), shift1, scale1))
        mlp = self.fc2(jax.nn.gelu(self.fc1(_modulate(layer_norm(h), shift2, scale2)), approximate=True))
        return h + gate2 * mlp


class FinalLayer(eqx.Module):
    """LN, adaLN modulation (shift, scale), Linear(D, p*p*out_channels); modulation and Linear start at zero."""

    ada: Dense
    linear: Dense

    def __init__(self, hidden: int, out_dim: int):
        self.ada = Dense(hidden, 2 * hidden, init="zeros")
        self.linear = Dense(hidden, out_dim, init="zeros")

    def __call__(self, h: Array, silu_cond: Array) -> Array:
        shift, scale = jnp.split(self.ada(silu_cond), 2)
        return self.linear(_modulate(layer_norm(h), shift, scale))


@eqx.filter_jit
def _init_parts(num_channels, patch_size, hidden, depth, num_heads, mlp_ratio, num_classes, out_channels, key):
    """All initial weights in one compiled program (cached per architecture)."""
    k_patch, k_t, k_label, k_blocks = jr.split(key, 4)
    patch = Conv2d(num_channels, hidden, patch_size, stride=patch_size, padding=0, init="xavier", key=k_patch)
    t_embed = TimestepEmbedder(hidden, key=k_t)
    label_embed = eqx.nn.Embedding(weight=normal(k_label, (num_classes + 1, hidden), 0.02))
    blocks = eqx.filter_vmap(lambda k: DiTBlock(hidden, num_heads, mlp_ratio, key=k))(jr.split(k_blocks, depth))
    final = FinalLayer(hidden, patch_size * patch_size * out_channels)
    return patch, t_embed, label_embed, blocks, final


def _positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


class DiT(eqx.Module):
    """Diffusion Transformer (adaLN-Zero) on one image x (C, H, W) with a scalar noise condition c.

    See the module docstring. `blocks` is a single `DiTBlock` whose arrays carry a leading `depth`
    axis; it is run by `jax.lax.scan`.
    """

    patch_embed: Conv2d
    t_embed: TimestepEmbedder
    label_embed: eqx.nn.Embedding
    blocks: DiTBlock
    final: FinalLayer
    image_size: tuple[int, int] = eqx.field(static=True)
    num_channels: int = eqx.field(static=True)
    patch_size: int = eqx.field(static=True)
    hidden_size: int = eqx.field(static=True)
    depth: int = eqx.field(static=True)
    num_heads: int = eqx.field(static=True)
    mlp_ratio: float = eqx.field(static=True)
    num_classes: int = eqx.field(static=True)
    class_dropout: float = eqx.field(static=True)
    learn_sigma: bool = eqx.field(static=True)
    centered: bool = eqx.field(static=True)
    remat: bool = eqx.field(static=True)
    unroll: int = eqx.field(static=True)

    def __init__(
        self,
        image_size: int | tuple[int, int],
        num_channels: int,
        *,
        patch_size: int = 2,
        hidden_size: int = 384,
        depth: int = 12,
        num_heads: int = 6,
        mlp_ratio: float = 4.0,
        num_classes: int = 0,
        class_dropout: float = 0.1,
        learn_sigma: bool = False,
        centered: bool = True,
        remat: bool = False,
        unroll: int | bool = 1,
        key,
    ):
        size = (image_size, image_size) if isinstance(image_size, int | np.integer) else tuple(image_size)
        if len(size) != 2 or any(isinstance(s, bool) or not isinstance(s, int | np.integer) or s < 1 for s in size):
            raise ValueError(f"image_size must be a positive int or (H, W), got {image_size!r}")
        self.image_size = (int(size[0]), int(size[1]))
        self.num_channels, self.patch_size, self.hidden_size = num_channels, patch_size, hidden_size
        self.depth, self.num_heads, self.mlp_ratio = depth, num_heads, mlp_ratio
        self.num_classes, self.class_dropout, self.learn_sigma = num_classes, class_dropout, bool(learn_sigma)
        self.centered, self.remat = bool(centered), bool(remat)
        self.unroll = depth if unroll is True else unroll
        self.__check_init__()  # the sizes below must be valid before any weight is drawn
        parts = _init_parts(
            int(num_channels), int(patch_size), int(hidden_size), int(depth), int(num_heads), float(mlp_ratio),
            int(num_classes), self.out_channels, key,
        )  # fmt: skip
        self.patch_embed, self.t_embed, self.label_embed, self.blocks, self.final = parts
        self.num_channels, self.patch_size, self.hidden_size = int(num_channels), int(patch_size), int(hidden_size)
        self.depth, self.num_heads, self.mlp_ratio = int(depth), int(num_heads), float(mlp_ratio)
        self.num_classes, self.class_dropout, self.unroll = int(num_classes), float(class_dropout), int(self.unroll)

    def __check_init__(self):
        for name in ("num_channels", "patch_size", "hidden_size", "depth", "num_heads"):
            _positive_int(name, getattr(self, name))
        h, w = self.image_size
        if h % self.patch_size or w % self.patch_size:
            raise ValueError(f"patch_size={self.patch_size} must divide image_size={self.image_size}")
        if self.hidden_size % self.num_heads:
            raise ValueError(f"num_heads={self.num_heads} must divide hidden_size={self.hidden_size}")
        if self.hidden_size % 4:
            raise ValueError(f"hidden_size={self.hidden_size} must be divisible by 4 (2-D sin-cos position table)")
        if not self.mlp_ratio > 0 or int(self.hidden_size * self.mlp_ratio) < 1:
            raise ValueError(f"mlp_ratio must be positive, got {self.mlp_ratio!r}")
        k = self.num_classes
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0:
            raise ValueError(f"num_classes must be a non-negative integer, got {k!r}")
        if not 0.0 <= self.class_dropout <= 1.0:
            raise ValueError(f"class_dropout must lie in [0, 1], got {self.class_dropout!r}")
        u = self.unroll
        if isinstance(u, bool) or not isinstance(u, int | np.integer) or u < 1:
            raise ValueError(f"unroll must be a positive integer or True, got {u!r}")

    @property
    def out_channels(self) -> int:
        return 2 * self.num_channels if self.learn_sigma else self.num_channels

    @property
    def null_class(self) -> int:
        """Index of the null (unconditional) label: num_classes."""
        return self.num_classes

    def _label(self, label, key) -> Array:
        """The label embedded: None -> null class; with a key, dropped to the null class w.p. class_dropout."""
        if label is None:
            return jnp.asarray(self.num_classes, jnp.int32)
        label = jnp.asarray(label, jnp.int32)
        if key is not None and self.class_dropout > 0:
            label = jnp.where(jr.bernoulli(key, self.class_dropout), self.num_classes, label)
        return label

    def _forward(self, x, c, key, label) -> Array:
        if label is not None and self.num_classes == 0:
            raise ValueError("label was given but this DiT has num_classes=0 (unconditional)")
        expected = (self.num_channels, *self.image_size)
        if tuple(x.shape) != expected:
            raise ValueError(f"x must have shape (C, H, W) = {expected}, got {tuple(x.shape)}")
        c = jnp.asarray(c, jnp.float32)
        label = None if label is None else jnp.asarray(label, jnp.int32)
        return _forward_compiled(self, x, c, key, label)

    def _forward_impl(self, x: Array, c: Array, key, label) -> Array:
        dtype = x.dtype
        p = self.patch_size
        gh, gw = self.image_size[0] // p, self.image_size[1] // p
        x = x if self.centered else 2 * x - 1
        h = self.patch_embed(x.transpose(1, 2, 0)).reshape(gh * gw, self.hidden_size)  # (T, D), row-major grid
        h = h + jnp.asarray(sincos_2d_position_embedding(self.hidden_size, gh, gw), dtype)
        cond = self.t_embed(c, dtype) + self.label_embed(self._label(label, key)).astype(dtype)
        silu_cond = jax.nn.silu(cond)

        params, static = eqx.partition(self.blocks, eqx.is_array)

        def body(carry, block_params):
            return eqx.combine(block_params, static)(carry, silu_cond), None

        if self.remat:
            body = jax.checkpoint(body)
        h, _ = jax.lax.scan(body, h, params, unroll=self.unroll)

        out = self.final(h, silu_cond)  # (T, p * p * out_channels), each token ordered (p, q, channel)
        out = out.reshape(gh, gw, p, p, self.out_channels)
        return jnp.einsum("hwpqc->chpwq", out).reshape(self.out_channels, gh * p, gw * p)

    def __call__(
        self, x: Float[Array, "C H W"], c: Real[ArrayLike, ""], *, key=None, label: Int[ArrayLike, ""] | None = None
    ) -> Float[Array, "C H W"]:
        """Prediction shaped like x (the first C output channels when learn_sigma)."""
        return self._forward(x, c, key, label)[: self.num_channels]

    def forward_with_variance(
        self, x: Float[Array, "C H W"], c: Real[ArrayLike, ""], *, key=None, label: Int[ArrayLike, ""] | None = None
    ) -> Float[Array, "C2 H W"]:
        """All 2C output channels of a learn_sigma model: [prediction (C), variance interpolation values (C)]."""
        if not self.learn_sigma:
            raise ValueError("forward_with_variance needs learn_sigma=True")
        return self._forward(x, c, key, label)


_forward_compiled = eqx.filter_jit(DiT._forward_impl)
