"""Training machinery shared by the projects: optimiser from config, EMA, the sharded train step."""

from .._flat import FlatParams, unflatten
from ._loop import NonFiniteLossError, restore_or_keep, train_loop
from ._optim import OPTIMIZERS, learning_rate, make_optimizer
from ._state import TrainState, init_state, jit_train_step, make_train_step, model_from

__all__ = [
    "train_loop",
    "restore_or_keep",
    "NonFiniteLossError",
    "OPTIMIZERS",
    "make_optimizer",
    "learning_rate",
    "TrainState",
    "FlatParams",
    "model_from",
    "unflatten",
    "init_state",
    "make_train_step",
    "jit_train_step",
]
