"""Fixtures from yang-song/score_sde_pytorch: NCSN++ / DDPM++ (models/ncsnpp.py) and DDPM (models/ddpm.py),
run as they are on random weights (the options whose code cannot run in
PyTorch are in make_score_sde_flax.py); plus small checkpoints in the repository's
own format (run_lib's {'model', 'ema', 'optimizer', 'step'}, DataParallel's 'module.' prefix).

    /tmp/ref/bin/python tools/reference/make_score_sde_pytorch.py     (REFERENCE_SRC=/tmp/src by default)

The repository's `op` package compiles CUDA kernels on import; on CPU its `upfirdn2d` dispatches to the
plain-PyTorch `upfirdn2d_native` in the same file, so the compile step (torch.utils.cpp_extension.load)
is replaced by a no-op before importing it; no file of the reference is changed. This port's
models/ncsnv2.py cannot be constructed (layers.ncsn_conv3x3 scales a bias that bias=False removed), so
NCSNv2's reference is ermongroup/ncsnv2 (make_refinenets.py).
"""

import copy

import numpy as np
import torch
import torch.utils.cpp_extension
from common import OUT, random_weights, save_case, use_reference

torch.utils.cpp_extension.load = lambda *args, **kwargs: None  # op/*.py compile CUDA kernels at import
use_reference("score_sde_pytorch")

import sde_lib  # noqa: E402
from configs.ve import cifar10_ddpm as ve_ddpm  # noqa: E402
from configs.ve import cifar10_ncsnpp as ve_ncsnpp_discrete  # noqa: E402
from configs.ve import cifar10_ncsnpp_continuous as ve_ncsnpp  # noqa: E402
from configs.vp import cifar10_ddpmpp_continuous as vp_ddpmpp  # noqa: E402
from configs.vp.ddpm import cifar10_continuous as vp_ddpm  # noqa: E402
from models import ddpm, ncsnpp  # noqa: E402, F401  (registers the models)
from models import utils as mutils  # noqa: E402
from models.ema import ExponentialMovingAverage  # noqa: E402

REPO = "yang-song/score_sde_pytorch"
NCSNPP_FIELDS = (
    "nf", "ch_mult", "num_res_blocks", "attn_resolutions", "dropout", "resamp_with_conv", "conditional", "fir",
    "fir_kernel", "skip_rescale", "resblock_type", "progressive", "progressive_input", "progressive_combine",
    "init_scale", "embedding_type", "fourier_scale", "nonlinearity",
)  # fmt: skip
DDPM_FIELDS = ("nf", "ch_mult", "num_res_blocks", "attn_resolutions", "dropout", "resamp_with_conv", "nonlinearity")


def config_of(base, *, image_size, channels=3, data=None, **model):
    cfg = base.get_config()
    cfg.device = torch.device("cpu")
    cfg.data.image_size, cfg.data.num_channels, cfg.data.channels = image_size, channels, channels
    for k, v in (data or {}).items():
        setattr(cfg.data, k, v)
    for k, v in model.items():
        setattr(cfg.model, k, v)
    return cfg


def ours(cfg, name, fields, **extra) -> dict:
    """Our model config for the reference's: the same field names, plus the data layout and how it is used."""
    m = {}
    for f in fields:
        if f in cfg.model:  # (the discrete NCSN++ config has no fourier_scale: it embeds positionally)
            v = getattr(cfg.model, f)
            m[f] = list(v) if isinstance(v, tuple | list) else v
    m.update(name=name, image_size=cfg.data.image_size, num_channels=cfg.data.num_channels, centered=cfg.data.centered)
    m.update(extra)
    return m


def randomize(model, seed):
    """Replace every parameter by seeded random values; buffers stay. Returns the fixture's weight record."""
    params = dict(model.named_parameters())
    state = model.state_dict()
    keys = [k for k in state if k in params]
    weights, offsets, scales = random_weights([(k, tuple(state[k].shape)) for k in keys], seed)
    new = {k: (torch.from_numpy(weights[k]) if k in weights else v) for k, v in state.items()}
    model.load_state_dict(new)
    buffers = {k: v.numpy() for k, v in state.items() if k not in params}
    return dict(keys=keys, shapes=[state[k].shape for k in keys], offsets=offsets, scales=scales,
                weights=weights, buffers=buffers)  # fmt: skip


def sde_of(kind, cfg):
    if kind == "ve":
        return sde_lib.VESDE(sigma_min=cfg.model.sigma_min, sigma_max=cfg.model.sigma_max, N=cfg.model.num_scales)
    cls = sde_lib.VPSDE if kind == "vp" else sde_lib.subVPSDE
    return cls(beta_min=cfg.model.beta_min, beta_max=cfg.model.beta_max, N=cfg.model.num_scales)


