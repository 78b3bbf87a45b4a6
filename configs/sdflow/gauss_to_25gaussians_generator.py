"""N(0, I) -> 25 Gaussians as a one-step sampler: train G(z) by regressing onto SD-flow-updated points.

python projects/sdflow/main.py --config=configs/sdflow/gauss_to_25gaussians_generator.py --workdir=runs/sg --mode=train
python projects/sdflow/main.py --config=configs/sdflow/gauss_to_25gaussians_generator.py --workdir=runs/sg --mode=flow
"""

from configs.sdflow.base import base_config


def get_config():
    c = base_config()
    c.source.name = "gaussian"
    c.target.name = "25gaussians"
    c.flow.method = "generator"
    c.flow.n_levels = 10
    c.flow.eta = 1.0
    c.optim.lr = 1e-3
    c.optim.warmup = 0
    return c
