"""Registry entries: every backbone's config fields with complete defaults, and its constructor.

The defaults are each reference's standard CIFAR-10 settings (score_sde configs/ve/cifar10_ncsnpp_
continuous.py, configs/vp/cifar10_ddpmpp_continuous.py, configs/vp/ddpm/cifar10.py; ermongroup/ncsn
configs/anneal.yml; ermongroup/ncsnv2 configs/cifar10.yml; DiT-S/2), so `model.name` alone builds a
working network and a config names only what differs. `wrapper` is how each was trained: what
`score_fn_from_config` uses when the config does not say.
"""

from ._config import Spec
from ._ddpm import DDPM
from ._dit import DiT, dit_preset
from ._gan import GANMLP, DCGANDiscriminator, DCGANGenerator
from ._mlp import MLP
from ._ncsn import CondRefineNetDilated
from ._ncsnpp import NCSNpp
from ._ncsnv2 import NCSNv2
from ._registry import register

IMAGE = ("image_size", "num_channels", "dim")  # set by callers for any backbone

NCSNPP = Spec(
    "ncsnpp",
    dict(
        image_size=None,
        num_channels=3,
        nf=128,
        ch_mult=(1, 2, 2, 2),
        num_res_blocks=4,
        attn_resolutions=(16,),
        dropout=0.1,
        resamp_with_conv=True,
        conditional=True,
        fir=True,
        fir_kernel=(1.0, 3.0, 3.0, 1.0),
        skip_rescale=True,
        resblock_type="biggan",
        progressive="none",
        progressive_input="residual",
        progressive_combine="sum",
        init_scale=0.0,
        embedding_type="fourier",
        fourier_scale=16.0,
        nonlinearity="swish",
        centered=False,
        num_classes=0,
    ),  # fmt: skip
    wrapper=dict(parameterization="scale_by_sigma", conditioning="log_sigma"),
    context=IMAGE,
)
DDPMPP = Spec(
    "ddpmpp",
    {**NCSNPP.fields, "fir": False, "progressive_input": "none", "embedding_type": "positional", "centered": True},
    wrapper=dict(parameterization="eps", conditioning="t999"),
    context=IMAGE,
)
DDPM_SPEC = Spec(
    "ddpm",
    dict(
        image_size=None,
        num_channels=3,
        nf=128,
        ch_mult=(1, 2, 2, 2),
        num_res_blocks=2,
        attn_resolutions=(16,),
        dropout=0.1,
        resamp_with_conv=True,
        nonlinearity="swish",
        centered=True,
        num_classes=0,
    ),  # fmt: skip
    wrapper=dict(parameterization="eps", conditioning="t999"),
    context=IMAGE,
)
_REFINENET = dict(
    image_size=None, num_channels=3, ngf=128, nonlinearity="elu", centered=False, normalization="InstanceNorm++",
    num_classes=0,
)  # fmt: skip
NCSN = Spec(
    "ncsn",
    {**_REFINENET, "num_scales": 10, "sigma_max": 1.0, "sigma_min": 0.01},
    wrapper=dict(parameterization="score", conditioning="sigma"),
    context=IMAGE,
    aliases={"nf": "ngf"},
)
NCSNV2 = Spec(
    "ncsnv2",
    # The ladder (232 levels, 50 -> 0.01) is for the objective and the sampler; the network divides by c.
    {**_REFINENET, "num_scales": 232, "sigma_max": 50.0, "sigma_min": 0.01},
    wrapper=dict(parameterization="score", conditioning="sigma"),
    context=IMAGE,
    aliases={"nf": "ngf"},
)
DIT = Spec(
    "dit",
    dict(
        image_size=None,
        num_channels=3,
        preset="S",
        patch_size=None,
        hidden_size=None,
        depth=None,
        num_heads=None,
        mlp_ratio=4.0,
        num_classes=0,
        class_dropout=0.1,
        learn_sigma=False,
        centered=True,
        remat=False,
        unroll=1,
    ),  # fmt: skip
    wrapper=dict(parameterization="eps", conditioning="t999"),
    context=IMAGE,
    types=dict(patch_size=int, hidden_size=int, depth=int, num_heads=int, unroll=int),
    optional=("patch_size", "hidden_size", "depth", "num_heads"),
)
MLP_SPEC = Spec(
    "mlp",
    dict(dim=None, width=256, depth=3, emb_dim=64, num_classes=0, dropout=0.0),
    wrapper=dict(parameterization="score", conditioning="t"),
    context=("image_size", "num_channels"),
)
_GAN_CONTEXT = ("in_dim", "latent_dim", "out_shape", "image_size", "num_channels")
GAN_MLP = Spec(
    "gan_mlp",
    dict(in_dim=None, out_shape=(), width=128, depth=3, activation="relu", spectral_norm=False),
    context=_GAN_CONTEXT,
)
DCGAN_G = Spec(
    "dcgan_generator",
    dict(latent_dim=None, image_size=None, num_channels=None, nf=64, n_resample=None),
    context=_GAN_CONTEXT,
    types=dict(n_resample=int, num_channels=int),
    optional=("n_resample",),
)
DCGAN_D = Spec(
    "dcgan_discriminator",
    dict(image_size=None, num_channels=None, nf=64, out_shape=(), n_resample=None, spectral_norm=False),
    context=_GAN_CONTEXT,
    types=dict(n_resample=int, num_channels=int),
    optional=("n_resample",),
)


