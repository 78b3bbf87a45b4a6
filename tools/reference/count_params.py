"""Parameter counts of the reference implementations at their CIFAR-10 configs (-> tests/data/reference/).

    /tmp/ref/bin/python tools/reference/count_params.py     (REFERENCE_SRC=/tmp/src by default)

Counts every parameter (`model.parameters()`, trainable or not: NCSN++'s fixed Fourier table and DiT's
fixed position table included; buffers excluded), keyed by our configs/models file that matches it.
"""

import json
import sys
import types

import torch
import torch.utils.cpp_extension
from common import OUT, commit_of, torchvision_models_only, use_reference

torch.utils.cpp_extension.load = lambda *args, **kwargs: None


def n(model) -> int:
    return sum(p.numel() for p in model.parameters())


def score_sde_pytorch() -> dict:
    use_reference("score_sde_pytorch")
    from configs.subvp import cifar10_ddpmpp_deep_continuous as subvp_deep
    from configs.ve import cifar10_ncsnpp_continuous as ve
    from configs.ve import cifar10_ncsnpp_deep_continuous as ve_deep
    from configs.vp import cifar10_ddpmpp_continuous as vp
    from configs.vp.ddpm import cifar10 as ddpm
    from models import ddpm as _d  # noqa: F401
    from models import utils as mutils

    out = {}
    for ours, module in (("ncsnpp_cifar", ve), ("ncsnpp_deep_cifar", ve_deep), ("ddpmpp_cifar", vp),
                         ("ddpmpp_deep_cifar", subvp_deep), ("ddpm_cifar", ddpm)):  # fmt: skip
        cfg = module.get_config()
        cfg.device = torch.device("cpu")
        model = mutils.get_model(cfg.model.name)(cfg)
        out[ours] = dict(reference=f"score_sde_pytorch {module.__name__}", params=n(model))
    for mod in [m for m in sys.modules if m == "models" or m.startswith(("models.", "configs"))]:
        del sys.modules[mod]
    sys.path.pop(0)
    return out


def ermongroup() -> dict:
    use_reference("ncsn")
    from models.cond_refinenet_dilated import CondRefineNetDilated

    ns = types.SimpleNamespace
    v1 = CondRefineNetDilated(ns(data=ns(logit_transform=False, channels=3, image_size=32),
                                 model=ns(ngf=128, num_classes=10)))  # fmt: skip
    out = {"ncsn_cifar": dict(reference="ermongroup/ncsn CondRefineNetDilated (anneal.yml CIFAR-10)", params=n(v1))}
    for mod in [m for m in sys.modules if m == "models" or m.startswith("models.")]:
        del sys.modules[mod]
    sys.path.pop(0)
    use_reference("ncsnv2")
    from models.ncsnv2 import NCSNv2

    cfg = ns(data=ns(logit_transform=False, rescaled=False, channels=3, image_size=32),
             model=ns(ngf=128, num_classes=232, nonlinearity="elu", normalization="InstanceNorm++", sigma_begin=50,
                      sigma_end=0.01, sigma_dist="geometric"), device=torch.device("cpu"))  # fmt: skip
    out["ncsnv2_cifar"] = dict(reference="ermongroup/ncsnv2 NCSNv2 (configs/cifar10.yml)", params=n(NCSNv2(cfg)))
    for mod in [m for m in sys.modules if m == "models" or m.startswith("models.")]:
        del sys.modules[mod]
    sys.path.pop(0)
    return out


def dit() -> dict:
    torchvision_models_only()
    use_reference("DiT")
    from models import DiT

    model = DiT(input_size=32, patch_size=2, in_channels=3, hidden_size=384, depth=12, num_heads=6, num_classes=10,
                learn_sigma=False)  # fmt: skip
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"dit_cifar": dict(reference="facebookresearch/DiT DiT-S/2, 32x32x3, 10 classes", params=trainable)}


if __name__ == "__main__":
    counts = {**score_sde_pytorch(), **ermongroup(), **dit()}
    commits = {r: commit_of(r) for r in ("score_sde_pytorch", "ncsn", "ncsnv2", "DiT")}
    path = OUT / "param_counts.json"
    path.write_text(json.dumps(dict(commits=commits, counts=counts), indent=1) + "\n")
    for name, c in counts.items():
        print(f"{name:22s} {c['params']:>12,}  {c['reference']}")
