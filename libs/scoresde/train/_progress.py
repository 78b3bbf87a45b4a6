"""Training progress on the host: `step k/N`, loss, steps/s and ETA from step time alone.

Compilation (the first call of the jitted step) and pauses (snapshots, evals, checkpoints) are
timed on their own and kept out of the rate, so the first interval is not dragged down by a
40 s compile and an interval with a snapshot is not slowed by sampling. On an interactive
terminal (stderr a tty, process 0) a tqdm bar carries the progress instead of the per-interval
lines on stderr; the lines still reach every other log handler (the run's log.txt).
"""

import contextlib
import logging as std_logging
import math
import sys
import time

from absl import logging

_clock = time.perf_counter  # looked up per call: tests put a fake clock here
PROGRESS_ATTR = "scoresde_progress"  # set on the records of progress lines (the bar shows them on a tty)


def format_duration(seconds: float) -> str:
    """A short human duration: 47s, 15m47s, 2h05m, 3d04h ('?' when unknown)."""
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def format_rate(steps_per_sec: float) -> str:
    """Three significant digits, whole numbers from 100 on ('-' when unknown)."""
    if not math.isfinite(steps_per_sec):
        return "-"
    return f"{steps_per_sec:.0f}" if steps_per_sec >= 100 else f"{steps_per_sec:.3g}"


class _Pause:
    seconds: float = 0.0


class _BarFilter(std_logging.Filter):
    """On the stderr handler while the bar is shown: progress lines are dropped (the bar has them),
    any other record first clears the bar so that the line is not written into it."""

    def __init__(self, bar):
        super().__init__()
        self.bar = bar

    def filter(self, record) -> bool:
        if getattr(record, PROGRESS_ATTR, False):
            return False
        self.bar.clear()
        return True


def _bar(total: int, start: int, desc: str):
    """A tqdm bar `desc k/N |bar| stats` (stats: the last interval's loss, steps/s and ETA)."""
    from tqdm import tqdm

    class Bar(tqdm):
        stats = ""

        @property
        def format_dict(self):
            return {**super().format_dict, "stats": self.stats}

    return Bar(total=total, initial=start, file=sys.stderr, dynamic_ncols=True, desc=desc or None,
               bar_format="{desc}{n_fmt}/{total_fmt} |{bar}| {stats}")  # fmt: skip


class Progress:
    """Host-side clock and reporter of one training run from step `start` to `total`.

    `compiled(step, seconds)` after the first (blocking) call starts the step clock; `pause()` is a
    context manager whose time is kept out of it; `interval(step)` closes an interval (its seconds
    per step) and `report(step, loss, extra)` logs its line.
    """

    def __init__(self, total: int, start: int, *, name: str = "", bar: bool | None = None):
        self.total, self.prefix = total, f"{name} " if name else ""
        self._mark, self._mark_step, self._paused = None, start, 0.0
        self._timed_seconds, self._timed_steps = 0.0, 0
        self._sec_per_step, self._eta = math.nan, math.nan
        if bar is None:
            import jax

            bar = jax.process_index() == 0 and sys.stderr.isatty()
        self._bar = self._filter = None
        if bar:
            self._bar = _bar(total, start, self.prefix)
            self._filter = _BarFilter(self._bar)
            logging.get_absl_handler().addFilter(self._filter)

    def say(self, msg: str) -> None:
        """One log line that is not a progress line (kept clear of the bar)."""
        if self._bar is None:
            logging.info("%s", msg)
            return
        with self._bar.external_write_mode():
            logging.info("%s", msg)
        self._bar.refresh()

    def compiled(self, step: int, seconds: float) -> None:
        """The first call (trace + compile + its steps) took `seconds`; step time is counted from here."""
        self.say(f"{self.prefix}compiled train step in {seconds:.1f} s")
        self._mark, self._mark_step, self._paused = _clock(), step, 0.0
        self.advance(step)

    @contextlib.contextmanager
    def pause(self):
        """Time spent inside is not step time; `.seconds` holds it afterwards."""
        p, t = _Pause(), _clock()
        try:
            yield p
        finally:
            p.seconds = _clock() - t
            self._paused += p.seconds

    def advance(self, step: int) -> None:
        """Move the bar to `step` (dispatched steps; no device value is read)."""
        if self._bar is not None and step > self._bar.n:
            self._bar.update(step - self._bar.n)

    @property
    def first_call_pending(self) -> bool:
        """True until `compiled` has been called: the next call of the step compiles it."""
        return self._mark is None

    def interval(self, step: int) -> float:
        """Close the interval ending at `step`: its seconds per step (NaN if no step was timed in it)."""
        now = _clock()
        seconds = now - self._mark - self._paused if self._mark is not None else 0.0
        steps = step - self._mark_step if self._mark is not None else 0
        self._mark, self._mark_step, self._paused = now, step, 0.0
        timed = steps > 0 and seconds > 0
        if timed:
            self._timed_seconds += seconds
            self._timed_steps += steps
        mean_rate = self._timed_steps / self._timed_seconds if self._timed_seconds > 0 else math.nan
        self._eta = (self.total - step) / mean_rate if step < self.total else 0.0
        self._sec_per_step = seconds / steps if timed else math.nan
        return self._sec_per_step

    def report(self, step: int, loss: float, extra: str = "") -> str:
        """Log `step k/N  loss  steps/s  ETA  extra` for the interval just closed; returns the line.

        steps/s is the interval's, the ETA the remaining steps over the mean rate of all timed steps.
        """
        rate = format_rate(1.0 / self._sec_per_step)
        head = f"loss {loss:.7g}  {rate} steps/s  ETA {format_duration(self._eta)}"
        line = f"{self.prefix}step {step}/{self.total}  {head}" + (f"  {extra}" if extra else "")
        logging.info("%s", line, extra={PROGRESS_ATTR: self._bar is not None})
        if self._bar is not None:
            self._bar.stats = head
            self.advance(step)
            self._bar.refresh()
        return line

    def close(self) -> None:
        if self._bar is not None:
            logging.get_absl_handler().removeFilter(self._filter)
            self._bar.close()
            self._bar = None
