"""CIFAR-10 with DDPM++ on the VP SDE, continuous DSM: score_sde's configs/vp/cifar10_ddpmpp_continuous.py.

    python projects/ncsn/main.py --config=configs/cifar_ddpmpp.py --workdir=runs/cifar_ddpmpp \
        --config.data.path=/path/to/cifar-10-python.tar.gz
    --config.sde.name=subvp --config.training.likelihood_weighting=True   for the likelihood models

Centred data, EMA 0.9999, PC sampling (reverse diffusion + Langevin, snr 0.16) or the PF-ODE.
"""

from configs import cifar
from configs.models import ddpmpp_cifar


def get_config():
    c = cifar.get_config()
    c.data.centered = True
    c.sde.name = "vp"
    c.model = ddpmpp_cifar.get_config()
    c.model.ema_rate = 0.9999
    c.sampling.pc.snr = 0.01
    return c
