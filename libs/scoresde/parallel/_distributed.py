"""Multi-host start-up: jax.distributed.initialize when launched on several hosts."""

import os

import jax


def _use_cpu_collectives() -> None:
    """CPU-only multi-process runs (tests on 127.0.0.1) need gloo for cross-process collectives."""
    if os.environ.get("JAX_PLATFORMS", "") == "cpu":
        jax.config.update("jax_cpu_collectives_implementation", "gloo")


def maybe_initialize_distributed(coordinator: str = "", num_processes: int = 0, process_id: int = -1) -> bool:
    """Initialise jax.distributed if this is a multi-process launch; returns whether it did.

    Explicit arguments (e.g. from flags) win; otherwise the standard environment of TPU pods
    and SLURM is detected by jax itself when JAX_COORDINATOR_ADDRESS or a cluster is present.
    Must run before any other JAX call touches the devices.
    """
    if coordinator:
        if num_processes < 1 or process_id < 0:
            raise ValueError("--coordinator needs --num_processes >= 1 and --process_id >= 0")
        _use_cpu_collectives()
        jax.distributed.initialize(coordinator, num_processes=num_processes, process_id=process_id)
        return True
    if os.environ.get("JAX_COORDINATOR_ADDRESS") or os.environ.get("TPU_WORKER_HOSTNAMES", "").count(",") > 0:
        jax.distributed.initialize()
        return True
    return False
