"""Pictures: 2-D particles at several sigma beside the target, particle trajectories, digit/image grids per level."""

import os

import numpy as np

from scoresde import viz


def chosen_levels(n_levels: int, k: int) -> list[int]:
    """k level indices into the path (0 = the source) spread evenly, always including first and last."""
    return sorted({int(round(i)) for i in np.linspace(0, n_levels, max(2, k))})


def write(cfg, out_dir: str, path: np.ndarray, labels: list[str], target: np.ndarray) -> list[str]:
    """Scatter panels (2-D) or image grids per chosen level, and trajectories (2-D); returns the files written."""
    levels = chosen_levels(len(path) - 1, cfg.eval.levels_to_plot)
    files = []
    if path.shape[-1] == 2 and path.ndim == 3:
        panels = {labels[i]: path[i] for i in levels}
        panels["target data"] = target[: path.shape[1]]
        files.append(viz.scatter_panels(panels, os.path.join(out_dir, "particles.png"), lim=cfg.plot_lim))
        files.append(trajectories(path, os.path.join(out_dir, "trajectories.png"), cfg.flow.n_trajectories,
                                  target, cfg.plot_lim))  # fmt: skip
    else:
        for i in levels:
            name = f"grid_level{i:03d}.png"
            files.append(viz.image_grid(np.clip(path[i][:64], -1, 1), os.path.join(out_dir, name), value_range=(-1, 1)))
    return files


def trajectories(path: np.ndarray, file: str, n: int, target: np.ndarray, lim: float) -> str:
    """Paths of the first n particles through the level ends (start: circle, end: dot) over the target."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.scatter(target[:, 0], target[:, 1], s=1, alpha=0.2, color="gray", linewidths=0)
    for j in range(min(n, path.shape[1])):
        ax.plot(path[:, j, 0], path[:, j, 1], lw=0.6, alpha=0.8)
        ax.scatter(path[0, j, 0], path[0, j, 1], s=8, facecolors="none", edgecolors="k", linewidths=0.5)
        ax.scatter(path[-1, j, 0], path[-1, j, 1], s=6, color="k")
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_title("SD-flow trajectories", fontsize=9)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(file)), exist_ok=True)
    fig.savefig(file, dpi=110)
    plt.close(fig)
    return file
