"""Fixture from mseitzer/pytorch-fid: `InceptionV3([3])` (resize to 299, scale to [-1, 1], FID Inception pool3)
and the logits of its `fid_inception_v3()` network, on random weights, run as they are.

    /tmp/ref/bin/python tools/reference/make_inception.py     (REFERENCE_SRC=/tmp/src by default)

pytorch-fid downloads its weights with `load_state_dict_from_url`; here that function returns a state_dict
of seeded random values instead (conv kernels He-scaled, batch-norm statistics and affine maps near
their identity), so nothing is downloaded and no file of the reference is changed.
"""

import sys

import torch
import torch.nn.functional as F
from common import SRC, random_weights, save_case, torchvision_models_only

torchvision_models_only()
sys.path.insert(0, str(SRC / "pytorch-fid" / "src"))

from pytorch_fid import inception as fid  # noqa: E402

SEED = 91


def template_state() -> dict:
    """The names and shapes fid_inception_v3() loads (a first build whose weight loading is skipped)."""
    fid.load_state_dict_from_url = lambda *a, **k: None
    original = torch.nn.Module.load_state_dict
    torch.nn.Module.load_state_dict = lambda self, *a, **k: None
    try:
        return fid.fid_inception_v3().state_dict()
    finally:
        torch.nn.Module.load_state_dict = original


def main():
    state = template_state()
    floats = [(k, tuple(v.shape)) for k, v in state.items() if v.is_floating_point()]
    weights, offsets, scales = random_weights(floats, SEED, he=True)
    loaded = {k: (torch.from_numpy(weights[k]) if k in weights else v) for k, v in state.items()}
    fid.load_state_dict_from_url = lambda *a, **k: loaded

    model = fid.InceptionV3([fid.InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()
    net = fid.fid_inception_v3().eval()
    g = torch.Generator().manual_seed(SEED)
    x = torch.rand(2, 3, 16, 16, generator=g)  # images in [0, 1], resized to 299 inside
    with torch.no_grad():
        pool3 = model(x)[0][:, :, 0, 0].numpy()
        # the logits: the same preprocessing as InceptionV3.forward, then torchvision's Inception3 forward
        x299 = 2 * F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False) - 1
        logits = net(x299).numpy()
    buffers = {k: v.numpy() for k, v in state.items() if not v.is_floating_point()}
    keys = [k for k, _ in floats]
    save_case("pytorch_fid", "fid_inception_v3", repo="mseitzer/pytorch-fid", model="FIDInceptionV3",
              config=dict(resize_input=True, normalize_input=True), seed=SEED, keys=keys,
              shapes=[s for _, s in floats], offsets=offsets, scales=scales, weights=weights, buffers=buffers,
              inputs=dict(x=x.numpy()), outputs=dict(pool3=pool3, logits=logits),
              params_theirs=sum(p.numel() for p in net.parameters()))  # fmt: skip


if __name__ == "__main__":
    main()
