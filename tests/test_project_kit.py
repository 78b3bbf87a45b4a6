"""scoresde.project: the command-line split, config files and overrides, the run record, the error boundary."""

import json
import logging
import os

import pytest
from absl import flags
from ml_collections import ConfigDict
from ml_collections.config_dict import placeholder

from scoresde import project, train

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOY = os.path.join(ROOT, "configs", "toy2d.py")
FIELDS = project.RunFields(("seed", "model", "training"), ("training.n_steps",))
KIT = project.Project(("train", "sample"), "train", FIELDS)


def _cfg() -> ConfigDict:
    c = ConfigDict()
    c.seed = 0
    c.model = ConfigDict(dict(width=32, ch_mult=(1, 2), centered=True, rate=0.99, name="mlp", patch=placeholder(int)))
    c.training = ConfigDict(dict(n_steps=10, batch_size=8))
    c.sampling = ConfigDict(dict(method="pc", pc=ConfigDict(dict(snr=0.16))))
    c.lock()
    return c


def _write(path, text: str) -> str:
    with open(path, "w") as f:
        f.write(text)
    return str(path)


# ---- the command line ---------------------------------------------------------------------------------------------
def test_split_argv_takes_every_config_form_and_leaves_the_rest():
    cl = project.split_argv(["prog", "--config", "c.py", "--workdir=w", "--config.a.b=1", "--config.c", "2",
                             "--config.flag", "--noconfig.other", "--mode=sample"])  # fmt: skip
    assert cl.config == "c.py"
    assert cl.overrides == (("a.b", "1"), ("c", "2"), ("flag", None), ("other", "false"))
    assert cl.rest == ("prog", "--workdir=w", "--mode=sample")
    assert project.split_argv(["prog", "--", "--config=x"]).rest == ("prog", "--", "--config=x")


@pytest.mark.parametrize(
    "argv, needle",
    [(["p", "--config=a", "--config=b"], "twice"), (["p", "--config"], "--config needs a path"),
     (["p", "--config..x=1"], "--config..x")],
)  # fmt: skip
def test_split_argv_errors_are_one_line(argv, needle):
    with pytest.raises(ValueError, match=needle) as e:
        project.split_argv(argv)
    assert "\n" not in str(e.value)


def _flags() -> flags.FlagValues:
    fv = flags.FlagValues()
    project.define_flags(KIT, fv)
    return fv


def test_parse_command_line_reparses_from_the_defaults():
    fv = _flags()
    inv = project.parse_command_line(["p", "--workdir=w", "--mode=sample", "--config=c.py", "--config.seed=3"], fv)
    assert (inv.mode, inv.workdir, inv.config, inv.overrides) == ("sample", "w", "c.py", (("seed", "3"),))
    assert project.parse_command_line(["p", "--workdir=v"], fv).mode == "train"  # the default again


@pytest.mark.parametrize(
    "argv, error, needle",
    [(["p"], ValueError, "--workdir is required"), (["p", "--workdir="], ValueError, "--workdir= is empty"),
     (["p", "--workdir=  "], ValueError, "--workdir= is empty"), (["p", "--workdir=w", "x", "y"], ValueError, "'x'"),
     (["p", "--workdir=w", "--mode=fly"], flags.Error, "--mode=fly"),
     (["p", "--workdir=w", "--nope=1"], flags.Error, "nope")],
)  # fmt: skip
def test_parse_command_line_errors(argv, error, needle):
    with pytest.raises(error, match=needle) as e:
        project.parse_command_line(argv, _flags())
    assert "\n" not in str(e.value)


# ---- config files and overrides -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, needle",
    [(None, "no such file"), ("def get_config(:\n", "does not parse: .* \\(line 1\\)"),
     ("import nonexistent_module_xyz\n", "failed to load: ModuleNotFoundError"), ("x = 1\n", "has no get_config"),
     ("def get_config():\n    raise KeyError('k')\n", "get_config\\(\\) raised KeyError"),
     ("def get_config():\n    return {}\n", "returned a dict")],
)  # fmt: skip
def test_config_file_errors_are_one_line_naming_the_file(tmp_path, text, needle):
    path = str(tmp_path / "c.py") if text is None else _write(tmp_path / "c.py", text)
    with pytest.raises(ValueError, match=needle) as e:
        project.load_config_file(path)
    assert "c.py" in str(e.value) and "\n" not in str(e.value)


