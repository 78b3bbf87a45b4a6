"""The one error type of checkpointing that is not a bad input: a workdir in use, a save that failed, no intact step."""


class CheckpointError(RuntimeError):
    """Raised with a one-line message; nothing already saved is touched."""
