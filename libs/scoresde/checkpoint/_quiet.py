"""Keep orbax's INFO chatter (about 90 lines per save) out of a run's log; its warnings and errors still show."""

import logging


class _DropOrbaxInfo(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or "orbax" not in record.pathname


_FILTER = _DropOrbaxInfo()


def quiet_orbax_logs() -> None:
    """Drop INFO/DEBUG records that orbax emits through absl logging (idempotent; call once from a main)."""
    absl_logger = logging.getLogger("absl")
    if _FILTER not in absl_logger.filters:
        absl_logger.addFilter(_FILTER)
