"""Weight maps of ermongroup/ncsn's `CondRefineNetDilated` and ermongroup/ncsnv2's `NCSNv2` state_dicts.

Names follow the reference modules: begin_conv, res1..res4 (conv1, conv2, normalize1, normalize2,
shortcut; a ConvMeanPool wraps its conv as `.conv`), refine1..refine4 (adapt_convs.<i>, msf.convs /
msf.norms, crp.convs / crp.norms, output_convs; RCU convs and norms are `<block>_<stage>_conv` /
`_norm`), normalizer, end_conv. InstanceNorm++ has alpha, gamma, beta; the conditional one an
`embed.weight` table (levels, 3 C).
"""

from ..nets import CondRefineNetDilated, NCSNv2
from ..nets._refinenet_blocks import RCUBlock, RefineBlock, ResidualBlock
from ..nets.layers import ConditionalInstanceNormPlus, Conv2d, InstanceNormPlus
from ._assign import Slot


def _conv(c: Conv2d, name: str) -> list[Slot]:
    return [Slot(f"{name}.weight", c.weight)] + ([Slot(f"{name}.bias", c.bias)] if c.bias is not None else [])


def _norm(n, name: str) -> list[Slot]:
    if isinstance(n, ConditionalInstanceNormPlus):
        return [Slot(f"{name}.embed.weight", n.embed)]
    assert isinstance(n, InstanceNormPlus)
    return [Slot(f"{name}.alpha", n.alpha), Slot(f"{name}.gamma", n.gamma), Slot(f"{name}.beta", n.beta)]


def _residual(b: ResidualBlock, name: str) -> list[Slot]:
    out = _conv(b.conv1, f"{name}.conv1") + _conv(b.conv2, f"{name}.conv2.conv" if b.pool else f"{name}.conv2")
    out += _norm(b.norm1, f"{name}.normalize1") + _norm(b.norm2, f"{name}.normalize2")
    if b.shortcut is not None:
        out += _conv(b.shortcut, f"{name}.shortcut.conv" if b.pool else f"{name}.shortcut")
    return out


def _rcu(r: RCUBlock, name: str) -> list[Slot]:
    out = []
    for i in range(r.n_blocks):
        for j in range(r.n_stages):
            k = i * r.n_stages + j
            out += _conv(r.convs[k], f"{name}.{i + 1}_{j + 1}_conv")
            if r.norms is not None:
                out += _norm(r.norms[k], f"{name}.{i + 1}_{j + 1}_norm")
    return out


def _refine(b: RefineBlock, name: str) -> list[Slot]:
    out = []
    for i, rcu in enumerate(b.adapt):
        out += _rcu(rcu, f"{name}.adapt_convs.{i}")
    if b.msf is not None:
        for i, c in enumerate(b.msf.convs):
            out += _conv(c, f"{name}.msf.convs.{i}")
        for i, n in enumerate(b.msf.norms or ()):
            out += _norm(n, f"{name}.msf.norms.{i}")
    for i, c in enumerate(b.crp.convs):
        out += _conv(c, f"{name}.crp.convs.{i}")
    for i, n in enumerate(b.crp.norms or ()):
        out += _norm(n, f"{name}.crp.norms.{i}")
    return out + _rcu(b.out, f"{name}.output_convs")


def slots(net) -> list[Slot]:
    if not isinstance(net, CondRefineNetDilated | NCSNv2):
        raise ValueError(f"the RefineNet maps need a CondRefineNetDilated or NCSNv2, got {type(net).__name__}")
    body = net.body
    out = _conv(body.begin_conv, "begin_conv")
    for s, stage in enumerate((body.res1, body.res2, body.res3, body.res4), start=1):
        for i, block in enumerate(stage):
            out += _residual(block, f"res{s}.{i}")
    for s, block in enumerate((body.refine1, body.refine2, body.refine3, body.refine4), start=1):
        out += _refine(block, f"refine{s}")
    return out + _norm(body.norm, "normalizer") + _conv(body.end_conv, "end_conv")


def unused(key: str) -> bool:
    """NCSNv2 keeps its noise ladder as a `sigmas` buffer; ours takes sigma as the condition."""
    return key == "sigmas"
