"""Noise -> CIFAR-10 (the real path; 3x32x32 in [-1, 1]) by kernel SD flow; needs the python archive.

python projects/sdflow/main.py --config=configs/sdflow/cifar10.py --workdir=runs/sdflow_cifar --mode=flow \
    --config.target.path=/data/cifar-10-python.tar.gz
"""

from configs.sdflow.base import base_config


def get_config():
    c = base_config()
    c.source.name = "gaussian"
    c.target.name = "cifar10"
    c.target.n = 10000
    c.target.n_test = 2000
    c.flow.n_particles = 256
    c.flow.sigma_max = 50.0
    c.flow.sigma_min = 0.5
    c.flow.n_levels = 30
    c.flow.chunk_size = 512
    c.flow.query_chunk = 256
    c.eval.mmd_bandwidth = 10.0
    return c