def test_config_file_empty_path_and_folder(tmp_path):
    with pytest.raises(ValueError, match="--config= is empty"):
        project.load_config_file("")
    with pytest.raises(ValueError, match="is not a file"):
        project.load_config_file(str(tmp_path))
    assert project.load_config_file(TOY).data.name == "toy2d"


def test_override_parses_by_the_field_type_and_leaves_the_input_alone():
    c = _cfg()
    out = project.override(c, [("model.width", "64"), ("model.ch_mult", "1,2,2"), ("model.centered", "false"),
                               ("model.rate", "0.5"), ("model.name", "dit"), ("model.patch", "4"),
                               ("sampling.pc.snr", "1e-1"), ("training.batch_size", "0x10")])  # fmt: skip
    assert (out.model.width, out.model.ch_mult, out.model.centered, out.model.rate) == (64, (1, 2, 2), False, 0.5)
    assert (out.model.name, out.model.patch, out.sampling.pc.snr, out.training.batch_size) == ("dit", 4, 0.1, 16)
    assert c.model.width == 32 and c.model.ch_mult == (1, 2)  # a copy
    assert project.override(c, [("model.ch_mult", "(4,)")]).model.ch_mult == (4,)
    assert project.override(c, [("model.centered", None)]).model.centered is True  # a bare bool flag


@pytest.mark.parametrize(
    "path, raw, needle",
    [("training.nonexistent", "1", "unknown config field training.nonexistent; did you mean training.n_steps?"),
     ("model.widht", "1", "did you mean model.width?"),
     ("model.zzzzzzzzzzzz", "1", "the fields of model are: centered, ch_mult"),
     ("qqq", "1", "unknown config field qqq"),
     ("sampling.pc", "3", "sampling.pc is a group of fields"),
     ("model.width", "1.5", "--config.model.width='1.5' is not an int"),
     ("model.rate", "fast", "is not a float"), ("model.centered", "maybe", "is not a bool"),
     ("model.width", None, "needs a value"), ("model.width", "none", "is not an int")],
)  # fmt: skip
def test_override_errors_are_one_line_naming_the_field(path, raw, needle):
    with pytest.raises(ValueError) as e:
        project.override(_cfg(), [(path, raw)])
    assert needle in str(e.value) and "\n" not in str(e.value), str(e.value)


def test_override_of_a_toy_config_field_suggests_the_close_one():
    with pytest.raises(ValueError, match="did you mean training.n_steps"):
        project.override(project.load_config_file(TOY), [("training.nonexistent", "1")])


def test_frozen_config_cannot_change_and_round_trips_through_json():
    frozen = project.freeze(project.override(_cfg(), [("model.patch", "4")]))
    with pytest.raises(AttributeError):
        frozen.model.width = 3
    plain = json.loads(json.dumps(project.to_plain(frozen)))
    back = project.from_plain(plain)
    assert back.model.ch_mult == (1, 2) and back.model.patch == 4 and project.to_plain(back) == plain
    with pytest.raises(AttributeError):
        back.new_field = 1  # locked


def test_the_ncsn_model_config_is_built_without_touching_a_frozen_config():
    from projects.ncsn import components

    cfg = project.freeze(project.load_config_file(TOY))
    m = components.model_config(cfg)
    assert m.dim == 2 and "dim" not in cfg.model


# ---- the run record -----------------------------------------------------------------------------------------------
def test_run_fields_and_first_difference_in_config_order():
    assert FIELDS.defines_run("model.width") and FIELDS.defines_run("seed")
    assert not FIELDS.defines_run("training.n_steps") and not FIELDS.defines_run("sampling.pc.snr")
    assert not FIELDS.defines_run("seeds")
    saved = project.to_plain(_cfg())
    now = project.to_plain(project.override(_cfg(), [("training.n_steps", "99"), ("sampling.method", "ode")]))
    assert project.first_difference(saved, now, FIELDS) is None
    now = project.to_plain(project.override(_cfg(), [("training.batch_size", "4"), ("model.width", "8")]))
    assert project.first_difference(saved, now, FIELDS) == ("model.width", 32, 8)
    del now["training"]["batch_size"]
    now["model"]["width"] = 32
    assert project.first_difference(saved, now, FIELDS) == ("training.batch_size", 8, "<absent>")


def test_check_against_record_names_the_field_both_values_and_the_mode():
    cfg = project.override(_cfg(), [("model.ch_mult", "(1, 4)")])
    with pytest.raises(ValueError) as e:
        project.check_against_record(cfg, project.to_plain(_cfg()), FIELDS, where="w/config.json", mode="sample")
    msg = str(e.value)
    assert msg.startswith("model.ch_mult=[1, 4] differs from the run's w/config.json (model.ch_mult=[1, 2])")
    assert "--mode=sample" in msg and "\n" not in msg


