"""2-D toy data (25 Gaussians by default) with an MLP score model; DSM on a VP SDE.

python projects/ncsn/main.py --config=configs/toy2d.py --workdir=runs/toy2d
--config.data.toy=swissroll     other toys: 8gaussians, moons, rings, two_modes
--config.training.loss=ssm_vr --config.sampling.method=langevin   sliced score matching
"""

from configs.base import base_config


def get_config():
    c = base_config()
    c.data.name = "toy2d"
    c.data.toy = "25gaussians"
    c.data.plot_lim = 6.0
    c.model.name = "mlp"
    c.model.width = 256
    c.model.depth = 3
    c.model.parameterization = "eps"
    c.model.conditioning = "t999"
    c.model.ema_rate = 0.99
    c.training.batch_size = 256
    c.training.n_steps = 4000
    c.training.log_every = 200
    c.training.checkpoint_every = 1000
    c.training.snapshot_every = 2000
    c.training.snapshot_samples = 2000
    c.optim.lr = 2e-3
    c.optim.warmup = 100
    c.sampling.method = "pc"
    c.sampling.pc.n_steps = 500
    c.sampling.n_samples = 4000
    c.sampling.batch_size = 1000
    c.eval.n_samples = 4000
    c.eval.bpd = False
    return c
