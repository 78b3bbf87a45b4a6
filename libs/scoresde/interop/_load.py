"""`load_checkpoint`: a released checkpoint of score_sde, score_sde_pytorch, NCSNv2, NCSN or DiT as our network.

Formats (what each repository's training code saves):
- 'score_sde_pytorch': torch.save({'model': state_dict, 'ema': {'shadow_params': [...]}, 'optimizer', 'step'});
  the EMA tensors are in `model.parameters()` order (trainable only: not the Fourier table), the model's
  keys may carry DataParallel's 'module.' prefix. A bare state_dict works too.
- 'score_sde': a Flax checkpoint (msgpack) of its train state: 'params_ema' and 'optimizer'/'target'.
- 'ncsnv2': torch.save([state_dict, optimizer, epoch, step, ema_shadow]) (ermongroup/ncsnv2); 'ncsn':
  torch.save([state_dict, optimizer]) (ermongroup/ncsn, no EMA).
- 'dit': facebookresearch/DiT's {'model', 'ema', 'opt', 'args'} or a bare state_dict (the released weights).
`ema=True` takes the EMA weights (what the reference samples with); a checkpoint without them is an error.
"""

from collections.abc import Mapping

import equinox as eqx
import jax
import numpy as np

from .. import nets
from ..nets._config import config_items
from . import _dit_map, _refinenet_map, _unet_map
from ._assign import fill
from ._flax_msgpack import FlaxFile, flatten
from ._torch_pickle import TorchFile, is_tensor, tensor_dict

FORMATS = ("score_sde_pytorch", "score_sde", "ncsnv2", "ncsn", "dit")
_MODELS = {
    "score_sde_pytorch": ("ncsnpp", "ddpmpp", "ddpm"),
    "score_sde": ("ncsnpp", "ddpmpp", "ddpm"),
    "ncsnv2": ("ncsnv2",),
    "ncsn": ("ncsn",),
    "dit": ("dit",),
}


def _read(x) -> np.ndarray:
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


def _strip_module(state: dict) -> dict:
    """Drop DataParallel's 'module.' prefix when every key has it."""
    if state and all(k.startswith("module.") for k in state):
        return {k[len("module.") :]: v for k, v in state.items()}
    return state


def _check_format(fmt: str, model_config) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"format={fmt!r} is not one of {', '.join(map(repr, FORMATS))}")
    name = config_items(model_config).get("name")
    if name not in _MODELS[fmt]:
        raise ValueError(f"format={fmt!r} holds {' / '.join(_MODELS[fmt])} networks, but model.name={name!r}")
    if fmt in ("score_sde_pytorch", "score_sde") and config_items(model_config).get("num_classes"):
        raise ValueError(f"model.num_classes: format={fmt!r} checkpoints are unconditional (set it to 0)")
    return name


def _template(model_config):
    model = eqx.filter_eval_shape(nets.build, model_config, jax.random.key(0))
    return (model.net, model) if isinstance(model, nets.DtypePolicy) else (model, None)


def _rewrap(net, policy):
    return net if policy is None else nets.DtypePolicy(net, policy.compute_dtype)


