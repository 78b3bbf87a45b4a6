"""Every bad input is one line: the real mains over a table of bad command lines, across the three projects.

For each case: exit status != 0, at most two output lines besides jax's start-up line, the error line
names the field or file, and the files under the workdir (or, for an empty --workdir, the current
folder) are unchanged. One driver process per project imports its main once and runs every case in
process (fd-level capture of stdout/stderr, SystemExit caught, flags re-parsed per case by the kit);
a few cases run as real subprocesses for the exit-status path. Run as a script, this file is the driver.
"""

import dataclasses
import json
import os
import socket
import subprocess
import sys

import pytest

from tests._processes import child_env

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROJECTS = ("ncsn", "dgflow", "sdflow")
STARTUP = ("Unable to initialize backend",)  # jax's one INFO line when it looks for accelerators


def _cfg(name: str) -> str:
    return f"--config={os.path.join(ROOT, 'configs', name)}"


# small runs, so that a case that wrongly passes validation finishes quickly (and then fails the test)
BASE = {
    "ncsn": [_cfg("toy2d.py"), "--config.model.width=16", "--config.model.depth=2", "--config.training.batch_size=64",
             "--config.training.n_steps=10", "--config.training.checkpoint_every=10", "--config.training.log_every=10",
             "--config.training.snapshot_every=0", "--config.data.n_train=500", "--config.data.n_test=200",
             "--config.sampling.n_samples=64", "--config.sampling.batch_size=64", "--config.sampling.pc.n_steps=5",
             "--config.eval.n_samples=64"],
    "dgflow": [_cfg("dgflow/grid25.py"), "--config.training.n_steps=10", "--config.training.checkpoint_every=10",
               "--config.training.log_every=10", "--config.training.batch_size=64", "--config.gan.n_critic=1",
               "--config.data.n_train=500", "--config.data.n_test=200", "--config.refine.n_samples=64",
               "--config.refine.batch_size=64", "--config.refine.n_steps=2", "--config.refine.n_paths=0"],
    "sdflow": [_cfg("sdflow/gauss_to_25gaussians.py"), "--config.flow.n_particles=64", "--config.target.n=64",
               "--config.target.n_test=64", "--config.flow.n_levels=2", "--config.flow.steps_per_level=2",
               "--config.learned.n_steps=10", "--config.learned.width=16", "--config.generator.width=16",
               "--config.generator.batch_size=64", "--config.generator.steps_per_level=2"],
}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Case:
    """args after the base command line; needle: what the error line must name; workdir: new | recorded | cwd |
    broken (config.json not JSON) | locked (recorded, and another live trainer holds its LOCK)."""

    project: str
    name: str
    args: tuple[str, ...]
    needle: str
    base: bool = True
    workdir: str = "new"
    subprocess: bool = False


def _image_folder(name: str) -> tuple[str, ...]:
    return ("--config.data.name=image_folder", f"--config.data.path={{tmp}}/{name}", "--config.data.image_size=8",
            "--config.data.num_channels=1")  # fmt: skip


