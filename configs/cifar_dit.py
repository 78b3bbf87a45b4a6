"""CIFAR-10 with a DiT-S/2 backbone on the VP SDE (DDPM eps-prediction through the score wrapper).

    python projects/ncsn/main.py --config=configs/cifar_dit.py --workdir=runs/cifar_dit \
        --config.data.path=/path/to/cifar-10-python.tar.gz
    --config.model.patch_size=4    DiT-S/4: 4x fewer FLOPs per step
"""

from configs import cifar_ddpmpp
from configs.models import dit_cifar


def get_config():
    c = cifar_ddpmpp.get_config()
    c.model = dit_cifar.get_config()
    c.model.ema_rate = 0.9999
    c.optim.lr, c.optim.warmup = 1e-4, 5000
    return c
