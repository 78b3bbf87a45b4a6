"""The run path every project's main shares: flags, compilation cache, config, record, distributed start, and the
error boundary."""

import dataclasses
import shlex
import sys
from collections.abc import Callable, Sequence

from absl import app, flags
from absl import logging as absl_logging
from ml_collections import ConfigDict, FrozenConfigDict

from ._argv import split_argv
from ._cache import enable_compilation_cache
from ._config import freeze, from_plain, load_config_file, override, to_plain
from ._logs import log_to_file, note_in_log_file, setup_logging, stop_log_file
from ._record import RunFields, check_against_record, read_record, record_path, resolve_fields, write_json_atomic
from ._xla_cpu import use_convolution_flags


@dataclasses.dataclass(frozen=True)
class Project:
    """A project's modes and run record: `creates` are the modes that start or resume a run (write config.json)."""

    modes: tuple[str, ...]
    default_mode: str
    fields: RunFields | Callable[[ConfigDict], RunFields]
    creates: tuple[str, ...] = ("train",)


@dataclasses.dataclass(frozen=True)
class Invocation:
    """What the command line asked for, before the config is resolved."""

    mode: str
    workdir: str
    config: str | None
    overrides: tuple[tuple[str, str | None], ...]
    coordinator: str = ""
    num_processes: int = 0
    process_id: int = -1
    argv: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Run:
    """One resolved run: the frozen config, the workdir as given, the mode; what a main's run function gets."""

    project: Project
    cfg: FrozenConfigDict
    workdir: str
    mode: str
    argv: tuple[str, ...] = ()


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _input_errors() -> tuple[type[BaseException], ...]:
    from ..train import NonFiniteLossError

    return (ValueError, OSError, NonFiniteLossError, flags.Error)


def run(fn: Callable, *args, **kwargs):
    """Call fn; a bad-input error escaping it (ValueError, OSError, ...) is `error: <first line>` and exit 1."""
    try:
        return fn(*args, **kwargs)
    except _input_errors() as e:
        note_in_log_file(f"error: {_first_line(e)}")
        sys.exit(f"error: {_first_line(e)}")
    except KeyboardInterrupt:
        note_in_log_file("error: interrupted")
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)


def define_flags(project: Project, flag_values: flags.FlagValues = flags.FLAGS) -> None:
    """--workdir, --mode and the multi-host flags (once per FlagValues; --config is parsed by the kit itself)."""
    if "workdir" in flag_values:
        return
    flags.DEFINE_string("workdir", None, "run folder: checkpoints, logs, outputs", flag_values=flag_values)
    flags.DEFINE_enum("mode", project.default_mode, list(project.modes), "what to do", flag_values=flag_values)
    flags.DEFINE_string("coordinator", "", "host:port of process 0 for a multi-host run", flag_values=flag_values)
    flags.DEFINE_integer("num_processes", 0, "number of processes in a multi-host run", flag_values=flag_values)
    flags.DEFINE_integer("process_id", -1, "this process's index in a multi-host run", flag_values=flag_values)
    if flag_values is flags.FLAGS:
        app.define_help_flags()


def parse_command_line(argv: Sequence[str], flag_values: flags.FlagValues = flags.FLAGS) -> Invocation:
    """argv -> Invocation; the config arguments by the kit, the rest by absl; errors are one line."""
    cl = split_argv(argv)
    if flag_values.is_parsed():
        flag_values.unparse_flags()  # a second run in one process starts from the defaults
    positional = flag_values(list(cl.rest))
    if len(positional) > 1:
        raise ValueError(
            f"unexpected argument {positional[1]!r}: every setting is a flag (--workdir=DIR, --mode=MODE, "
            "--config=FILE, --config.FIELD=VALUE)"
        )
    workdir = flag_values.workdir
    if workdir is None:
        raise ValueError("--workdir is required: the run folder, e.g. --workdir=runs/NAME")
    if not workdir.strip():
        raise ValueError("--workdir= is empty: give the run folder, e.g. --workdir=runs/NAME")
    return Invocation(
        mode=flag_values.mode, workdir=workdir, config=cl.config, overrides=cl.overrides,
        coordinator=flag_values.coordinator, num_processes=flag_values.num_processes,
        process_id=flag_values.process_id, argv=tuple(argv),
    )  # fmt: skip


def resolve_config(project: Project, inv: Invocation) -> FrozenConfigDict:
    """The config file (or the run's saved config) with the overrides, checked against the saved record; frozen."""
    saved = read_record(inv.workdir)
    where = record_path(inv.workdir)
    if inv.config is None:
        if saved is None:
            raise ValueError(f"--config is required: {where} does not exist (no run recorded in this --workdir yet)")
        base = from_plain(saved)
    else:
        base = load_config_file(inv.config)
    cfg = override(base, inv.overrides)
    if saved is not None:
        check_against_record(cfg, saved, resolve_fields(project.fields, saved), where=where, mode=inv.mode)
    return freeze(cfg)


_HELD: list = []  # the workdir lock of the current run: taken by `begin`, released by `main` (or `release_workdir`)


def release_workdir() -> None:
    """Release the workdir lock `begin` took, if any (main does this when the run ends)."""
    while _HELD:
        _HELD.pop().__exit__(None, None, None)


def begin(r: Run) -> None:
    """Start the run's record, after validation: config.json (modes that create a run) and log.txt; process 0.

    A creating mode first takes the workdir lock (scoresde.checkpoint.hold_workdir, every process takes part),
    held until the run ends: a second trainer of the same workdir is refused in one line before it writes
    anything, not even a log line. train_loop's own hold re-enters it.
    """
    import jax

    from .. import checkpoint

    if r.mode in r.project.creates and not _HELD:
        held = checkpoint.hold_workdir(r.workdir)
        held.__enter__()
        _HELD.append(held)
    if jax.process_index() != 0:
        return
    log_to_file(r.workdir)
    absl_logging.info("run: %s", " ".join(map(shlex.quote, r.argv)))
    if r.mode in r.project.creates:
        write_json_atomic(record_path(r.workdir), to_plain(r.cfg))
        absl_logging.info("config recorded in %s", record_path(r.workdir))


def _main(project: Project, run_fn: Callable[[Run], object], argv: Sequence[str], flag_values) -> object:
    from .. import checkpoint, parallel

    convolutions = "xnnpack" if use_convolution_flags() else "as XLA_FLAGS say"  # before JAX's backend starts
    release_workdir()
    stop_log_file()
    define_flags(project, flag_values)
    inv = parse_command_line(argv, flag_values)
    setup_logging()
    absl_logging.info("compilation cache: %s; CPU convolutions: %s", enable_compilation_cache() or "off", convolutions)
    checkpoint.check_workdir(inv.workdir)
    cfg = resolve_config(project, inv)
    parallel.maybe_initialize_distributed(inv.coordinator, inv.num_processes, inv.process_id)
    return run_fn(Run(project, cfg, inv.workdir, inv.mode, inv.argv))


def main(project: Project, run_fn: Callable[[Run], object], argv: Sequence[str] | None = None,
         flag_values: flags.FlagValues = flags.FLAGS) -> None:  # fmt: skip
    """A project's whole run inside the error boundary; `run_fn(Run)` validates, calls `begin`, then works."""
    try:
        run(_main, project, run_fn, list(sys.argv if argv is None else argv), flag_values)
    finally:
        release_workdir()
        stop_log_file()
