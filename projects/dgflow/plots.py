"""Pictures of a refinement: scatter panels and particle paths for 2-D data, image grids otherwise."""

import os

import numpy as np

from scoresde import viz

TITLES = {"before": "generator", "ddls": "DDLS", "dgflow_kl": "DGflow KL", "dgflow_js": "DGflow JS"}


def _title(method: str) -> str:
    return TITLES.get(
        method, method.replace("dgflow_", "DGflow ").replace("logd", "logD").replace("kl", "KL").replace("js", "JS")
    )


def paths_figure(data: np.ndarray, paths: dict[str, np.ndarray], path: str, *, lim: float) -> str:
    """One panel per method: data in grey, each particle's path as a line from o (start) to x (end)."""
    from scoresde.viz._plots import _pyplot, _save

    plt = _pyplot()
    fig, axes = plt.subplots(1, len(paths), figsize=(3.4 * len(paths), 3.4), squeeze=False)
    for ax, (name, p) in zip(axes[0], paths.items(), strict=True):
        ax.scatter(data[:, 0], data[:, 1], s=1, c="0.75", linewidths=0)
        for i in range(p.shape[1]):
            ax.plot(p[:, i, 0], p[:, i, 1], lw=0.7, alpha=0.8)
        ax.scatter(p[0, :, 0], p[0, :, 1], s=8, marker="o", facecolors="none", edgecolors="k", linewidths=0.5)
        ax.scatter(p[-1, :, 0], p[-1, :, 1], s=10, marker="x", c="r", linewidths=0.7)
        ax.set_title(f"paths: {_title(name)}", fontsize=9)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return path


def write(cfg, out: str, data: np.ndarray, samples: dict[str, np.ndarray], paths: dict[str, np.ndarray]) -> list[str]:
    """Write the pictures under `out`; returns their paths."""
    if cfg.data.name == "toy2d":
        lim = cfg.data.plot_lim
        panels = {"data": data, **{_title(k): v for k, v in samples.items()}}
        files = [viz.scatter_panels(panels, os.path.join(out, "samples.png"), lim=lim, ncols=3)]
        if paths:
            files.append(paths_figure(data, paths, os.path.join(out, "paths.png"), lim=lim))
        return files
    files = [viz.image_grid(data[:64], os.path.join(out, "data.png"), value_range=(-1.0, 1.0))]
    for k, v in samples.items():
        files.append(viz.image_grid(v[:64], os.path.join(out, f"{k}.png"), value_range=(-1.0, 1.0)))
    return files