def run_case(case, cfg, our, *, seed, labels, divisor=None, cond=None, score_sde=None, batch=2):
    """Random weights, fixed inputs; the network's output and (for continuous models) the score."""
    torch.manual_seed(seed)
    model = mutils.get_model(cfg.model.name)(cfg)
    model.eval()
    record = randomize(model, seed)
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(batch, cfg.data.num_channels, cfg.data.image_size, cfg.data.image_size, generator=g)
    if cfg.data.centered:
        x = 2 * x - 1
    inputs = dict(x=x.numpy(), labels=labels.numpy(), c=cond.numpy(), divisor=divisor.numpy())
    with torch.no_grad():
        outputs = dict(net=model(x, labels).numpy())
        if score_sde is not None:
            sde = sde_of(score_sde, cfg)
            t = torch.tensor([0.31, 0.93][:batch])
            inputs.update(t=t.numpy())
            outputs["score"] = mutils.get_score_fn(sde, model, train=False, continuous=True)(x, t).numpy()
            our = dict(our, sde=dict(name=score_sde, sigma_min=cfg.model.sigma_min, sigma_max=cfg.model.sigma_max,
                                     beta_min=cfg.model.beta_min, beta_max=cfg.model.beta_max))  # fmt: skip
    n = sum(p.numel() for p in model.parameters())
    save_case("score_sde_pytorch", case, repo=REPO, model=cfg.model.name, config=our, seed=seed,
              inputs=inputs, outputs=outputs, params_theirs=n, **record)  # fmt: skip
    return model


def ncsnpp_cases():
    # One size for most cases (the tests run them eagerly; shared shapes share compiled ops).
    small = dict(nf=16, ch_mult=(1, 2, 2), num_res_blocks=1, attn_resolutions=(8,))
    sigmas = torch.tensor([0.05, 7.0])

    def fourier(case, seed, base=ve_ncsnpp, score="ve", size=16, channels=3, data=None, **model):
        cfg = config_of(base, image_size=size, channels=channels, data=data, **{**small, **model})
        sbs = cfg.model.scale_by_sigma
        extra = dict(parameterization="scale_by_sigma" if sbs else "score", conditioning="log_sigma")
        div = sigmas if sbs else torch.ones(2)
        run_case(case, cfg, ours(cfg, "ncsnpp", NCSNPP_FIELDS, **extra), seed=seed, labels=sigmas,
                 divisor=div, cond=torch.log(sigmas), score_sde=score if cfg.training.continuous else None)  # fmt: skip

    # score_sde's CIFAR-10 NCSN++ (VE, continuous) layout: FIR, BigGAN, input pyramid 'residual', Fourier.
    fourier("ncsnpp_cifar_layout", 1)
    fourier("ncsnpp_output_skip_input_skip_sum", 2, progressive="output_skip", progressive_input="input_skip")
    fourier("ncsnpp_output_skip_input_skip_cat", 3, progressive="output_skip", progressive_input="input_skip",
            progressive_combine="cat")  # fmt: skip
    # progressive='residual' and DDPM blocks with their x2 Upsample run in the Flax reference instead: this
    # port's Upsample cannot run in PyTorch (FIR conv: w[..., ::-1, ::-1] on a tensor; nearest:
    # F.interpolate(x, size, 'nearest') passes the mode as scale_factor). See make_score_sde_flax.py.
    fourier("ncsnpp_ddpm_blocks_fir_noconv", 6, resblock_type="ddpm", resamp_with_conv=False,
            progressive="output_skip")  # fmt: skip
    fourier("ncsnpp_noskiprescale_elu_noscale", 7, skip_rescale=False, nonlinearity="elu", scale_by_sigma=False,
            fourier_scale=4)  # fmt: skip
    fourier("ncsnpp_unconditional_centered", 8, conditional=False, data=dict(centered=True), progressive_input="none")
    fourier("ncsnpp_8px_attn_everywhere_1ch", 9, size=8, channels=1, ch_mult=(1, 2), num_res_blocks=1,
            attn_resolutions=(8, 4), nonlinearity="lrelu")  # fmt: skip
    fourier("ncsnpp_4_levels_no_attn", 10, ch_mult=(1, 2, 2, 2), num_res_blocks=1, attn_resolutions=(),
            nonlinearity="relu")  # fmt: skip

    # DDPM++ (VP and sub-VP, continuous): positional embedding of 999 t, no FIR, eps-prediction.
    steps = torch.tensor([12.0, 800.5])
    for case, seed, sde in (("ddpmpp_vp", 11, "vp"), ("ddpmpp_subvp", 12, "subvp")):
        cfg = config_of(vp_ddpmpp, image_size=16, **small)
        run_case(case, cfg, ours(cfg, "ncsnpp", NCSNPP_FIELDS, parameterization="eps", conditioning="t999"),
                 seed=seed, labels=steps, divisor=torch.ones(2), cond=steps, score_sde=sde)  # fmt: skip

    # NCSN++ with SMLD's discrete noise levels (configs/ve/cifar10_ncsnpp.py): positional embedding of
    # the level index, output divided by sigmas[index].
    cfg = config_of(ve_ncsnpp_discrete, image_size=16, **small)
    levels = torch.tensor([3, 870])
    sig = torch.tensor(mutils.get_sigmas(cfg))[levels].float()
    run_case("ncsnpp_smld_positional_scale_by_sigma", cfg, ours(cfg, "ncsnpp", NCSNPP_FIELDS),
             seed=13, labels=levels, divisor=sig, cond=levels.float())  # fmt: skip


