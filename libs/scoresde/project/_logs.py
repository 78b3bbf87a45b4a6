"""Logging of a run: absl to stderr at INFO, orbax's chatter dropped, and a copy appended to <workdir>/log.txt."""

import logging
import os

from absl import flags
from absl import logging as absl_logging

from ..checkpoint import quiet_orbax_logs

LOG_FILE = "log.txt"
_FILE_HANDLERS: list[logging.Handler] = []  # the one file handler of the current run (replaced per run)


def setup_logging() -> None:
    """absl's handler on the root logger at INFO unless --verbosity says otherwise (as absl.app.run does)."""
    absl_logging.use_absl_handler()
    if flags.FLAGS["verbosity"].using_default_value:
        flags.FLAGS.verbosity = 0
    quiet_orbax_logs()


def log_to_file(workdir: str) -> str:
    """Append every log record from here on to <workdir>/log.txt (also to stderr); returns the file's path."""
    stop_log_file()
    os.makedirs(workdir, exist_ok=True)
    path = os.path.join(workdir, LOG_FILE)
    handler = logging.FileHandler(path, mode="a", encoding="utf-8")
    handler.setFormatter(absl_logging.PythonFormatter())
    logging.getLogger().addHandler(handler)
    _FILE_HANDLERS.append(handler)
    return path


def stop_log_file() -> None:
    """Close the log file of the previous run in this process, if any."""
    while _FILE_HANDLERS:
        handler = _FILE_HANDLERS.pop()
        logging.getLogger().removeHandler(handler)
        handler.close()


def note_in_log_file(message: str) -> None:
    """Write one line to the open log file only (stderr already gets it from the caller)."""
    for handler in _FILE_HANDLERS:
        handler.stream.write(message + "\n")
        handler.flush()