def test_record_read_write(tmp_path):
    workdir = str(tmp_path / "run")
    assert project.read_record(workdir) is None
    project.write_json_atomic(project.record_path(workdir), {"seed": 1})
    project.write_json_atomic(project.record_path(workdir), {"seed": 2})
    assert project.read_record(workdir) == {"seed": 2} and os.listdir(workdir) == ["config.json"]
    _write(project.record_path(workdir), '{"seed": ')
    with pytest.raises(ValueError, match="config.json is not valid JSON"):
        project.read_record(workdir)
    _write(project.record_path(workdir), "[1, 2]")
    with pytest.raises(ValueError, match="holds a list"):
        project.read_record(workdir)


def _inv(workdir, mode="train", config=None, **overrides):
    return project.Invocation(mode, workdir, config, tuple((k, str(v)) for k, v in overrides.items()))


def test_resolve_config_reads_the_record_and_refuses_changes_of_what_defines_the_run(tmp_path):
    workdir = str(tmp_path)
    toy = project.Project(("train", "sample"), "train", project.RunFields(("data", "model"), ("data.n_test",)))
    with pytest.raises(ValueError, match="--config is required: .*config.json does not exist"):
        project.resolve_config(toy, _inv(workdir, "sample"))
    first = project.resolve_config(toy, _inv(workdir, config=TOY, **{"model.width": 16}))
    project.write_json_atomic(project.record_path(workdir), project.to_plain(first))
    again = project.resolve_config(toy, _inv(workdir, "sample", **{"sampling.n_samples": 7, "data.n_test": 9}))
    assert again.model.width == 16 and again.sampling.n_samples == 7 and again.data.n_test == 9
    assert project.resolve_config(toy, _inv(workdir, config=TOY, **{"model.width": 16})).model.width == 16
    with pytest.raises(ValueError, match=r"^model.width=256 differs"):  # the file's own width: not the run's
        project.resolve_config(toy, _inv(workdir, config=TOY))
    with pytest.raises(ValueError, match=r"^data.toy='moons' differs .* --mode=sample"):
        project.resolve_config(toy, _inv(workdir, "sample", **{"data.toy": "moons"}))


def test_run_fields_may_depend_on_the_saved_config(tmp_path):
    decide = lambda cfg: project.RunFields(("model",) if cfg.model.name == "mlp" else ())  # noqa: E731
    kit = project.Project(("train",), "train", decide)
    project.write_json_atomic(project.record_path(str(tmp_path)), project.to_plain(_cfg()))
    with pytest.raises(ValueError, match="model.width"):
        project.resolve_config(kit, _inv(str(tmp_path), **{"model.width": 3}))


# ---- the error boundary, logging, begin, main ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "error, code",
    [(ValueError("bad value\nmore detail"), "error: bad value"), (FileNotFoundError(2, "gone", "f.txt"),
     "error: [Errno 2] gone: 'f.txt'"), (train.NonFiniteLossError("nan at 5"), "error: nan at 5"),
     (ValueError(""), "error: ValueError")],
)  # fmt: skip
def test_run_turns_input_errors_into_one_error_line(error, code):
    def fail():
        raise error

    with pytest.raises(SystemExit) as e:
        project.run(fail)
    assert e.value.code == code


def test_run_passes_results_and_programming_errors_through():
    assert project.run(lambda x: x + 1, 1) == 2
    with pytest.raises(TypeError):
        project.run(lambda: None + 1)

    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as e:
        project.run(interrupted)
    assert e.value.code == 130


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    project.release_workdir()
    project.stop_log_file()
    root.handlers[:], _ = handlers, root.setLevel(level)


def test_begin_writes_the_record_in_creating_modes_and_appends_the_log(tmp_path, restore_logging):
    from absl import logging as absl_logging

    workdir = str(tmp_path / "run")
    cfg = project.freeze(_cfg())
    logging.getLogger().setLevel(logging.INFO)
    project.begin(project.Run(KIT, cfg, workdir, "sample", ("p", "--mode=sample")))
    assert sorted(os.listdir(workdir)) == ["log.txt"]
    project.begin(project.Run(KIT, cfg, workdir, "train", ("p", "--mode=train")))
    absl_logging.info("a line for the log")
    project.stop_log_file()
    assert project.read_record(workdir) == project.to_plain(cfg)
    with open(os.path.join(workdir, "log.txt")) as f:
        text = f.read()
    assert "run: p --mode=train" in text and "a line for the log" in text


