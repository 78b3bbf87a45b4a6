"""Keep orbax's noise out of a run's log: its INFO chatter (about 90 lines per save), and the tracebacks its
abandoned reads print when a damaged step fails to restore. Its warnings and errors still show."""

import contextlib
import gc
import logging
import sys
import time


class _DropOrbaxInfo(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or "orbax" not in record.pathname


class _DropUnretrievedTasks(logging.Filter):
    """asyncio's 'Task exception was never retrieved' for the reads orbax abandons after the first one failed."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Task exception was never retrieved")


_FILTER, _TASKS = _DropOrbaxInfo(), _DropUnretrievedTasks()


def _closed_loop_dropped(previous):
    """An unraisable hook that drops the 'Event loop is closed' errors of tensorstore reads finishing after
    orbax's event loop closed (dozens of tracebacks per damaged step); other unraisables go to `previous`."""

    def hook(unraisable):
        exc = unraisable.exc_value
        if isinstance(exc, RuntimeError) and str(exc) == "Event loop is closed":
            hook.dropped += 1
        else:
            previous(unraisable)

    hook.dropped = 0

    hook.drops_closed_loop = True
    return hook


def quiet_orbax_logs() -> None:
    """Drop orbax's INFO/DEBUG records and its damaged-read tracebacks for the whole process (idempotent)."""
    absl_logger = logging.getLogger("absl")
    if _FILTER not in absl_logger.filters:
        absl_logger.addFilter(_FILTER)
    if _TASKS not in logging.getLogger("asyncio").filters:
        logging.getLogger("asyncio").addFilter(_TASKS)
    if not getattr(sys.unraisablehook, "drops_closed_loop", False):
        sys.unraisablehook = _closed_loop_dropped(sys.unraisablehook)


@contextlib.contextmanager
def read_noise_dropped(settle: float = 0.2):
    """The damaged-read tracebacks dropped while restoring. After a failed read (an exception, or the caller
    setting `quiet["damaged"]` on the yielded dict), the abandoned reads get `settle` seconds to finish and
    their tasks are collected before the hook is put back."""
    previous, asyncio_logger = sys.unraisablehook, logging.getLogger("asyncio")
    sys.unraisablehook = hook = _closed_loop_dropped(previous)
    asyncio_logger.addFilter(_TASKS)
    quiet = {"damaged": False}
    try:
        yield quiet
    except BaseException:
        quiet["damaged"] = True
        raise
    finally:
        if quiet["damaged"] or hook.dropped:
            time.sleep(settle)
        gc.collect()
        sys.unraisablehook = previous
        asyncio_logger.removeFilter(_TASKS)
