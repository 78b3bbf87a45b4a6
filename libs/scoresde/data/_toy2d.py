"""2-D toy data sets generated from a seed: 25 Gaussians, 8 Gaussians, Swiss roll, two moons, rings."""

import numpy as np

TOY2D = ("25gaussians", "8gaussians", "swissroll", "moons", "rings", "two_modes")


def swiss_roll_curve(u: np.ndarray) -> np.ndarray:
    """The noiseless Swiss-roll curve at parameter u in [0, 1] (scaled to about [-4, 4]^2)."""
    theta = 1.5 * np.pi * (1 + 2 * u)
    return np.stack([theta * np.cos(theta), theta * np.sin(theta)], axis=-1) / 3.5


def toy2d(name: str, n: int, seed: int = 0) -> np.ndarray:
    """n points (float32, shape (n, 2)) of the named 2-D distribution."""
    if name not in TOY2D:
        raise ValueError(f"data.name={name!r} is not one of {', '.join(map(repr, TOY2D))}")
    if n < 1:
        raise ValueError(f"the number of points must be positive, got {n}")
    rng = np.random.default_rng(seed)
    if name == "25gaussians":
        grid = np.array([(i, j) for i in range(-2, 3) for j in range(-2, 3)], float) * 2.0
        x = grid[rng.integers(0, 25, n)] + 0.05 * rng.standard_normal((n, 2))
    elif name == "8gaussians":
        ang = 2 * np.pi * rng.integers(0, 8, n) / 8
        x = 2.0 * np.stack([np.cos(ang), np.sin(ang)], -1) + 0.02**0.5 * rng.standard_normal((n, 2))
    elif name == "swissroll":
        x = swiss_roll_curve(rng.uniform(size=n)) + 0.1 * rng.standard_normal((n, 2))
    elif name == "moons":
        half = rng.integers(0, 2, n)
        ang = np.pi * rng.uniform(size=n)
        x = np.where(
            half[:, None] == 0,
            np.stack([np.cos(ang), np.sin(ang)], -1),
            np.stack([1 - np.cos(ang), 0.5 - np.sin(ang)], -1),
        )
        x = 2.0 * (x - np.array([0.5, 0.25])) + 0.1 * rng.standard_normal((n, 2))
    elif name == "rings":
        r = rng.choice([1.0, 2.0, 3.0], n)
        ang = 2 * np.pi * rng.uniform(size=n)
        x = r[:, None] * np.stack([np.cos(ang), np.sin(ang)], -1) + 0.08 * rng.standard_normal((n, 2))
    else:  # NCSN's 0.8 N((5,5), I) + 0.2 N((-5,-5), I)
        comp = rng.uniform(size=n) < 0.8
        x = np.where(comp[:, None], 5.0, -5.0) + rng.standard_normal((n, 2))
    return x.astype(np.float32)