def test_main_validates_before_the_run_function_and_exits_in_one_line(tmp_path, restore_logging):
    seen = []

    def run_fn(r: project.Run):
        seen.append((r.mode, r.cfg.model.width))
        project.begin(r)
        raise ValueError(f"model.width={r.cfg.model.width} is too small\nsecond line")

    workdir = str(tmp_path / "run")
    argv = ["p", f"--workdir={workdir}", f"--config={TOY}", "--config.model.width=8"]
    kit = project.Project(("train", "sample"), "train", project.RunFields(("model",)))
    with pytest.raises(SystemExit) as e:
        project.main(kit, run_fn, argv, flag_values=flags.FlagValues())
    assert e.value.code == "error: model.width=8 is too small" and seen == [("train", 8)]
    with open(os.path.join(workdir, "log.txt")) as f:
        assert f.read().rstrip().endswith("error: model.width=8 is too small")
    with pytest.raises(SystemExit) as e:  # resolved before the run function: the saved record's width
        project.main(kit, run_fn, [*argv, "--config.model.width=9"], flag_values=flags.FlagValues())
    assert "model.width=9 differs" in e.value.code and len(seen) == 1


def _files(path) -> dict:
    """Every file under `path` with its bytes and mtime."""
    out = {}
    for root, _, names in os.walk(path):
        for name in names:
            f = os.path.join(root, name)
            with open(f, "rb") as fh:
                out[os.path.relpath(f, path)] = (fh.read(), os.stat(f).st_mtime_ns)
    return out


def test_a_trainer_refused_by_the_workdir_lock_writes_nothing(tmp_path, restore_logging):
    """begin takes the lock before it writes: held through the run function, released after; with another live
    trainer holding it, train is one line and log.txt / config.json stay as they were; sample is not locked."""
    import socket

    workdir, seen = tmp_path / "run", []

    def run_fn(r: project.Run):
        project.begin(r)
        seen.append(json.loads((workdir / "LOCK").read_text())["pid"])

    argv = ["p", f"--workdir={workdir}", f"--config={TOY}"]
    kit = project.Project(("train", "sample"), "train", project.RunFields(("model",)))
    project.main(kit, run_fn, argv, flag_values=flags.FlagValues())
    assert seen == [os.getpid()] and sorted(os.listdir(workdir)) == ["config.json", "log.txt"]  # released
    other = os.getppid()  # a live process on this host: another trainer
    (workdir / "LOCK").write_text(json.dumps({"pid": other, "host": socket.gethostname(), "started": "s"}))
    before = _files(workdir)
    with pytest.raises(SystemExit) as e:
        project.main(kit, run_fn, argv, flag_values=flags.FlagValues())
    assert e.value.code.startswith(f"error: {workdir} is in use by another trainer (pid {other} on host")
    assert "\n" not in e.value.code and len(seen) == 1 and _files(workdir) == before
    project.main(kit, run_fn, [*argv, "--mode=sample"], flag_values=flags.FlagValues())
    assert seen == [os.getpid(), other]  # a reader runs beside the trainer and leaves its lock alone


def test_the_mains_cpu_convolution_flags_are_added_once_and_yield_to_the_users():
    from scoresde.project import CONVOLUTION_FLAGS, use_convolution_flags, with_convolution_flags

    env = {"XLA_FLAGS": "--xla_force_host_platform_device_count=8"}
    assert use_convolution_flags(env)
    assert env["XLA_FLAGS"].split() == ["--xla_force_host_platform_device_count=8", *CONVOLUTION_FLAGS]
    assert with_convolution_flags(env["XLA_FLAGS"]) == env["XLA_FLAGS"]  # not twice
    own = {"XLA_FLAGS": "--xla_cpu_experimental_ynn_fusion_type=individual_convolution"}
    assert not use_convolution_flags(own)  # the user's choice stands
    assert own["XLA_FLAGS"] == "--xla_cpu_experimental_ynn_fusion_type=individual_convolution"
    assert with_convolution_flags("").split() == list(CONVOLUTION_FLAGS)


def test_the_convolution_flags_stay_off_when_asked():
    from scoresde.project import use_convolution_flags

    env = {"XLA_FLAGS": "--xla_force_host_platform_device_count=8", "SCORESDE_CPU_CONVOLUTIONS": "xla"}
    assert not use_convolution_flags(env)
    assert env["XLA_FLAGS"] == "--xla_force_host_platform_device_count=8"
