"""The project kit: what every main shares (command line, config, run record, logging, error boundary)."""

from ._argv import CommandLine, split_argv
from ._cache import cache_dir, enable_compilation_cache
from ._config import field_paths, freeze, from_plain, load_config_file, override, parse_value, to_plain
from ._fields import (
    field,
    require_choice,
    require_nonnegative,
    require_nonnegative_int,
    require_optimizer,
    require_positive,
    require_positive_int,
    require_rate,
)
from ._logs import LOG_FILE, log_to_file, setup_logging, stop_log_file
from ._outputs import output_name, plain_settings, settings_digest, step_folder
from ._record import (
    CONFIG_FILE,
    RunFields,
    check_against_record,
    first_difference,
    read_record,
    record_path,
    write_json_atomic,
)
from ._run import (
    Invocation,
    Project,
    Run,
    begin,
    define_flags,
    main,
    parse_command_line,
    release_workdir,
    resolve_config,
    run,
)
from ._xla_cpu import CONVOLUTION_FLAGS, use_convolution_flags, with_convolution_flags

__all__ = [
    "CONVOLUTION_FLAGS",
    "CONFIG_FILE",
    "LOG_FILE",
    "CommandLine",
    "Invocation",
    "Project",
    "Run",
    "RunFields",
    "begin",
    "cache_dir",
    "check_against_record",
    "define_flags",
    "enable_compilation_cache",
    "field",
    "field_paths",
    "first_difference",
    "freeze",
    "from_plain",
    "load_config_file",
    "log_to_file",
    "main",
    "output_name",
    "override",
    "parse_command_line",
    "parse_value",
    "plain_settings",
    "read_record",
    "record_path",
    "release_workdir",
    "require_choice",
    "require_nonnegative",
    "require_nonnegative_int",
    "require_optimizer",
    "require_positive",
    "require_positive_int",
    "require_rate",
    "resolve_config",
    "run",
    "settings_digest",
    "setup_logging",
    "split_argv",
    "step_folder",
    "stop_log_file",
    "to_plain",
    "use_convolution_flags",
    "with_convolution_flags",
    "write_json_atomic",
]
