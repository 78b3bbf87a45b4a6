"""DiT: a Diffusion Transformer with adaLN-Zero conditioning (Peebles & Xie 2023).

Unbatched, like every backbone here: `net(x, c, *, key=None, label=None)` with x of shape
(C, H, W) and a scalar noise condition c, returning an array shaped like x.

The layout follows the paper's reference model (facebookresearch/DiT, models.py):

- patchify: a convolution with kernel = stride = patch_size, then tokens in row-major order,
  plus a fixed (not trained) 2-D sin-cos position embedding; the first half of the channels
  encodes the column of a patch, the second half its row;
- condition vector = MLP(sinusoidal_256(c)) + label embedding; the sinusoid is
  [cos(c w_k), sin(c w_k)], w_k = 10000^(-k/128), as in the reference, which feeds integer
  DDPM timesteps 0..999 — so condition DiT on `conditioning="t999"` (or log sigma), not on t in [0, 1];
- label embedding with num_classes + 1 rows: the last row is the null class. `label=None` means the
  null class (unconditional, what classifier-free guidance contrasts against). With a key (training)
  each label is replaced by the null class with probability `class_dropout`;
- `depth` blocks: x += gate * Attn(LN(x) (1 + scale) + shift), x += gate * MLP(LN(x) (1 + scale) + shift),
  LayerNorm without affine (eps 1e-6), MLP ratio 4 with tanh-GELU, the six shift/scale/gate vectors
  from Linear(SiLU(cond)) initialised to zero (adaLN-Zero: every block starts as the identity);
- final layer: LN, modulation (shift, scale; zero-initialised), Linear to patch^2 * out_channels
  (zero-initialised, so the whole network outputs exactly 0 at initialisation), then unpatchify;
- initialisation: Xavier-uniform linears with zero biases, the patch projection Xavier-uniform over
  its flattened (hidden, C p p) matrix, label table N(0, 0.02^2), timestep-MLP weights N(0, 0.02^2).

`learn_sigma=True` makes the network output 2C channels like the reference (the first C are the
mean / eps / score prediction, the last C the interpolation value of the learned variance used by
improved-DDPM samplers). `__call__` keeps the contract (shaped like x) and returns only the first C
channels; `forward_with_variance` returns all 2C.

The blocks are one stacked Module (every array has a leading `depth` axis, built with
`eqx.filter_vmap` over keys) run by `jax.lax.scan`, so that tracing and compile time do not grow
with depth (tools/bench_dit_compile.py); `remat=True` wraps the scanned block in `jax.checkpoint`
(activations recomputed in the backward pass); `unroll` is passed to the scan (1: a loop; True:
straight-line code, what a Python loop over layers gives; for comparisons).
`compute_dtype="bfloat16"` casts parameters and activations to bf16 inside the call (LayerNorm
statistics and the attention softmax stay in float32), keeps stored parameters float32 and returns
float32.

Compiled even when called eagerly: the forward is an `eqx.filter_jit` function (one program per
architecture; a bare `lax.scan` would recompile on every eager call), inlined under an outer jit.
Initialisation is one jitted program with three random draws (each separate threefry call costs
about half a second of XLA compile on CPU).
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int, Real

from ._registry import register, require

FREQ_DIM = 256  # size of the sinusoidal timestep features fed to the timestep MLP
LN_EPS = 1e-6

# name -> (depth, hidden_size, num_heads), Table 1 of the paper
DIT_PRESETS: dict[str, tuple[int, int, int]] = {
    "S": (12, 384, 6),
    "B": (12, 768, 12),
    "L": (24, 1024, 16),
    "XL": (28, 1152, 16),
}
COMPUTE_DTYPES = ("float32", "bfloat16")


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


# ---------------------------------------------------------------------------------------
# small pieces


def _draw(key, specs, *, normal: bool) -> list[Array]:
    """One random draw split into tensors: specs are (shape, scale); U(-scale, scale) or N(0, scale^2).

    Initialisation is one random call per kind (not one per tensor): on CPU each threefry call costs
    about half a second of XLA compile time.
    """
    sizes = [math.prod(shape) for shape, _ in specs]
    if normal:
        flat = jr.normal(key, (sum(sizes),))
    else:
        flat = jr.uniform(key, (sum(sizes),), minval=-1.0, maxval=1.0)
    out, offset = [], 0
    for (shape, scale), n in zip(specs, sizes, strict=True):
        out.append(scale * flat[offset : offset + n].reshape(shape))
        offset += n
    return out


def _xavier(fan_in: int, fan_out: int) -> float:
    """Bound of the Xavier (Glorot) uniform distribution."""
    return math.sqrt(6.0 / (fan_in + fan_out))


class Dense(eqx.Module):
    """y = x W^T + b on the last axis of x (any leading axes); W is (out, in) like eqx.nn.Linear."""

    weight: Float[Array, "out in"]
    bias: Float[Array, " out"]

    def __init__(self, weight: Array, bias: Array | None = None):
        self.weight = weight
        self.bias = jnp.zeros(weight.shape[:-1]) if bias is None else bias

    @staticmethod
    def zeros(fan_in: int, fan_out: int) -> Dense:
        return Dense(jnp.zeros((fan_out, fan_in)))

    def __call__(self, x: Array) -> Array:
        return x @ self.weight.T + self.bias


def _layer_norm(x: Array) -> Array:
    """LayerNorm over the last axis without affine parameters; statistics in float32."""
    x32 = x.astype(jnp.float32)
    mean = x32.mean(-1, keepdims=True)
    var = jnp.square(x32 - mean).mean(-1, keepdims=True)
    return ((x32 - mean) * jax.lax.rsqrt(var + LN_EPS)).astype(x.dtype)


def _modulate(x: Array, shift: Array, scale: Array) -> Array:
    return x * (1 + scale) + shift


def timestep_features(c: Array, dim: int = FREQ_DIM, max_period: float = 10000.0) -> Array:
    """[cos(c w_k), sin(c w_k)] with w_k = max_period^(-k/half), k < half = dim // 2 (zero-padded if dim is odd)."""
    half = dim // 2
    freqs = jnp.exp(-math.log(max_period) * jnp.arange(half, dtype=jnp.float32) / half)
    args = jnp.asarray(c, jnp.float32) * freqs
    emb = jnp.concatenate([jnp.cos(args), jnp.sin(args)])
    return jnp.pad(emb, (0, dim - 2 * half))


