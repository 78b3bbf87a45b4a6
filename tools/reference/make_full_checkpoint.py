"""A full-size score_sde_pytorch checkpoint with random weights, for the import benchmark (not a test fixture).

    /tmp/ref/bin/python tools/reference/make_full_checkpoint.py OUT.pth [config]
    (config default: ve.cifar10_ncsnpp_deep_continuous)

The reference builds its CIFAR-10 model (NCSN++ deep, 107.6 M parameters), its EMA and an Adam state, and saves
them exactly as run_lib.py does ({'optimizer', 'model', 'ema', 'step'}, the model in DataParallel) after
one optimiser step; the weights are the reference's own initialisation plus small noise (so its
zero-initialised layers are not zero).
"""

import importlib
import sys

import torch
import torch.utils.cpp_extension
from common import use_reference

torch.utils.cpp_extension.load = lambda *args, **kwargs: None
use_reference("score_sde_pytorch")

from models import ncsnpp  # noqa: E402, F401
from models import utils as mutils  # noqa: E402
from models.ema import ExponentialMovingAverage  # noqa: E402


def main(out: str, config: str = "ve.cifar10_ncsnpp_deep_continuous"):
    cfg = importlib.import_module(f"configs.{config}").get_config()
    cfg.device = torch.device("cpu")
    torch.manual_seed(0)
    model = torch.nn.DataParallel(mutils.get_model(cfg.model.name)(cfg))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1e-3 * torch.randn_like(p))
    ema = ExponentialMovingAverage(model.parameters(), decay=cfg.model.ema_rate)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.optim.lr)
    x, t = torch.rand(1, 3, 32, 32), torch.tensor([1.0])
    model(x, t).square().mean().backward()
    optimizer.step()  # so the file holds Adam's moments, as a released checkpoint does
    ema.update(model.parameters())
    saved = {"optimizer": optimizer.state_dict(), "model": model.state_dict(), "ema": ema.state_dict(), "step": 0}
    torch.save(saved, out)
    print(f"wrote {out}: {sum(p.numel() for p in model.parameters()):,} parameters ({config})")


if __name__ == "__main__":
    main(*sys.argv[1:])