def _cases() -> list[Case]:
    n, d, s = "ncsn", "dgflow", "sdflow"
    C = Case
    return [
        # the command line itself
        C(n, "empty_workdir", ("--workdir=",), "--workdir", workdir="cwd"),
        C(n, "no_workdir", (), "--workdir", workdir="cwd"),
        C(n, "extra_positional", ("extra_arg",), "extra_arg", subprocess=True),
        C(d, "extra_positional", ("one", "two"), "one"),
        C(n, "bad_mode", ("--mode=teleport",), "--mode"),
        C(n, "missing_config_file", (_cfg("nope.py"),), "nope.py", base=False),
        C(n, "config_syntax_error", ("--config={tmp}/syntax.py",), "syntax.py", base=False),
        C(d, "config_without_get_config", ("--config={tmp}/noget.py",), "noget.py", base=False),
        C(s, "config_get_config_raises", ("--config={tmp}/raises.py",), "raises.py", base=False),
        C(n, "config_empty_path", ("--config=",), "--config", base=False),
        C(n, "config_folder", (_cfg("models"),), "models", base=False),
        C(n, "no_config_no_record", ("--mode=sample",), "--config", base=False),
        # config fields: unknown, wrong type
        C(n, "unknown_field", ("--config.training.nonexistent=1",), "training.nonexistent", subprocess=True),
        C(d, "unknown_field", ("--config.refine.etaa=1",), "refine.etaa"),
        C(s, "unknown_field", ("--config.flow.sigma_mx=1",), "flow.sigma_mx"),
        C(n, "group_as_value", ("--config.sampling.pc=3",), "sampling.pc"),
        C(n, "int_field_not_int", ("--config.training.n_steps=abc",), "training.n_steps"),
        C(n, "int_field_float", ("--config.training.batch_size=1.5",), "training.batch_size"),
        C(n, "bool_field_not_bool", ("--config.data.centered=maybe",), "data.centered"),
        C(d, "float_field_not_float", ("--config.refine.eta=fast",), "refine.eta"),
        C(s, "int_field_not_int", ("--config.flow.n_particles=many",), "flow.n_particles"),
        # ncsn values
        C(n, "checkpoint_every_0", ("--config.training.checkpoint_every=0",), "training.checkpoint_every"),
        C(n, "log_every_0", ("--config.training.log_every=0",), "training.log_every"),
        C(n, "steps_per_call_0", ("--config.training.steps_per_call=0",), "training.steps_per_call"),
        C(n, "n_steps_0", ("--config.training.n_steps=0",), "training.n_steps"),
        C(n, "n_steps_negative", ("--config.training.n_steps=-5",), "training.n_steps"),
        C(n, "max_to_keep_0", ("--config.training.max_to_keep=0",), "training.max_to_keep"),
        C(n, "ema_rate_1.5", ("--config.model.ema_rate=1.5",), "model.ema_rate"),
        C(n, "lr_negative", ("--config.optim.lr=-0.001",), "optim.lr"),
        C(n, "unknown_optimizer", ("--config.optim.optimizer=sgdx",), "optim.optimizer"),
        C(n, "warmup_negative", ("--config.optim.warmup=-1",), "optim.warmup"),
        C(n, "n_samples_0", ("--mode=sample", "--config.sampling.n_samples=0"), "sampling.n_samples"),
        C(n, "sampling_batch_0", ("--config.sampling.batch_size=0",), "sampling.batch_size"),
        C(n, "unknown_predictor", ("--config.sampling.pc.predictor=bogus",), "sampling.pc.predictor"),
        C(n, "unknown_parameterization", ("--config.model.parameterization=bogus",), "model.parameterization"),
        C(n, "unknown_conditioning", ("--config.model.conditioning=bogus",), "model.conditioning"),
        C(n, "unknown_loss", ("--config.training.loss=bogus",), "training.loss"),
        C(n, "unknown_sde", ("--config.sde.name=bogus",), "sde.name"),
        C(n, "unknown_data", ("--config.data.name=bogus",), "data.name"),
        C(n, "batch_larger_than_data", ("--config.training.batch_size=1024",), "training.batch_size"),
        C(n, "eval_n_samples_1", ("--mode=eval", "--config.eval.n_samples=1"), "eval.n_samples"),
        # ncsn run record
        C(n, "resume_other_width", ("--config.model.width=32",), "model.width", workdir="recorded"),
        C(n, "sample_other_sde", ("--mode=sample", "--config.sde.name=ve"), "sde.name", base=False,
          workdir="recorded"),
        C(n, "eval_other_seed", ("--mode=eval", "--config.seed=3"), "seed", base=False, workdir="recorded"),
        C(n, "record_not_json", ("--mode=sample",), "config.json", base=False, workdir="broken"),
        C(n, "train_while_locked", (), "in use by another trainer (pid", workdir="locked"),
        # ncsn image folders: a decompression bomb (refused from its header), a truncated file
        C(n, "image_folder_bomb", _image_folder("bombs"), "bomb.png is 10000x10000 = 100000000 pixels, above"),
        C(n, "image_folder_truncated", _image_folder("truncated"), "cut.png is not a readable image"),
        # dgflow values and record
        C(d, "checkpoint_every_0", ("--config.training.checkpoint_every=0",), "training.checkpoint_every",
          subprocess=True),
        C(d, "log_every_0", ("--config.training.log_every=0",), "training.log_every"),
        C(d, "n_steps_0", ("--config.training.n_steps=0",), "training.n_steps"),
        C(d, "batch_larger_than_data", ("--config.training.batch_size=1024",), "training.batch_size"),
        C(d, "lr_negative", ("--config.optim_g.lr=-1.0",), "optim_g.lr"),
        C(d, "unknown_optimizer", ("--config.optim_d.optimizer=sgdx",), "optim_d.optimizer"),
        C(d, "vae_ema_rate_1.5", ("--config.model.kind=vae", "--config.refine.ratio=corrector",
                                  "--config.vae.ema_rate=1.5"), "vae.ema_rate"),
        C(d, "corrector_ema_rate_1.5", ("--config.corrector.train=true", "--config.corrector.ema_rate=1.5"),
          "corrector.ema_rate"),
        C(d, "refine_n_samples_0", ("--config.refine.n_samples=0",), "refine.n_samples"),
        C(d, "unknown_gan_loss", ("--config.gan.loss=bogus",), "gan.loss"),
        C(d, "unknown_f", ("--config.refine.fs=('kx',)",), "refine.fs"),
        C(d, "refine_other_width", ("--mode=refine", "--config.model.generator.width=64"), "model.generator.width",
          base=False, workdir="recorded"),
        C(d, "eval_without_refine", ("--mode=eval",), "--workdir", base=False, workdir="recorded"),
        C(d, "train_while_locked", (), "in use by another trainer", workdir="locked"),
        # sdflow values and record
        C(s, "unknown_method", ("--config.flow.method=bogus",), "flow.method"),
        C(s, "unknown_target_proxy", ("--config.proxy.target=bogus",), "proxy.target"),
        C(s, "steps_per_level_0", ("--config.flow.steps_per_level=0",), "flow.steps_per_level"),
        C(s, "eta_negative", ("--config.flow.eta=-0.5",), "flow.eta"),
        C(s, "sigmas_not_decreasing", ("--config.flow.sigmas=3,2,2",), "flow.sigmas", subprocess=True),
        C(s, "target_n_0", ("--config.target.n=0",), "target.n"),
        C(s, "unknown_target", ("--config.target.name=bogus",), "target.name"),
        C(s, "learned_n_steps_0", ("--mode=train", "--config.proxy.target=learned", "--config.learned.n_steps=0"),
          "learned.n_steps"),
        C(s, "learned_ema_rate_1.5", ("--mode=train", "--config.proxy.target=learned",
                                      "--config.learned.ema_rate=1.5"), "learned.ema_rate"),
        C(s, "learned_lr_negative", ("--mode=train", "--config.proxy.target=learned", "--config.optim.lr=-1.0"),
          "optim.lr"),
        C(s, "generator_checkpoint_every_0", ("--mode=train", "--config.flow.method=generator",
                                              "--config.generator.checkpoint_every=0"), "generator.checkpoint_every"),
        C(s, "flow_other_target", ("--config.target.name=swissroll",), "target.name", base=False,
          workdir="recorded"),
        C(s, "eval_without_flow", ("--mode=eval",), "--workdir", base=False, workdir="recorded"),
        C(s, "flow_while_locked", (), "in use by another trainer", workdir="locked"),
    ]  # fmt: skip