def ddpm_cases():
    small = dict(nf=32, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(4,))
    steps = torch.tensor([5.0, 640.0])
    cfg = config_of(vp_ddpm, image_size=8, **small)
    run_case("ddpm_vp", cfg, ours(cfg, "ddpm", DDPM_FIELDS, parameterization="eps", conditioning="t999"),
             seed=21, labels=steps, divisor=torch.ones(2), cond=steps, score_sde="vp")  # fmt: skip
    cfg = config_of(vp_ddpm, image_size=8, nf=32, ch_mult=(1, 2), num_res_blocks=2, attn_resolutions=(8, 4),
                    resamp_with_conv=False, nonlinearity="elu")  # fmt: skip
    run_case("ddpm_2_blocks_attn_everywhere_noconv_elu", cfg, ours(cfg, "ddpm", DDPM_FIELDS), seed=22, labels=steps,
             divisor=torch.ones(2), cond=steps)  # fmt: skip
    # DDPM on the VE SDE (configs/ve/cifar10_ddpm.py): data in [0, 1], discrete levels, output / sigmas[index].
    cfg = config_of(ve_ddpm, image_size=8, **small)
    levels = torch.tensor([7, 901])
    sig = torch.tensor(mutils.get_sigmas(cfg))[levels].float()
    run_case("ddpm_ve_scale_by_sigma", cfg, ours(cfg, "ddpm", DDPM_FIELDS), seed=23, labels=levels,
             divisor=sig, cond=levels.float())  # fmt: skip


def checkpoint_files():
    """Small checkpoints exactly as run_lib.py saves them, the model wrapped in DataParallel."""
    cfg = config_of(ve_ncsnpp, image_size=8, nf=4, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(4,))
    torch.manual_seed(41)
    model = torch.nn.DataParallel(mutils.get_model(cfg.model.name)(cfg))
    record = randomize(model, 41)
    ema = ExponentialMovingAverage(model.parameters(), decay=0.999)
    # the EMA differs from the raw weights, so the tests can tell which one was read
    with torch.no_grad():
        for i, p in enumerate(ema.shadow_params):
            p.copy_(
                torch.from_numpy(np.random.RandomState(7000 + i).standard_normal(tuple(p.shape)).astype(np.float32))
                * 0.1
            )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    loss = sum((p**2).sum() for p in model.parameters() if p.requires_grad)
    loss.backward()
    optimizer.step()  # a real optimiser state in the file
    state = dict(optimizer=optimizer, model=model, ema=ema, step=1234)
    saved = {
        "optimizer": state["optimizer"].state_dict(),
        "model": state["model"].state_dict(),
        "ema": state["ema"].state_dict(),
        "step": state["step"],
    }  # fmt: skip  (utils.save_checkpoint)
    path = OUT / "score_sde_pytorch" / "checkpoint_ncsnpp_8px.pth"
    torch.save(saved, path)
    # The outputs of the EMA model, as the reference samples with it (ema.copy_to(model.parameters())).
    ema_model = copy.deepcopy(model)
    ema.copy_to(ema_model.parameters())
    ema_model.eval()
    g = torch.Generator().manual_seed(41)
    x = torch.rand(2, 3, 8, 8, generator=g)
    sigmas = torch.tensor([0.1, 20.0])
    with torch.no_grad():
        out_ema, out_raw = ema_model(x, sigmas).numpy(), model.eval()(x, sigmas).numpy()
    our = ours(cfg, "ncsnpp", NCSNPP_FIELDS, parameterization="scale_by_sigma", conditioning="log_sigma")
    save_case("score_sde_pytorch", "checkpoint_ncsnpp_8px", repo=REPO, model="ncsnpp", config=our, seed=41,
              inputs=dict(x=x.numpy(), labels=sigmas.numpy(), c=torch.log(sigmas).numpy(), divisor=sigmas.numpy()),
              outputs=dict(net=out_ema, net_raw=out_raw), params_theirs=sum(p.numel() for p in model.parameters()),
              extra=dict(checkpoint=path.name), **record)  # fmt: skip


if __name__ == "__main__":
    ncsnpp_cases()
    ddpm_cases()
    checkpoint_files()