def from_state_dict(state: Mapping[str, object], model_config, *, format: str, where: str = "state_dict"):
    """Our network for `model_config` with its weights from a reference's named arrays.

    `state`: reference name -> array (numpy, or a lazy tensor of this package's readers); the names of
    score_sde_pytorch, ermongroup/ncsn(v2) and DiT state_dicts (without 'module.'), or score_sde's
    flattened Flax names ('ResnetBlockBigGANpp_0/Conv_0/kernel').
    """
    _check_format(format, model_config)
    net, policy = _template(model_config)
    if format == "score_sde_pytorch":
        slots, unused = _unet_map.torch_slots(net), _unet_map.torch_unused(net)
    elif format == "score_sde":
        slots, unused = _unet_map.flax_slots(net), lambda key: False
    elif format in ("ncsnv2", "ncsn"):
        slots, unused = _refinenet_map.slots(net), _refinenet_map.unused
    else:
        slots, unused = _dit_map.slots(net), _dit_map.unused
        if "pos_embed" in state:
            grid = (net.image_size[0] // net.patch_size) * (net.image_size[1] // net.patch_size)
            want, found = (1, grid, net.hidden_size), tuple(state["pos_embed"].shape)
            if found != want:
                raise ValueError(
                    f"{where}: parameter 'pos_embed' has shape {found}, expected {want}: "
                    "the checkpoint is of another image size, patch size or width"
                )
    filled = fill(net, slots, state, where=where, read=_read, ignore=unused)
    return _rewrap(filled, policy)


def _torch_ema(path: str, obj, net_slots_frozen: set[str]) -> dict:
    """score_sde_pytorch's EMA: shadow_params in the order of the model's trainable parameters."""
    model = _strip_module(tensor_dict(path, obj["model"], "checkpoint's 'model'"))
    shadow = obj.get("ema", {}).get("shadow_params") if isinstance(obj.get("ema"), dict) else None
    if not isinstance(shadow, list) or not all(is_tensor(t) for t in shadow):
        raise ValueError(f"{path} has no EMA weights ('ema': {{'shadow_params': [...]}}); load it with ema=False")
    trainable = [k for k in model if k != "sigmas" and k not in net_slots_frozen]
    if len(shadow) != len(trainable):
        raise ValueError(
            f"{path}: the EMA holds {len(shadow)} arrays but the model has {len(trainable)} trainable parameters: "
            "the checkpoint is of another architecture or config"
        )
    out = dict(model)
    for key, tensor in zip(trainable, shadow, strict=True):
        if tuple(tensor.shape) != tuple(model[key].shape):
            raise ValueError(f"{path}: EMA array for {key!r} has shape {tensor.shape}, the model's {model[key].shape}")
        out[key] = tensor
    return out


def _frozen_torch_keys(model_config) -> set[str]:
    """The Fourier table of score_sde_pytorch's NCSN++ is not trained (requires_grad=False): not in the EMA."""
    net, _ = _template(model_config)
    if isinstance(net, nets.NCSNpp) and net.fourier is not None:
        return {"all_modules.0.W"}
    return set()


def read_parameters(path: str, model_config, *, format: str, ema: bool = True) -> tuple[dict, dict]:
    """(reference name -> lazy array, info) of a checkpoint file; info holds 'step' when the file has one."""
    _check_format(format, model_config)
    if format == "score_sde":
        with FlaxFile(path) as ff:
            obj = ff.obj
            if isinstance(obj, dict) and ("params_ema" in obj or "optimizer" in obj):
                if ema and "params_ema" not in obj:
                    raise ValueError(f"{path} has no 'params_ema'; load it with ema=False")
                tree = obj["params_ema"] if ema else obj.get("optimizer", {}).get("target")
                if not isinstance(tree, dict):
                    raise ValueError(f"{path} has no parameters under {'params_ema' if ema else 'optimizer/target'}")
                step = obj.get("step")
            else:
                tree, step = obj, None
            params = {k: v.numpy() for k, v in flatten(tree).items() if hasattr(v, "numpy")}
        return params, {"step": _int_or_none(step)}
    with TorchFile(path) as tf:
        obj = tf.obj
        if format == "score_sde_pytorch":
            if isinstance(obj, dict) and "model" in obj:
                state = _torch_ema(path, obj, _frozen_torch_keys(model_config)) if ema else obj["model"]
                step = obj.get("step")
            else:
                state, step = obj, None
        elif format in ("ncsnv2", "ncsn"):
            if isinstance(obj, list | tuple):
                if ema and len(obj) < 5:
                    why = "NCSN v1 trains without EMA" if format == "ncsn" else "it was trained with model.ema=False"
                    raise ValueError(f"{path} has no EMA weights ({why}); load it with ema=False")
                state = obj[4] if ema else obj[0]
                step = obj[3] if len(obj) > 3 else None
            else:
                state, step = obj, None
        else:
            if isinstance(obj, dict) and "model" in obj and not is_tensor(obj["model"]):
                if ema and "ema" not in obj:
                    raise ValueError(f"{path} has no 'ema' weights; load it with ema=False")
                state = obj["ema"] if ema else obj["model"]
                step = None
            else:
                state, step = obj, None
        state = _strip_module(tensor_dict(path, state))
        params = {k: v.numpy() for k, v in state.items()}
    return params, {"step": _int_or_none(step)}


def _int_or_none(step):
    if hasattr(step, "numpy"):
        step = step.numpy()
    try:
        return int(np.asarray(step)) if step is not None else None
    except (TypeError, ValueError):
        return None


def load_checkpoint(path: str, model_config, *, format: str, ema: bool = True):
    """The network `nets.build(model_config)` with the weights of a reference checkpoint file.

    `nets.score_fn_from_config(model, sde, model_config)` turns it into the score the reference computes.
    Errors are one line (ValueError): an unreadable file, a checkpoint of another architecture or config
    (the first parameter that does not fit: name, expected shape, found shape), missing EMA weights.
    """
    params, _ = read_parameters(path, model_config, format=format, ema=ema)
    return from_state_dict(params, model_config, format=format, where=path)
