"""The error of checkpointing that is not a bad argument: a workdir in use, a save that failed, no intact step."""


class CheckpointError(OSError):
    """Raised with a one-line message; nothing already saved is touched.

    An OSError (the state of the files stops the run), so the mains' error boundary, which prints the first
    line of ValueError / OSError and exits 1, reports it like any other unusable file.
    """
