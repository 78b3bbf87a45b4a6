"""Weight map of facebookresearch/DiT's `DiT` state_dict onto `nets.DiT` (blocks stacked along axis 0).

x_embedder.proj (the patch conv), t_embedder.mlp.0 / .2, y_embedder.embedding_table, blocks.<i>.attn.qkv
/ .proj, blocks.<i>.mlp.fc1 / .fc2, blocks.<i>.adaLN_modulation.1, final_layer.linear and
final_layer.adaLN_modulation.1. `pos_embed` is the fixed sin-cos table, computed rather than stored here.
"""

from ..nets import DiT
from ._assign import Slot


def _linear(d, name: str, index=None) -> list[Slot]:
    return [Slot(f"{name}.weight", d.weight, index=index), Slot(f"{name}.bias", d.bias, index=index)]


def slots(net: DiT) -> list[Slot]:
    if not isinstance(net, DiT):
        raise ValueError(f"the DiT map needs a DiT network, got {type(net).__name__}")
    out = [Slot("x_embedder.proj.weight", net.patch_embed.weight), Slot("x_embedder.proj.bias", net.patch_embed.bias)]
    out += _linear(net.t_embed.fc1, "t_embedder.mlp.0") + _linear(net.t_embed.fc2, "t_embedder.mlp.2")
    out.append(Slot("y_embedder.embedding_table.weight", net.label_embed.weight))
    b = net.blocks
    for i in range(net.depth):
        p = f"blocks.{i}"
        out += _linear(b.attn.qkv, f"{p}.attn.qkv", i) + _linear(b.attn.proj, f"{p}.attn.proj", i)
        out += _linear(b.fc1, f"{p}.mlp.fc1", i) + _linear(b.fc2, f"{p}.mlp.fc2", i)
        out += _linear(b.ada, f"{p}.adaLN_modulation.1", i)
    return (
        out + _linear(net.final.linear, "final_layer.linear") + _linear(net.final.ada, "final_layer.adaLN_modulation.1")
    )


def unused(key: str) -> bool:
    return key == "pos_embed"