def _sincos_1d(dim: int, pos: np.ndarray) -> np.ndarray:
    """(len(pos), dim): [sin(p w_k), cos(p w_k)], w_k = 10000^(-2k/dim)."""
    omega = 1.0 / 10000.0 ** (np.arange(dim // 2, dtype=np.float64) / (dim / 2.0))
    out = np.outer(pos.reshape(-1).astype(np.float64), omega)
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


def sincos_2d_position_embedding(dim: int, grid_h: int, grid_w: int) -> np.ndarray:
    """(grid_h * grid_w, dim) fixed position embedding of a row-major patch grid (MAE / DiT layout).

    The first dim/2 channels encode the column index, the last dim/2 the row index; dim % 4 == 0.
    """
    if dim % 4:
        raise ValueError(f"hidden_size={dim} must be divisible by 4 for the 2-D sin-cos position embedding")
    rows, cols = np.meshgrid(np.arange(grid_h), np.arange(grid_w), indexing="ij")
    return np.concatenate([_sincos_1d(dim // 2, cols), _sincos_1d(dim // 2, rows)], axis=1).astype(np.float32)


def _cast_floats(tree, dtype):
    return jax.tree.map(lambda a: a.astype(dtype) if eqx.is_inexact_array(a) else a, tree)


# ---------------------------------------------------------------------------------------
# modules


class TimestepEmbedder(eqx.Module):
    """Scalar c -> Linear(256, D) -> SiLU -> Linear(D, D) on the sinusoidal features of c."""

    fc1: Dense
    fc2: Dense

    def __call__(self, c: Array, dtype) -> Array:
        return self.fc2(jax.nn.silu(self.fc1(timestep_features(c).astype(dtype))))


class PatchEmbed(eqx.Module):
    """(C, H, W) -> tokens (H/p * W/p, D): a convolution with kernel = stride = p, tokens row-major."""

    weight: Float[Array, "D C p q"]
    bias: Float[Array, " D"]

    def __call__(self, x: Array) -> Array:
        p = self.weight.shape[-1]
        y = jax.lax.conv_general_dilated(x[None], self.weight, window_strides=(p, p), padding="VALID")[0]
        return y.reshape(y.shape[0], -1).T + self.bias


class DiTBlock(eqx.Module):
    """One adaLN-Zero transformer block on tokens (T, D), conditioned on silu(cond) (D,)."""

    qkv: Dense
    proj: Dense
    fc1: Dense
    fc2: Dense
    ada: Dense
    num_heads: int = eqx.field(static=True)

    def __init__(self, hidden_size: int, num_heads: int, mlp_ratio: float, *, key):
        d, m = hidden_size, int(hidden_size * mlp_ratio)
        shapes = [(3 * d, d), (d, d), (m, d), (d, m)]  # qkv, proj, fc1, fc2 as (out, in)
        w_qkv, w_proj, w_fc1, w_fc2 = _draw(key, [(s, _xavier(s[1], s[0])) for s in shapes], normal=False)
        self.qkv, self.proj, self.fc1, self.fc2 = Dense(w_qkv), Dense(w_proj), Dense(w_fc1), Dense(w_fc2)
        self.ada = Dense.zeros(d, 6 * d)
        self.num_heads = num_heads

    def attention(self, h: Array) -> Array:
        t, d = h.shape
        hd = d // self.num_heads
        qkv = self.qkv(h).reshape(t, 3, self.num_heads, hd)
        q, k, v = qkv[:, 0], qkv[:, 1], qkv[:, 2]  # (T, heads, hd)
        logits = jnp.einsum("qhd,khd->hqk", q, k, preferred_element_type=jnp.float32) / math.sqrt(hd)
        weights = jax.nn.softmax(logits, axis=-1).astype(h.dtype)
        return self.proj(jnp.einsum("hqk,khd->qhd", weights, v).reshape(t, d))

    def mlp(self, h: Array) -> Array:
        return self.fc2(jax.nn.gelu(self.fc1(h), approximate=True))

    def __call__(self, h: Array, silu_cond: Array) -> Array:
        shift1, scale1, gate1, shift2, scale2, gate2 = jnp.split(self.ada(silu_cond), 6)
        h = h + gate1 * self.attention(_modulate(_layer_norm(h), shift1, scale1))
        h = h + gate2 * self.mlp(_modulate(_layer_norm(h), shift2, scale2))
        return h


class FinalLayer(eqx.Module):
    """LN, adaLN modulation (shift, scale), Linear(D, p*p*out_channels); modulation and Linear start at zero."""

    ada: Dense
    linear: Dense

    def __call__(self, h: Array, silu_cond: Array) -> Array:
        shift, scale = jnp.split(self.ada(silu_cond), 2)
        return self.linear(_modulate(_layer_norm(h), shift, scale))


@eqx.filter_jit
def _init_parts(num_channels, patch_size, hidden_size, depth, num_heads, mlp_ratio, num_classes, out_channels, key):
    """All initial weights in one compiled program (cached per architecture), three random draws in all."""
    c, p, d = num_channels, patch_size, hidden_size
    k_uniform, k_normal, k_blocks = jr.split(key, 3)
    (w_patch,) = _draw(k_uniform, [((d, c, p, p), _xavier(c * p * p, d))], normal=False)
    w_t1, w_t2, table = _draw(
        k_normal, [((d, FREQ_DIM), 0.02), ((d, d), 0.02), ((num_classes + 1, d), 0.02)], normal=True
    )
    patch_embed = PatchEmbed(w_patch, jnp.zeros((d,)))
    t_embed = TimestepEmbedder(Dense(w_t1), Dense(w_t2))
    label_embed = eqx.nn.Embedding(weight=table)
    blocks = eqx.filter_vmap(lambda k: DiTBlock(d, num_heads, mlp_ratio, key=k))(jr.split(k_blocks, depth))
    final = FinalLayer(Dense.zeros(d, 2 * d), Dense.zeros(d, p * p * out_channels))
    return patch_embed, t_embed, label_embed, blocks, final


class DiT(eqx.Module):
    """Diffusion Transformer (adaLN-Zero) on one image x (C, H, W) with a scalar noise condition c.

    See the module docstring for the architecture. `blocks` is a single `DiTBlock` whose arrays
    carry a leading `depth` axis; it is run by `jax.lax.scan`.
    """

    patch_embed: PatchEmbed
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
    remat: bool = eqx.field(static=True)
    unroll: int = eqx.field(static=True)
    compute_dtype: str = eqx.field(static=True)

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
        remat: bool = False,
        unroll: int | bool = 1,
        compute_dtype="float32",
        key,
    ):
        size = (image_size, image_size) if isinstance(image_size, int | np.integer) else tuple(image_size)
        if len(size) != 2 or any(int(s) < 1 for s in size):
            raise ValueError(f"image_size must be a positive int or (H, W), got {image_size!r}")
        size = (int(size[0]), int(size[1]))
        for name, value in (
            ("num_channels", num_channels),
            ("patch_size", patch_size),
            ("hidden_size", hidden_size),
            ("depth", depth),
            ("num_heads", num_heads),
        ):
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if size[0] % patch_size or size[1] % patch_size:
            raise ValueError(f"patch_size={patch_size} must divide image_size={image_size}")
        if hidden_size % num_heads:
            raise ValueError(f"num_heads={num_heads} must divide hidden_size={hidden_size}")
        if hidden_size % 4:
            raise ValueError(f"hidden_size={hidden_size} must be divisible by 4 (2-D sin-cos position embedding)")
        if not mlp_ratio > 0 or int(hidden_size * mlp_ratio) < 1:
            raise ValueError(f"mlp_ratio must be positive, got {mlp_ratio!r}")
        if isinstance(num_classes, bool) or not isinstance(num_classes, int | np.integer) or num_classes < 0:
            raise ValueError(f"num_classes must be a non-negative integer, got {num_classes!r}")
        if not 0.0 <= class_dropout <= 1.0:
            raise ValueError(f"class_dropout must lie in [0, 1], got {class_dropout!r}")
        if unroll is not True and (isinstance(unroll, bool) or not isinstance(unroll, int | np.integer) or unroll < 1):
            raise ValueError(f"unroll must be a positive integer or True, got {unroll!r}")
        dtype_name = jnp.dtype(compute_dtype).name if not isinstance(compute_dtype, str) else compute_dtype
        if dtype_name not in COMPUTE_DTYPES:
            raise ValueError(f"compute_dtype={compute_dtype!r} is not one of {', '.join(map(repr, COMPUTE_DTYPES))}")

        out_channels = 2 * num_channels if learn_sigma else num_channels
        parts = _init_parts(
            int(num_channels), int(patch_size), int(hidden_size), int(depth), int(num_heads), float(mlp_ratio),
            int(num_classes), out_channels, key,
        )  # fmt: skip
        self.patch_embed, self.t_embed, self.label_embed, self.blocks, self.final = parts

        self.image_size = size
        self.num_channels = int(num_channels)
        self.patch_size = int(patch_size)
        self.hidden_size = int(hidden_size)
        self.depth = int(depth)
        self.num_heads = int(num_heads)
        self.mlp_ratio = float(mlp_ratio)
        self.num_classes = int(num_classes)
        self.class_dropout = float(class_dropout)
        self.learn_sigma = bool(learn_sigma)
        self.remat = bool(remat)
        self.unroll = depth if unroll is True else int(unroll)
        self.compute_dtype = dtype_name

    @property
    def out_channels(self) -> int:
        return 2 * self.num_channels if self.learn_sigma else self.num_channels

    @property
    def null_class(self) -> int:
        """Index of the null (unconditional) label: num_classes."""
        return self.num_classes

    def _label(self, label, key) -> Array:
        """The label actually embedded: None -> null class; with a key, dropped to the null class w.p. class_dropout."""
        if label is None:
            return jnp.asarray(self.num_classes, jnp.int32)
        label = jnp.asarray(label, jnp.int32)
        if key is not None and self.class_dropout > 0:
            drop = jr.bernoulli(key, self.class_dropout)
            label = jnp.where(drop, self.num_classes, label)
        return label

    def _forward(self, x, c, key, label) -> Array:
        # One compiled program per architecture even when called eagerly (a bare lax.scan would
        # recompile on every eager call); inside an outer jit / vmap / grad this is simply inlined.
        if label is not None and self.num_classes == 0:
            raise ValueError("label was given but this DiT has num_classes=0 (unconditional)")
        c = jnp.asarray(c, jnp.float32)
        label = None if label is None else jnp.asarray(label, jnp.int32)
        return _forward_compiled(self, x, c, key, label)

    def _forward_impl(self, x: Array, c: Array, key, label) -> Array:
        expected = (self.num_channels, *self.image_size)
        if tuple(x.shape) != expected:
            raise ValueError(f"x must have shape (C, H, W) = {expected}, got {tuple(x.shape)}")
        dtype = jnp.dtype(self.compute_dtype)
        net = _cast_floats(self, dtype) if dtype != jnp.float32 else self
        p = self.patch_size
        gh, gw = self.image_size[0] // p, self.image_size[1] // p

        # tokens: (T, D), row-major over the patch grid, plus the fixed position embedding
        h = net.patch_embed(x.astype(dtype))  # (gh * gw, D)
        h = h + jnp.asarray(sincos_2d_position_embedding(self.hidden_size, gh, gw), dtype)

        cond = net.t_embed(c, dtype) + net.label_embed(self._label(label, key))
        silu_cond = jax.nn.silu(cond)

        params, static = eqx.partition(net.blocks, eqx.is_array)

        def body(carry, block_params):
            return eqx.combine(block_params, static)(carry, silu_cond), None

        if self.remat:
            body = jax.checkpoint(body)
        h, _ = jax.lax.scan(body, h, params, unroll=self.unroll)

        out = net.final(h, silu_cond)  # (T, p * p * out_channels), each token ordered (p, q, channel)
        out = out.reshape(gh, gw, p, p, self.out_channels)
        out = jnp.einsum("hwpqc->chpwq", out).reshape(self.out_channels, gh * p, gw * p)
        return out.astype(jnp.float32)

    def __call__(
        self,
        x: Float[Array, " C H W"],
        c: Real[ArrayLike, ""],
        *,
        key=None,
        label: Int[ArrayLike, ""] | None = None,
    ) -> Float[Array, " C H W"]:
        """Prediction shaped like x (the first C output channels when learn_sigma)."""
        return self._forward(x, c, key, label)[: self.num_channels]

    def forward_with_variance(
        self,
        x: Float[Array, " C H W"],
        c: Real[ArrayLike, ""],
        *,
        key=None,
        label: Int[ArrayLike, ""] | None = None,
    ) -> Float[Array, " C2 H W"]:
        """All 2C output channels of a learn_sigma model: [prediction (C), variance interpolation values (C)]."""
        if not self.learn_sigma:
            raise ValueError("forward_with_variance needs learn_sigma=True")
        return self._forward(x, c, key, label)


_forward_compiled = eqx.filter_jit(DiT._forward_impl)

# ---------------------------------------------------------------------------------------
# registry


@register("dit")
def _build_dit(cfg, key):
    """DiT from a model config: image_size, num_channels, patch_size, and either `preset` ('S'|'B'|'L'|'XL',
    optionally 'S/2') or hidden_size, depth, num_heads (explicit fields override the preset);
    optional mlp_ratio, class_dropout, num_classes, learn_sigma, remat, unroll, compute_dtype."""
    get = cfg.get if hasattr(cfg, "get") else lambda k, d=None: getattr(cfg, k, d)
    arch = {}
    preset = get("preset", None)
    if preset is not None:
        arch.update(dit_preset(preset))
    for field in ("patch_size", "hidden_size", "depth", "num_heads"):
        value = get(field, None)
        if value is not None:
            arch[field] = value
        elif field not in arch:
            arch[field] = require(cfg, field)  # raises, naming the field
    dtype = get("compute_dtype", "float32")
    if dtype not in COMPUTE_DTYPES:
        raise ValueError(f"model.compute_dtype={dtype!r} is not one of {', '.join(map(repr, COMPUTE_DTYPES))}")
    return DiT(
        require(cfg, "image_size"),
        require(cfg, "num_channels"),
        patch_size=arch["patch_size"],
        hidden_size=arch["hidden_size"],
        depth=arch["depth"],
        num_heads=arch["num_heads"],
        mlp_ratio=get("mlp_ratio", 4.0),
        num_classes=get("num_classes", 0),
        class_dropout=get("class_dropout", 0.1),
        learn_sigma=get("learn_sigma", False),
        remat=get("remat", False),
        unroll=get("unroll", 1),
        compute_dtype=dtype,
        key=key,
    )
