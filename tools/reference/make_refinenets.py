"""Fixtures from ermongroup/ncsn (`CondRefineNetDilated`, NCSN v1) and ermongroup/ncsnv2 (`NCSNv2`), run as
they are on random weights, plus a small checkpoint of each in its runner's format (DataParallel keys):
ncsn: [state_dict, optimizer]; ncsnv2: [state_dict, optimizer, epoch, step, ema_shadow].

    /tmp/ref/bin/python tools/reference/make_refinenets.py     (REFERENCE_SRC=/tmp/src by default)
"""

import sys
import types

import numpy as np
import torch
from common import OUT, random_weights, save_case, use_reference


def namespace(**sections):
    return types.SimpleNamespace(
        **{k: types.SimpleNamespace(**v) if isinstance(v, dict) else v for k, v in sections.items()}
    )


def randomize(model, seed):
    params = dict(model.named_parameters())
    state = model.state_dict()
    keys = [k for k in state if k in params]
    weights, offsets, scales = random_weights([(k, tuple(state[k].shape)) for k in keys], seed)
    model.load_state_dict({k: (torch.from_numpy(weights[k]) if k in weights else v) for k, v in state.items()})
    buffers = {k: v.numpy() for k, v in state.items() if k not in params}
    return dict(keys=keys, shapes=[state[k].shape for k in keys], offsets=offsets, scales=scales,
                weights=weights, buffers=buffers)  # fmt: skip


def fresh_models_package(name: str):
    """Both repositories name their package `models`: import the one of `name`."""
    for mod in [m for m in sys.modules if m == "models" or m.startswith("models.")]:
        del sys.modules[mod]
    if sys.path and sys.path[0].endswith(("/ncsn", "/ncsnv2")):
        sys.path.pop(0)
    use_reference(name)


def inputs_for(seed, channels, size, batch=2):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, channels, size, size, generator=g)


def ncsn_v1():
    fresh_models_package("ncsn")
    from models.cond_refinenet_dilated import CondRefineNetDilated

    repo = "ermongroup/ncsn"
    for case, seed, size, channels, ngf, levels in (
        ("ncsn_8px", 51, 8, 3, 8, 10),
        ("ncsn_28px_1ch_adjust_padding", 52, 28, 1, 4, 5),
    ):
        cfg = namespace(data=dict(logit_transform=False, channels=channels, image_size=size),
                        model=dict(ngf=ngf, num_classes=levels))  # fmt: skip
        torch.manual_seed(seed)
        model = CondRefineNetDilated(cfg).eval()
        record = randomize(model, seed)
        x = inputs_for(seed, channels, size)
        labels = torch.tensor([0, levels - 2])
        sigmas = np.geomspace(1.0, 0.01, levels).astype(np.float32)
        with torch.no_grad():
            out = model(x, labels).numpy()
        our = dict(name="ncsn", image_size=size, num_channels=channels, ngf=ngf, num_scales=levels, sigma_max=1.0,
                   sigma_min=0.01, centered=False, parameterization="score", conditioning="sigma")  # fmt: skip
        save_case("ermongroup_ncsn", case, repo=repo, model="CondRefineNetDilated", config=our, seed=seed,
                  inputs=dict(x=x.numpy(), labels=labels.numpy(), c=sigmas[labels.numpy()], divisor=np.ones(2)),
                  outputs=dict(net=out), params_theirs=sum(p.numel() for p in model.parameters()),
                  **record)  # fmt: skip

    # a checkpoint as anneal_runner.py saves it: [score.state_dict(), optimizer.state_dict()], DataParallel
    cfg = namespace(data=dict(logit_transform=False, channels=3, image_size=8), model=dict(ngf=4, num_classes=3))
    torch.manual_seed(53)
    model = torch.nn.DataParallel(CondRefineNetDilated(cfg)).eval()
    record = randomize(model, 53)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    torch.save([model.state_dict(), optimizer.state_dict()], OUT / "ermongroup_ncsn" / "checkpoint_ncsn_8px.pth")
    x, labels = inputs_for(53, 3, 8), torch.tensor([0, 2])
    with torch.no_grad():
        out = model(x, labels).numpy()
    sigmas = np.geomspace(1.0, 0.01, 3).astype(np.float32)
    our = dict(name="ncsn", image_size=8, num_channels=3, ngf=4, num_scales=3, sigma_max=1.0, sigma_min=0.01)
    save_case("ermongroup_ncsn", "checkpoint_ncsn_8px", repo=repo, model="CondRefineNetDilated", config=our,
              seed=53, inputs=dict(x=x.numpy(), labels=labels.numpy(), c=sigmas[labels.numpy()], divisor=np.ones(2)),
              outputs=dict(net=out), params_theirs=sum(p.numel() for p in model.parameters()),
              extra=dict(checkpoint="checkpoint_ncsn_8px.pth"), **record)  # fmt: skip


