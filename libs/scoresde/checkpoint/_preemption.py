"""SIGTERM (preemption) handling: note the signal, let the training loop save and exit cleanly."""

import signal


class PreemptionGuard:
    """Context manager that turns SIGTERM into a flag the loop polls between host calls.

    The loop saves a checkpoint when `requested` is set and exits with status 0; the
    previous handler is restored on exit.
    """

    def __init__(self, signals=(signal.SIGTERM,)):
        self.signals = signals
        self.requested = False
        self._previous = {}

    def _handler(self, signum, frame):
        self.requested = True

    def __enter__(self):
        for s in self.signals:
            self._previous[s] = signal.signal(s, self._handler)
        return self

    def __exit__(self, *exc):
        for s, h in self._previous.items():
            signal.signal(s, h)
        return False
