"""Every run config builds its backbone (abstractly) and names a known loss and sampler."""

import importlib

import pytest

from projects.ncsn import components, sampling

RUN_CONFIGS = ["toy2d", "digits", "cifar", "cifar_ddpmpp", "cifar_ncsn", "cifar_dit"]


@pytest.mark.parametrize("name", RUN_CONFIGS)
def test_config_builds(name):
    cfg = importlib.import_module(f"configs.{name}").get_config()
    assert cfg.training.loss in components.LOSSES
    sampling.check_method(cfg)
    n_params = components.check_model(cfg)
    assert n_params > 1000


def test_cifar_configs_match_score_sde_sizes():
    counts = {
        n: components.check_model(importlib.import_module(f"configs.{n}").get_config())
        for n in ("cifar", "cifar_ddpmpp")
    }
    assert abs(counts["cifar"] / 62.76e6 - 1) < 0.02
    assert abs(counts["cifar_ddpmpp"] / 61.80e6 - 1) < 0.02
