"""CIFAR-10 with NCSN++ on the VE SDE, continuous DSM: score_sde's configs/ve/cifar10_ncsnpp_continuous.py.

    python projects/ncsn/main.py --config=configs/cifar.py --workdir=runs/cifar \
        --config.data.path=/path/to/cifar-10-python.tar.gz

batch 128, Adam 2e-4 with 5000 warm-up steps, grad clip 1, EMA 0.999, 1.3M steps; PC sampling
(reverse diffusion + Langevin, snr 0.16, 1000 steps). Reference FID 2.20 (deep: 2.20, IS 9.89).
"""

from configs.base import base_config
from configs.models import ncsnpp_cifar


def get_config():
    c = base_config()
    c.data.name = "cifar10"
    c.data.path = ""  # --config.data.path=.../cifar-10-python.tar.gz (or the extracted folder)
    c.data.image_size = 32
    c.data.num_channels = 3
    c.data.centered = False  # score_sde's VE models see [0, 1] data
    c.data.random_flip = True
    c.sde.name = "ve"
    c.sde.sigma_min, c.sde.sigma_max = 0.01, 50.0
    c.model = ncsnpp_cifar.get_config()
    c.model.ema_rate = 0.999
    c.training.loss = "dsm"
    c.training.batch_size = 128
    c.training.n_steps = 1_300_001
    c.training.log_every = 50
    c.training.checkpoint_every = 10_000
    c.training.snapshot_every = 10_000
    c.optim.lr, c.optim.warmup, c.optim.grad_clip = 2e-4, 5000, 1.0
    c.sampling.method = "pc"
    c.sampling.pc.predictor, c.sampling.pc.corrector, c.sampling.pc.snr = "reverse_diffusion", "langevin", 0.16
    c.sampling.pc.n_steps = 1000
    c.sampling.batch_size = 128
    c.sampling.n_samples = 128
    c.eval.n_samples = 50_000
    return c
