"""Model configs with every backbone's fields present, so any field can be set on the command line.

`model_config(name, **values)` names the backbone and the values that differ from its standard
settings; every other field of every registered backbone is a typed placeholder (None: the chosen
backbone's default). So `--config.model.name=dit --config.model.patch_size=4` works on any image
config, and a field the chosen backbone does not have is refused by `nets.build` with the valid ones.
"""

from ml_collections import ConfigDict
from ml_collections.config_dict import placeholder

from scoresde import nets

# Read by the training and sampling code for every backbone (not by nets.build).
RUN_FIELDS = {"parameterization": str, "conditioning": str, "compute_dtype": str, "ema_rate": float}


def model_config(name: str, **values) -> ConfigDict:
    m = ConfigDict()
    for field, kind in sorted({**nets.config_fields(), **RUN_FIELDS}.items()):
        m[field] = placeholder(kind)
    m.name = name
    for field, value in values.items():
        m[field] = value
    return m
