"""2-D Swiss roll with a WGAN-GP of MLPs; refine by DGflow in the 2-D latent space.

python projects/dgflow/main.py --config=configs/dgflow/swissroll.py --workdir=runs/dgflow_swissroll --mode=train
"""

from configs.dgflow.grid25 import get_config as grid25


def get_config():
    c = grid25()
    c.data.toy, c.data.plot_lim = "swissroll", 5.0
    c.refine.eta = 0.003
    return c