def ncsnv2():
    fresh_models_package("ncsnv2")
    from models import get_sigmas
    from models.ema import EMAHelper
    from models.ncsnv2 import NCSNv2

    repo = "ermongroup/ncsnv2"

    def config(size, channels, ngf, levels, act):
        return namespace(
            data=dict(logit_transform=False, rescaled=False, channels=channels, image_size=size),
            model=dict(ngf=ngf, num_classes=levels, nonlinearity=act, normalization="InstanceNorm++",
                       sigma_begin=50.0, sigma_end=0.01, sigma_dist="geometric"),
            device=torch.device("cpu"),
        )  # fmt: skip

    for case, seed, size, channels, ngf, act in (
        ("ncsnv2_8px", 61, 8, 3, 8, "elu"),
        ("ncsnv2_8px_swish", 62, 8, 3, 8, "swish"),
        ("ncsnv2_28px_1ch_adjust_padding", 63, 28, 1, 4, "elu"),
    ):
        cfg = config(size, channels, ngf, 6, act)
        torch.manual_seed(seed)
        model = NCSNv2(cfg).eval()
        record = randomize(model, seed)
        x, labels = inputs_for(seed, channels, size), torch.tensor([0, 4])
        with torch.no_grad():
            out = model(x, labels).numpy()
        c = get_sigmas(cfg)[labels].numpy()
        our = dict(name="ncsnv2", image_size=size, num_channels=channels, ngf=ngf, nonlinearity=act, centered=False,
                   parameterization="score", conditioning="sigma")  # fmt: skip
        save_case("ermongroup_ncsnv2", case, repo=repo, model="NCSNv2", config=our, seed=seed,
                  inputs=dict(x=x.numpy(), labels=labels.numpy(), c=c, divisor=np.ones(2)), outputs=dict(net=out),
                  params_theirs=sum(p.numel() for p in model.parameters()), **record)  # fmt: skip

    # a checkpoint as ncsn_runner.py saves it: [state_dict, optimizer, epoch, step, ema_helper.state_dict()]
    cfg = config(8, 3, 4, 6, "elu")
    torch.manual_seed(64)
    model = torch.nn.DataParallel(NCSNv2(cfg)).eval()
    record = randomize(model, 64)
    ema = EMAHelper(mu=0.999)
    ema.register(model)
    for i, name in enumerate(ema.shadow):  # the EMA differs from the raw weights
        ema.shadow[name] = torch.from_numpy(
            np.random.RandomState(8000 + i).standard_normal(tuple(ema.shadow[name].shape)).astype(np.float32) * 0.3
        )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    path = OUT / "ermongroup_ncsnv2" / "checkpoint_ncsnv2_8px.pth"
    torch.save([model.state_dict(), optimizer.state_dict(), 7, 4321, ema.state_dict()], path)
    x, labels = inputs_for(64, 3, 8), torch.tensor([1, 5])
    with torch.no_grad():
        out_raw = model(x, labels).numpy()
        out_ema = ema.ema_copy(model).eval()(x, labels).numpy()
    our = dict(name="ncsnv2", image_size=8, num_channels=3, ngf=4)
    save_case("ermongroup_ncsnv2", "checkpoint_ncsnv2_8px", repo=repo, model="NCSNv2", config=our, seed=64,
              inputs=dict(x=x.numpy(), labels=labels.numpy(), c=get_sigmas(cfg)[labels].numpy(), divisor=np.ones(2)),
              outputs=dict(net=out_ema, net_raw=out_raw), params_theirs=sum(p.numel() for p in model.parameters()),
              extra=dict(checkpoint=path.name), **record)  # fmt: skip


if __name__ == "__main__":
    ncsn_v1()
    ncsnv2()
