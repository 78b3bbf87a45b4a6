"""scikit-learn's 8x8 digits with a small DDPM++ U-Net on the VP SDE: the README demo.

    python projects/ncsn/main.py --config=configs/digits.py --workdir=runs/digits
    python projects/ncsn/main.py --config=configs/digits.py --workdir=runs/digits --mode=sample

Trains in about 80 s on an idle 2-core CPU (2000 steps of a 0.2 M-parameter U-Net, 13 s of it compiling) and
writes a grid of samples every snapshot_every steps to runs/digits/snapshots/ (digit-like by the end).
"""

from configs.base import base_config
from configs.models import ddpmpp_cifar


def get_config():
    c = base_config()
    c.data.name = "digits"
    c.data.image_size = 8
    c.data.num_channels = 1
    c.data.centered = True
    c.sde.name = "vp"
    c.model = ddpmpp_cifar.get_config()
    c.model.nf = 16
    c.model.ch_mult = (1, 2)
    c.model.num_res_blocks = 1
    c.model.attn_resolutions = ()
    c.model.dropout = 0.0
    c.model.ema_rate = 0.99
    c.training.batch_size = 64
    c.training.n_steps = 2000
    c.training.log_every = 100
    c.training.checkpoint_every = 500
    c.training.snapshot_every = 1000
    c.training.snapshot_samples = 64
    c.training.eval_every = 100
    c.optim.lr = 2e-3
    c.optim.warmup = 100
    c.sampling.method = "dpm_solver"
    c.sampling.dpm_solver.n_steps = 30
    c.sampling.n_samples = 100
    c.sampling.batch_size = 104
    c.eval.n_samples = 360
    c.eval.bpd_batches = 1
    c.eval.classifier_path = "runs/digits_classifier.eqx"
    return c
