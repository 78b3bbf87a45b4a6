"""Fixtures from facebookresearch/DiT (models.py `DiT`, with timm's PatchEmbed / Attention / Mlp), run as it is
on random weights (its zero-initialised adaLN and output layers included), plus a small checkpoint in
train.py's format ({'model', 'ema', 'opt', 'args'}).

    /tmp/ref/bin/python tools/reference/make_dit.py     (REFERENCE_SRC=/tmp/src by default; needs timm)
"""

import argparse

import torch
from common import OUT, random_weights, save_case, torchvision_models_only, use_reference

torchvision_models_only()  # timm imports torchvision's Python modules; its compiled ops do not load here
use_reference("DiT")

from models import DiT  # noqa: E402

REPO = "facebookresearch/DiT"


def randomize(model, seed):
    state = model.state_dict()
    params = {k for k, p in model.named_parameters() if p.requires_grad}
    keys = [k for k in state if k in params]
    weights, offsets, scales = random_weights([(k, tuple(state[k].shape)) for k in keys], seed)
    model.load_state_dict({k: (torch.from_numpy(weights[k]) if k in weights else v) for k, v in state.items()})
    buffers = {k: v.numpy() for k, v in state.items() if k not in params}  # pos_embed: the fixed sin-cos table
    return dict(keys=keys, shapes=[state[k].shape for k in keys], offsets=offsets, scales=scales,
                weights=weights, buffers=buffers)  # fmt: skip


def case(name, seed, *, size, channels, patch, hidden, depth, heads, classes, learn_sigma, mlp_ratio=4.0):
    torch.manual_seed(seed)
    model = DiT(input_size=size, patch_size=patch, in_channels=channels, hidden_size=hidden, depth=depth,
                num_heads=heads, mlp_ratio=mlp_ratio, class_dropout_prob=0.1, num_classes=classes,
                learn_sigma=learn_sigma).eval()  # fmt: skip
    record = randomize(model, seed)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(3, channels, size, size, generator=g)
    t = torch.tensor([0.0, 17.5, 999.0])
    y = torch.tensor([0, classes - 1, classes])  # the last is the null class (classifier-free guidance)
    with torch.no_grad():
        out = model(x, t, y).numpy()
    our = dict(name="dit", image_size=size, num_channels=channels, patch_size=patch, hidden_size=hidden, depth=depth,
               num_heads=heads, mlp_ratio=mlp_ratio, num_classes=classes, class_dropout=0.1, learn_sigma=learn_sigma,
               centered=True, parameterization="eps", conditioning="t999")  # fmt: skip
    save_case("dit", name, repo=REPO, model="DiT", config=our, seed=seed,
              inputs=dict(x=x.numpy(), t=t.numpy(), y=y.numpy()), outputs=dict(net=out),
              params_theirs=sum(p.numel() for p in model.parameters() if p.requires_grad), **record)  # fmt: skip
    return model


if __name__ == "__main__":
    case("dit_learn_sigma", 81, size=8, channels=3, patch=2, hidden=32, depth=2, heads=2, classes=3, learn_sigma=True)
    case("dit_patch4_1ch", 82, size=16, channels=1, patch=4, hidden=48, depth=3, heads=3, classes=5, learn_sigma=False,
         mlp_ratio=2.0)  # fmt: skip
    # a checkpoint as train.py saves it
    model = case("checkpoint_dit_8px", 83, size=8, channels=4, patch=2, hidden=16, depth=1, heads=2, classes=2,
                 learn_sigma=True)  # fmt: skip
    ema = DiT(input_size=8, patch_size=2, in_channels=4, hidden_size=16, depth=1, num_heads=2, num_classes=2)
    ema.load_state_dict(model.state_dict())
    raw = {k: v * 0.5 for k, v in model.state_dict().items()}  # the raw weights differ from the EMA
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0)
    args = argparse.Namespace(model="DiT-tiny", image_size=64, num_classes=2, global_batch_size=8, epochs=1)
    torch.save({"model": raw, "ema": ema.state_dict(), "opt": opt.state_dict(), "args": args},
               OUT / "dit" / "checkpoint_dit_8px.pt")  # fmt: skip
    print("wrote tests/data/reference/dit/checkpoint_dit_8px.pt")
