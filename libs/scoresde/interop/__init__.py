"""Released checkpoints as the library's networks: torch- and flax-free readers and exact weight maps.

`load_checkpoint(path, model_config, format=..., ema=True)` reads score_sde (Flax msgpack),
score_sde_pytorch, ermongroup/ncsnv2, ermongroup/ncsn and facebookresearch/DiT checkpoints into the
network `nets.build(model_config)`; each map is proven on the reference code's own outputs
(tests/interop/, tests/data/reference/README.md).
"""

from ._flax_msgpack import FlaxFile
from ._load import FORMATS, from_state_dict, load_checkpoint, read_parameters
from ._torch_pickle import TorchFile, TorchTensor, read_state_dict

__all__ = [
    "FORMATS",
    "load_checkpoint",
    "from_state_dict",
    "read_parameters",
    "TorchFile",
    "TorchTensor",
    "FlaxFile",
    "read_state_dict",
]
