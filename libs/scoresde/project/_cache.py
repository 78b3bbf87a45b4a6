"""JAX's persistent compilation cache for every run, so that a resumed train, a sample or an eval reuses the
programs an earlier process compiled (the DDPM++ train step alone takes tens of seconds to compile on CPU).

Where: `$SCORESDE_CACHE` if set (`off`, `0`, `none`, `false` or empty turn the cache off), else a
`jax_compilation_cache_dir` the user already gave JAX (JAX_COMPILATION_CACHE_DIR), else
`$XDG_CACHE_HOME/scoresde/jax` (default `~/.cache/scoresde/jax`): a per-user cache, not a folder of the run,
so it is not copied around with run folders. JAX trusts what it reads there: the folder is made private (0700).
"""

import os

from absl import logging as absl_logging

ENV = "SCORESDE_CACHE"
OFF = ("", "0", "off", "none", "false", "no")
# Programs that compile faster than this are not written (reading them back would not save time); the train
# steps, samplers and evals of the image configs all take longer.
MIN_COMPILE_SECS = 0.5


def cache_dir(environ=None, jax_dir: str | None = None) -> str | None:
    """The cache folder the kit uses (None: off), from the environment and JAX's own setting."""
    environ = os.environ if environ is None else environ
    value = environ.get(ENV)
    if value is not None:
        return None if value.strip().lower() in OFF else os.path.abspath(os.path.expanduser(value.strip()))
    if jax_dir:
        return jax_dir
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "scoresde", "jax")


def enable_compilation_cache() -> str | None:
    """Point JAX's persistent compilation cache at `cache_dir()` (or turn it off); returns the folder.

    Call before anything is compiled. A folder that cannot be made is one warning line and no cache.
    """
    import jax

    path = cache_dir(jax_dir=jax.config.jax_compilation_cache_dir)
    if path is None:
        jax.config.update("jax_enable_compilation_cache", False)
        return None
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError as e:
        absl_logging.warning("compilation cache off: cannot make %s (%s); set %s=off to silence this", path, e, ENV)
        jax.config.update("jax_enable_compilation_cache", False)
        return None
    jax.config.update("jax_enable_compilation_cache", True)
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECS)
    return path