CASES = _cases()

CONFIG_FILES = {
    "syntax.py": "def get_config(:\n    return 1\n",
    "noget.py": "from configs.dgflow.grid25 import get_config as other\n",
    "raises.py": "def get_config():\n    raise KeyError('target')\n",
}


def _png(width: int, height: int, idat: bytes | None = None) -> bytes:
    """A 1-bit greyscale PNG written chunk by chunk; its pixels all 0 unless `idat` (the compressed rows) is given.
    10000 x 10000 zeros (12.5 MB of rows, 1e8 pixels once decoded) compress to about 12 KB."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = zlib.compress(bytes(height * (1 + (width + 7) // 8)), 9) if idat is None else idat
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def _image_folders(tmp: str) -> None:
    """{tmp}/bombs: one good 8x8 image and a 10000 x 10000 bomb; {tmp}/truncated: a good one and one cut short."""
    import numpy as np
    from PIL import Image

    noise = (np.random.default_rng(0).random((64, 64)) * 255).astype(np.uint8)
    for name, bad, data in (("bombs", "bomb.png", _png(10000, 10000)), ("truncated", "cut.png", None)):
        os.makedirs(os.path.join(tmp, name))
        Image.fromarray(noise[:8, :8]).save(os.path.join(tmp, name, "good.png"))
        if data is None:
            Image.fromarray(noise).save(os.path.join(tmp, name, bad))
            with open(os.path.join(tmp, name, bad), "rb") as f:
                data = f.read()[:-600]  # the rows stop part way
        with open(os.path.join(tmp, name, bad), "wb") as f:
            f.write(data)


def _listing(path: str) -> dict[str, tuple[int, int]] | None:
    """Every file under `path` with (size, mtime_ns); None if `path` does not exist."""
    if not os.path.exists(path):
        return None
    out = {}
    for root, _, files in os.walk(path):
        for f in files:
            st = os.stat(os.path.join(root, f))
            out[os.path.relpath(os.path.join(root, f), path)] = (st.st_size, st.st_mtime_ns)
    return out


def _env(devices: int = 1) -> dict:
    return child_env(devices, PYTHONPATH=ROOT)


def _record(project: str, workdir: str) -> None:
    """A run record as the project's first train writes it (the kit's own resolve and writer)."""
    from scoresde import project as kit

    sys.path.insert(0, ROOT)
    path = BASE[project][0].split("=", 1)[1]
    overrides = [tuple(a[len("--config.") :].split("=", 1)) for a in BASE[project][1:]]
    cfg = kit.freeze(kit.override(kit.load_config_file(path), overrides))
    kit.write_json_atomic(kit.record_path(workdir), kit.to_plain(cfg))


def _argv(case: Case, tmp: str, workdir: str) -> list[str]:
    args = [a.replace("{tmp}", tmp) for a in case.args]
    flags = [] if case.workdir == "cwd" else [f"--workdir={workdir}"]
    return [os.path.join(ROOT, "projects", case.project, "main.py"), *flags, *(BASE[case.project] * case.base), *args]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """Run every case once: one in-process driver per project plus the real subprocesses, all concurrently."""
    tmp = str(tmp_path_factory.mktemp("bad_inputs"))
    for name, text in CONFIG_FILES.items():
        with open(os.path.join(tmp, name), "w") as f:
            f.write(text)
    cwd = os.path.join(tmp, "cwd")
    os.makedirs(cwd)
    _image_folders(tmp)
    plan, procs = {}, {}
    for i, case in enumerate(CASES):
        workdir = cwd if case.workdir == "cwd" else os.path.join(tmp, f"w{i}")
        if case.workdir in ("recorded", "locked"):
            _record(case.project, workdir)
        if case.workdir == "locked":  # this test process is the live trainer holding the workdir
            with open(os.path.join(workdir, "LOCK"), "w") as f:
                json.dump({"pid": os.getpid(), "host": socket.gethostname(), "started": "2024-05-01T10:00:00"}, f)
        if case.workdir == "broken":
            os.makedirs(workdir)
            with open(os.path.join(workdir, "config.json"), "w") as f:
                f.write('{"seed": 0,')
        plan[case] = (workdir, _argv(case, tmp, workdir), _listing(workdir))
    for p in PROJECTS:
        argvs = [plan[c][1] for c in CASES if c.project == p and not c.subprocess]
        path = os.path.join(tmp, f"{p}.json")
        with open(path, "w") as f:
            json.dump(argvs, f)
        cmd = [sys.executable, os.path.abspath(__file__), p, path, path + ".out"]
        procs[p] = subprocess.Popen(cmd, env=_env(), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for case in CASES:
        if case.subprocess:
            cmd = [sys.executable, *plan[case][1]]
            procs[case] = subprocess.Popen(cmd, env=_env(), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                           text=True)  # fmt: skip
    done = {key: proc.communicate(timeout=600) for key, proc in procs.items()}
    results = {}
    for p in PROJECTS:
        assert procs[p].returncode == 0, done[p][1][-3000:]
        with open(os.path.join(tmp, f"{p}.json.out")) as f:
            rows = iter(json.load(f))
        results.update({c: next(rows) for c in CASES if c.project == p and not c.subprocess})
    for case in CASES:
        if case.subprocess:
            results[case] = {"rc": procs[case].returncode, "out": done[case][0]}
    return {case: (results[case], plan[case]) for case in CASES}


def test_the_table_covers_forty_cases_across_the_projects():
    assert len(CASES) >= 40 and len({(c.project, c.name) for c in CASES}) == len(CASES)
    assert {c.project for c in CASES if c.subprocess} == set(PROJECTS)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.project}-{c.name}")
def test_bad_input_is_one_line_and_writes_nothing(outcomes, case):
    result, (workdir, argv, before) = outcomes[case]
    lines = [line for line in result["out"].splitlines() if line.strip()]
    shown = [line for line in lines if not any(s in line for s in STARTUP)]
    context = f"{' '.join(argv[1:])}\n" + "\n".join(lines[-20:])
    assert result["rc"] != 0, context
    assert 1 <= len(shown) <= 2, context
    assert shown[-1].startswith("error: ") and case.needle in shown[-1], context
    assert _listing(workdir) == before, context


# ---- the driver: python tests/projects/test_bad_inputs.py PROJECT CASES.json OUT.json ----------------------------
def _captured(fn) -> tuple[int, str]:
    """Run fn with file descriptors 1 and 2 in a temporary file; (exit status as Python would give, output)."""
    import tempfile
    import traceback

    sys.stdout.flush(), sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile(mode="w+") as f:
        os.dup2(f.fileno(), 1), os.dup2(f.fileno(), 2)
        try:
            fn()
            rc = 0
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            if isinstance(e.code, str):
                print(e.code, file=sys.stderr)
        except BaseException:  # noqa: B036 (a traceback is a failed case, reported in full)
            traceback.print_exc()
            rc = 1
        finally:
            sys.stdout.flush(), sys.stderr.flush()
            os.dup2(saved[0], 1), os.dup2(saved[1], 2)
            os.close(saved[0]), os.close(saved[1])
        f.seek(0)
        return rc, f.read()


def _drive(project: str, cases_path: str, out_path: str) -> None:
    import importlib

    sys.path.insert(0, ROOT)
    main = importlib.import_module(f"projects.{project}.main")
    with open(cases_path) as f:
        argvs = json.load(f)
    rows = []
    for argv in argvs:
        rc, out = _captured(lambda argv=argv: main.project.main(main.PROJECT, main.run, argv=argv))
        rows.append({"rc": rc, "out": out})
    with open(out_path, "w") as f:
        json.dump(rows, f)


if __name__ == "__main__":
    _drive(*sys.argv[1:4])
