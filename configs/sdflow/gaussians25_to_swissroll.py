"""25 Gaussians -> Swiss roll: SD flow between two arbitrary sample sets (no Gaussian on either side)."""

from configs.sdflow.base import base_config


def get_config():
    c = base_config()
    c.source.name = "25gaussians"
    c.target.name = "swissroll"
    c.flow.sigma_max = 3.0
    return c
