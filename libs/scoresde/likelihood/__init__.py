"""Log-likelihood and bits/dim through the probability-flow ODE."""

from ._bpd import bits_per_dim, dequantize
from ._log_prob import log_prob

__all__ = ["log_prob", "bits_per_dim", "dequantize"]
