"""The newest intact step: a damaged one is skipped with one warning line; none intact is one error line."""

from collections.abc import Callable

from absl import logging

from ._agree import everywhere
from ._errors import CheckpointError


def unreadable(e: BaseException) -> bool:
    """Whether orbax / tensorstore raised `e` over truncated, missing or corrupt files (orbax also raises bare
    `Exception`s); programming errors (AttributeError, NameError, ...) are not such and propagate."""
    return type(e) is Exception or isinstance(e, ValueError | OSError | KeyError | TypeError | EOFError)


class Damaged(Exception):
    """A step that cannot be read (truncated, missing or corrupt files); the message says why, in one line."""


def reason(e: BaseException, limit: int = 160) -> str:
    """`Type: first line of the message`, at most `limit` characters."""
    lines = str(e).strip().splitlines()
    text = f"{type(e).__name__}: {lines[0] if lines else ''}".rstrip(": ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def newest_intact(steps: list[int], attempt: Callable, where: str):
    """(attempt(step), [(damaged step, why)]) for the newest step whose attempt succeeds on every process.

    `attempt` raises `Damaged` for a step it cannot read; any other error (a bad template) propagates.
    """
    damaged = []
    for step in sorted(steps, reverse=True):
        try:
            result, why = attempt(step), None
        except Damaged as e:
            result, why = None, str(e)
        if everywhere(why is None):
            for s, r in damaged:
                logging.warning("checkpoint %d in %s is damaged (%s): restored %d instead", s, where, r, step)
            return result, damaged
        damaged.append((step, why or "unreadable on another process"))
    if len(damaged) == 1:
        raise CheckpointError(f"checkpoint {damaged[0][0]} in {where} cannot be restored: {damaged[0][1]}")
    raise CheckpointError(f"no intact checkpoint in {where}: " + "; ".join(f"step {s}: {r}" for s, r in damaged))
