"""`interop.load_checkpoint` on files the reference code wrote in its own training format: the EMA weights by
default, the raw weights with ema=False, DataParallel prefixes; and one-line errors for files that do not fit."""

import pickle
import zipfile

import equinox as eqx
import jax
import numpy as np
import pytest

from scoresde import interop

from .fixtures import ROOT, Fixture, rel_err
from .test_reference_equality import TOL, network_output

FILES = [
    ("score_sde_pytorch", "checkpoint_ncsnpp_8px", "score_sde_pytorch", True),
    ("score_sde", "checkpoint_ncsnpp_8px", "score_sde", True),
    ("ermongroup_ncsnv2", "checkpoint_ncsnv2_8px", "ncsnv2", True),
    ("ermongroup_ncsn", "checkpoint_ncsn_8px", "ncsn", False),
    ("dit", "checkpoint_dit_8px", "dit", True),
]


def path_of(fx: Fixture) -> str:
    return str(fx.path.parent / fx.meta["checkpoint"]) if "checkpoint" in fx.meta else str(fx.path.with_suffix(".pt"))


@pytest.mark.parametrize(("reference", "case", "fmt", "has_ema"), FILES, ids=[f[0] for f in FILES])
def test_checkpoint_file_loads_as_the_reference_samples(reference, case, fmt, has_ema):
    fx = Fixture(reference, case)
    cfg, path = fx.config(), path_of(fx)
    if has_ema:
        ema = interop.load_checkpoint(path, cfg, format=fmt)  # ema=True: what the reference samples with
        assert rel_err(network_output(ema, fx), fx.output("net")) <= TOL
        raw = interop.load_checkpoint(path, cfg, format=fmt, ema=False)
        if fx.has("net_raw"):
            assert rel_err(network_output(raw, fx), fx.output("net_raw")) <= TOL
        else:  # DiT's file: the raw weights are half the EMA ones
            a, b = eqx.filter(ema, eqx.is_array), eqx.filter(raw, eqx.is_array)
            for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
                np.testing.assert_allclose(y, 0.5 * x, rtol=1e-6)
    else:
        with pytest.raises(ValueError, match="no EMA weights.*ema=False"):
            interop.load_checkpoint(path, cfg, format=fmt)
        raw = interop.load_checkpoint(path, cfg, format=fmt, ema=False)
        assert rel_err(network_output(raw, fx), fx.output("net")) <= TOL


def _one_line_error(call, *needles):
    with pytest.raises(ValueError) as e:
        call()
    msg = str(e.value)
    assert "\n" not in msg and all(n in msg for n in needles), msg


def test_a_checkpoint_of_another_config_names_the_first_misfit():
    fx = Fixture("score_sde_pytorch", "checkpoint_ncsnpp_8px")
    path = path_of(fx)
    # wider: the first parameter (the Fourier table) has 8 entries, the config wants 16
    _one_line_error(
        lambda: interop.load_checkpoint(path, fx.config(nf=8), format="score_sde_pytorch"),
        "all_modules.0.W",
        "(4,)",
        "expected (8,)",
    )
    # deeper: more modules than the checkpoint has
    _one_line_error(
        lambda: interop.load_checkpoint(path, fx.config(num_res_blocks=2), format="score_sde_pytorch", ema=False),
        "no parameter",
        "expected shape",
    )
    # another architecture altogether
    _one_line_error(
        lambda: interop.load_checkpoint(path, fx.config(resblock_type="ddpm"), format="score_sde_pytorch"),
        path,
        "another architecture or config",
    )
    # a NCSNv2 checkpoint read as NCSN v1
    v2 = Fixture("ermongroup_ncsnv2", "checkpoint_ncsnv2_8px")
    v1_cfg = Fixture("ermongroup_ncsn", "checkpoint_ncsn_8px").config(ngf=4)
    _one_line_error(lambda: interop.load_checkpoint(path_of(v2), v1_cfg, format="ncsn", ema=False), "parameter")
    # a DiT of another image size: its fixed position table does not fit
    dit = Fixture("dit", "checkpoint_dit_8px")
    wrong_size = dit.config(image_size=16)
    _one_line_error(lambda: interop.load_checkpoint(path_of(dit), wrong_size, format="dit"), "pos_embed", "(1, 16, 16)")


def test_bad_format_model_or_file_is_one_line(tmp_path):
    fx = Fixture("score_sde_pytorch", "checkpoint_ncsnpp_8px")
    path = path_of(fx)
    _one_line_error(lambda: interop.load_checkpoint(path, fx.config(), format="pickle"), "format='pickle'")
    _one_line_error(lambda: interop.load_checkpoint(path, fx.config(), format="dit"), "model.name='ncsnpp'")
    _one_line_error(
        lambda: interop.load_checkpoint(path, fx.config(num_classes=3), format="score_sde_pytorch"), "model.num_classes"
    )
    nope = str(tmp_path / "nope.pth")
    _one_line_error(lambda: interop.load_checkpoint(nope, fx.config(), format="score_sde_pytorch"), "does not exist")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"\x00" * 100)
    _one_line_error(lambda: interop.load_checkpoint(str(junk), fx.config(), format="score_sde_pytorch"), "junk.pth")
    _one_line_error(lambda: interop.load_checkpoint(str(junk), fx.config(), format="score_sde"), "junk.pth", "msgpack")

    class Call:  # unpickling this would run os.getcwd: the reader must refuse it
        def __reduce__(self):
            import os

            return os.getcwd, ()

    evil = tmp_path / "evil.pth"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("evil/data.pkl", pickle.dumps(Call(), protocol=2))
    _one_line_error(lambda: interop.load_checkpoint(str(evil), fx.config(), format="score_sde_pytorch"), "refusing")
    # a truncated msgpack checkpoint
    cut = tmp_path / "checkpoint_1"
    cut.write_bytes((ROOT / "score_sde" / "checkpoint_26").read_bytes()[:5000])
    flax_cfg = Fixture("score_sde", "checkpoint_ncsnpp_8px").config()
    _one_line_error(lambda: interop.load_checkpoint(str(cut), flax_cfg, format="score_sde"), "truncated")
