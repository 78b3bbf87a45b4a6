"""N(0, I) -> 25 Gaussians by kernel SD flow (both proxies from samples).

python projects/sdflow/main.py --config=configs/sdflow/gauss_to_25gaussians.py --workdir=runs/sdflow_25g --mode=flow
--config.proxy.target=exact     the oracle's mixture score for the target
--config.proxy.target=learned --config.proxy.source=learned   score networks (run --mode=train first)
"""

from configs.sdflow.base import base_config


def get_config():
    c = base_config()
    c.source.name = "gaussian"
    c.target.name = "25gaussians"
    c.flow.sigma_max = 4.0  # twice the grid spacing: the modes' weights settle while p_sigma is still unimodal
    return c
