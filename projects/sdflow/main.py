"""SD flow (Weber, TMLR 2023): move samples of a source q toward a target p along the score difference.

    python projects/sdflow/main.py --config=configs/sdflow/gauss_to_25gaussians.py --workdir=runs/sdf --mode=flow
    python projects/sdflow/main.py --config=configs/sdflow/gauss_to_25gaussians.py --workdir=runs/sdf --mode=eval

The algorithm: for sigma_1 > ... > sigma_L (annealed), repeat steps_per_level times
    x <- x + eta_l (grad log p_sigma(x) - grad log q_sigma(x))      [+ sqrt(2 gamma eta_l) xi]
with proxies p_sigma = p * N(0, sigma^2 I), q_sigma = q * N(0, sigma^2 I) of the target and of the
current particles: kernel (exact scores of the smoothed sample sets), learned (DSM score nets) or
exact (Gaussian-mixture oracle). train: fit the learned scores / the one-step generator.
flow: run the flow (or sample the generator), save particles per level and plots. eval: SWD/MMD
per level beside data-vs-data and the KL between the proxies.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from absl import app, flags, logging  # noqa: E402
from ml_collections import config_flags  # noqa: E402

_CONFIG = config_flags.DEFINE_config_file("config", None, "path to a config file with get_config()", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "run folder: checkpoints, flow output, metrics")
_MODE = flags.DEFINE_enum("mode", "flow", ["train", "flow", "eval"], "what to do")
_COORD = flags.DEFINE_string("coordinator", "", "host:port of process 0 for a multi-host run (jax.distributed)")
_NPROC = flags.DEFINE_integer("num_processes", 0, "number of processes in a multi-host run")
_PID = flags.DEFINE_integer("process_id", -1, "this process's index in a multi-host run")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    from scoresde import checkpoint, parallel, train

    parallel.maybe_initialize_distributed(_COORD.value, _NPROC.value, _PID.value)
    checkpoint.quiet_orbax_logs()
    from projects.sdflow import checks, evaluation, flowing, training

    cfg, workdir, mode = _CONFIG.value, _WORKDIR.value, _MODE.value
    try:
        mesh = checks.validate(cfg, workdir, mode)
        if mode == "train":
            logging.info("trained: %s", ", ".join(training.run(cfg, workdir, mesh)) or "nothing")
        elif mode == "flow":
            flowing.run(cfg, workdir, mesh)
        else:
            evaluation.run(cfg, workdir, mesh)
    except (ValueError, train.NonFiniteLossError) as e:
        sys.exit(f"error: {str(e).splitlines()[0]}")


if __name__ == "__main__":
    app.run(main)