def _image(kw: dict) -> dict:
    kw["channels"] = kw.pop("num_channels")
    return kw


@register("ncsnpp", NCSNPP)
def _ncsnpp(kw, key):
    return NCSNpp(**_image(kw), key=key)


@register("ddpmpp", DDPMPP)
def _ddpmpp(kw, key):
    return NCSNpp(**_image(kw), key=key)


@register("ddpm", DDPM_SPEC)
def _ddpm(kw, key):
    return DDPM(**_image(kw), key=key)


def _refinenet_common(kw: dict, name: str) -> dict:
    if kw.pop("num_classes"):
        raise ValueError(f"model.num_classes: model.name={name!r} is not class-conditional (set it to 0)")
    if kw.pop("normalization") != "InstanceNorm++":
        raise ValueError(f"model.normalization: model.name={name!r} has only 'InstanceNorm++'")
    kw["nonlinearity"] = kw["nonlinearity"].lower()
    return kw


@register("ncsn", NCSN)
def _ncsn(kw, key):
    kw = _refinenet_common(kw, "ncsn")
    return CondRefineNetDilated(kw.pop("num_channels"), kw.pop("image_size"), key=key, **kw)


@register("ncsnv2", NCSNV2)
def _ncsnv2(kw, key):
    kw = _refinenet_common(kw, "ncsnv2")
    for ladder in ("num_scales", "sigma_max", "sigma_min"):
        kw.pop(ladder)
    return NCSNv2(kw.pop("num_channels"), kw.pop("image_size"), key=key, **kw)


@register("dit", DIT)
def _dit(kw, key):
    arch = {"patch_size": 2, **dit_preset(kw.pop("preset"))}  # 'S' is DiT-S/2; 'B/8' names the patch too
    for field in ("patch_size", "hidden_size", "depth", "num_heads"):
        if kw.get(field) is None:  # explicit fields win over the preset
            kw[field] = arch[field]
    return DiT(kw.pop("image_size"), kw.pop("num_channels"), key=key, **kw)


@register("mlp", MLP_SPEC)
def _mlp(kw, key):
    return MLP(kw.pop("dim"), key=key, **kw)


@register("gan_mlp", GAN_MLP)
def _gan_mlp(kw, key):
    return GANMLP(kw.pop("in_dim"), tuple(int(s) for s in kw.pop("out_shape")), key=key, **kw)


@register("dcgan_generator", DCGAN_G)
def _dcgan_generator(kw, key):
    return DCGANGenerator(kw.pop("latent_dim"), channels=kw.pop("num_channels"), key=key, **kw)


@register("dcgan_discriminator", DCGAN_D)
def _dcgan_discriminator(kw, key):
    out_shape = tuple(int(s) for s in kw.pop("out_shape"))
    return DCGANDiscriminator(channels=kw.pop("num_channels"), out_shape=out_shape, key=key, **kw)
