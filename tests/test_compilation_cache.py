"""The kit's persistent compilation cache: one process writes it, the next one reads instead of compiling."""

import json
import os
import subprocess
import sys

from scoresde import project

# A main through the real kit that jits one small program and reports JAX's cache events.
SCRIPT = """
import json, sys
import jax, jax.numpy as jnp
from ml_collections import ConfigDict
from scoresde import project

def work(run):
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)  # this program compiles in milliseconds
    events = []
    jax.monitoring.register_event_listener(lambda name, **kw: events.append(name))
    jax.jit(lambda x: jnp.sin(x) * 2.0 + 1.0)(jnp.arange(3.0)).block_until_ready()
    print(json.dumps({k: events.count("/jax/compilation_cache/" + k) for k in ("cache_hits", "cache_misses")}))

project.main(project.Project(("sample",), "sample", project.RunFields((), ()), creates=()), work, sys.argv)
"""


def _run(tmp_path, cache: str) -> dict:
    config = tmp_path / "config.py"
    config.write_text("import ml_collections\n\n\ndef get_config():\n    return ml_collections.ConfigDict()\n")
    env = dict(os.environ, SCORESDE_CACHE=cache, JAX_PLATFORMS="cpu")
    cmd = [sys.executable, "-c", SCRIPT, f"--config={config}", f"--workdir={tmp_path / 'run'}"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_second_process_reads_the_programs_the_first_one_compiled(tmp_path):
    cache = tmp_path / "cache"
    first = _run(tmp_path, str(cache))
    written = sorted(os.listdir(cache))
    second = _run(tmp_path, str(cache))
    assert first["cache_hits"] == 0 and first["cache_misses"] >= 1 and written
    assert second["cache_misses"] == 0 and second["cache_hits"] == first["cache_misses"]
    assert sorted(os.listdir(cache)) == written


def test_cache_folder_from_the_environment(tmp_path):
    home = os.path.expanduser("~")
    assert project.cache_dir({}) == os.path.join(home, ".cache", "scoresde", "jax")
    assert project.cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == str(tmp_path / "scoresde" / "jax")
    assert project.cache_dir({}, jax_dir="/elsewhere") == "/elsewhere"  # JAX_COMPILATION_CACHE_DIR is kept
    assert project.cache_dir({"SCORESDE_CACHE": str(tmp_path / "c")}, jax_dir="/elsewhere") == str(tmp_path / "c")
    for off in ("off", "0", "", " None ", "false"):
        assert project.cache_dir({"SCORESDE_CACHE": off}, jax_dir="/elsewhere") is None
    # the suite itself never writes to a user cache (conftest), also not from the subprocesses it starts
    assert project.cache_dir() is None
