"""PNG pictures: 2-D scatter panels and image grids (matplotlib's Agg backend, no screen needed)."""

import os
from collections.abc import Mapping, Sequence

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def scatter_panels(
    panels: Mapping[str, np.ndarray],
    path: str,
    *,
    lim: float | None = None,
    point_size: float = 1.0,
    ncols: int | None = None,
) -> str:
    """One scatter plot per named (n, 2) point cloud, side by side, saved to `path` (PNG)."""
    plt = _pyplot()
    names = list(panels)
    ncols = ncols or len(names)
    nrows = -(-len(names) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 3.2 * nrows), squeeze=False)
    for ax in axes.flat[len(names) :]:
        ax.axis("off")
    for ax, name in zip(axes.flat, names, strict=False):
        pts = np.asarray(panels[name])
        if pts.ndim != 2 or pts.shape[1] != 2:
            raise ValueError(f"panel {name!r} must be (n, 2) points, got shape {pts.shape}")
        ax.scatter(pts[:, 0], pts[:, 1], s=point_size, alpha=0.5, linewidths=0)
        ax.set_title(name, fontsize=9)
        ax.set_aspect("equal")
        if lim is not None:
            ax.set_xlim(-lim, lim)
            ax.set_ylim(-lim, lim)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return path


def image_grid(
    images: np.ndarray,
    path: str,
    *,
    ncols: int | None = None,
    value_range: Sequence[float] = (0.0, 1.0),
    min_side: int = 32,
) -> str:
    """Tile (n, H, W, C) or (n, C, H, W) images into one PNG; values clipped to `value_range`.

    Images smaller than `min_side` pixels are enlarged by an integer factor (nearest neighbour).
    """
    from PIL import Image

    imgs = np.asarray(images, dtype=np.float32)
    if imgs.ndim != 4:
        raise ValueError(f"images must be 4-D (n, H, W, C) or (n, C, H, W), got shape {imgs.shape}")
    if imgs.shape[1] in (1, 3) and imgs.shape[-1] not in (1, 3):
        imgs = imgs.transpose(0, 2, 3, 1)
    lo, hi = value_range
    imgs = np.clip((imgs - lo) / (hi - lo), 0, 1)
    factor = max(1, min_side // imgs.shape[1])
    imgs = imgs.repeat(factor, axis=1).repeat(factor, axis=2)
    n, h, w, c = imgs.shape
    ncols = ncols or int(np.ceil(np.sqrt(n)))
    nrows = -(-n // ncols)
    grid = np.ones((nrows * (h + 1) + 1, ncols * (w + 1) + 1, c), np.float32)
    for i in range(n):
        r, q = divmod(i, ncols)
        grid[1 + r * (h + 1) : 1 + r * (h + 1) + h, 1 + q * (w + 1) : 1 + q * (w + 1) + w] = imgs[i]
    arr = (grid * 255).round().astype(np.uint8)
    img = Image.fromarray(arr[..., 0] if c == 1 else arr)
    _save_pil(img, path)
    return path


def _save(fig, path: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=110)
    os.replace(tmp, path)


def _save_pil(img, path: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp.png"
    img.save(tmp)
    os.replace(tmp, path)
