"""N(0, I) -> Swiss roll by kernel SD flow."""

from configs.sdflow.base import base_config


def get_config():
    c = base_config()
    c.source.name = "gaussian"
    c.target.name = "swissroll"
    c.flow.sigma_max = 3.0
    return c
