"""Registry entries: read a model config and construct the backbone."""

from ._mlp import MLP
from ._registry import register, require


@register("mlp")
def _mlp(cfg, key):
    return MLP(
        require(cfg, "dim"),
        width=cfg.get("width", 256),
        depth=cfg.get("depth", 3),
        emb_dim=cfg.get("emb_dim", 64),
        num_classes=cfg.get("num_classes", 0),
        dropout=cfg.get("dropout", 0.0),
        key=key,
    )
