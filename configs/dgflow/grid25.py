"""25 Gaussians (5x5 grid, std 0.05) with a WGAN-GP of MLPs; refine by DGflow in the 2-D latent space.

python projects/dgflow/main.py --config=configs/dgflow/grid25.py --workdir=runs/dgflow_grid25 --mode=train
python projects/dgflow/main.py --config=configs/dgflow/grid25.py --workdir=runs/dgflow_grid25 --mode=refine
python projects/dgflow/main.py --config=configs/dgflow/grid25.py --workdir=runs/dgflow_grid25 --mode=eval
"""

from configs.dgflow.base import base_config


def get_config():
    c = base_config()
    c.data.name, c.data.toy, c.data.plot_lim = "toy2d", "25gaussians", 5.5
    c.model.latent_dim = 2
    c.gan.loss, c.gan.n_critic, c.gan.gp_weight = "wgan_gp", 5, 0.1
    c.training.n_steps = 4000
    c.refine.eta, c.refine.gamma, c.refine.n_steps, c.refine.ddls_eta = 0.002, 0.01, 25, 0.01
    return c
