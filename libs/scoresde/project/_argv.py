"""Split a command line into the config file, the config overrides and the flags absl parses."""

import dataclasses
from collections.abc import Sequence

_PREFIX = "--config"


@dataclasses.dataclass(frozen=True)
class CommandLine:
    """`--config=PATH` (None if absent), `--config.a.b=V` overrides in order, and everything else for absl.

    An override's value is None for a bare `--config.a.b` (True for a bool field) and "false" for
    `--noconfig.a.b`, as ml_collections' own flags accept.
    """

    config: str | None
    overrides: tuple[tuple[str, str | None], ...]
    rest: tuple[str, ...]


def _takes_next(argv: Sequence[str], i: int) -> bool:
    return i + 1 < len(argv) and not argv[i + 1].startswith("-")


def split_argv(argv: Sequence[str]) -> CommandLine:
    """Pull the config arguments out of argv (argv[0] is the program); raises a one-line ValueError."""
    config, overrides, rest = None, [], [argv[0]] if argv else []
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest.extend(argv[i:])
            break
        name, eq, value = arg.partition("=")
        if name == _PREFIX:
            if not eq:
                if not _takes_next(argv, i):
                    raise ValueError("--config needs a path: --config=PATH")
                i, value = i + 1, argv[i + 1]
            if config is not None:
                raise ValueError(f"--config is given twice ({config!r} and {value!r})")
            config = value
        elif name.startswith(_PREFIX + "."):
            path = name[len(_PREFIX) + 1 :]
            if not eq and _takes_next(argv, i):
                i, value = i + 1, argv[i + 1]
            elif not eq:
                value = None
            overrides.append((path, value))
        elif name.startswith("--no" + _PREFIX[2:] + ".") and not eq:
            overrides.append((name[len("--noconfig.") :], "false"))
        else:
            rest.append(arg)
        i += 1
    for path, _ in overrides:
        if not path or any(not part for part in path.split(".")):
            raise ValueError(f"--config.{path}: not a config field path (expected --config.a.b=value)")
    return CommandLine(config, tuple(overrides), tuple(rest))
