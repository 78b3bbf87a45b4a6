"""CIFAR-10 with NCSN v1 (Song & Ermon 2019): RefineNet, 10 discrete sigmas 1 -> 0.01, annealed Langevin.

    python projects/ncsn/main.py --config=configs/cifar_ncsn.py --workdir=runs/cifar_ncsn \
        --config.data.path=/path/to/cifar-10-python.tar.gz

batch 128, Adam 1e-3, 200k steps; sampling: 100 steps per level, step_lr 2e-5. Reference FID 25.32, IS 8.87.
"""

from configs import cifar
from configs.models import ncsn_cifar


def get_config():
    c = cifar.get_config()
    c.data.centered = False
    c.data.random_flip = True
    c.model = ncsn_cifar.get_config()
    c.model.ema_rate = 0.999
    c.sde.sigma_max, c.sde.sigma_min, c.sde.num_scales = c.model.sigma_max, c.model.sigma_min, c.model.num_scales
    c.training.loss = "ncsn"
    c.training.n_steps = 200_001
    c.optim.lr, c.optim.warmup, c.optim.grad_clip = 1e-3, 0, 0.0
    c.sampling.method = "annealed_langevin"
    al = c.sampling.annealed_langevin
    al.n_steps_each, al.step_lr, al.denoise = 100, 2e-5, False
    c.eval.bpd = False
    return c
