"""PNG writers: sizes, layouts and errors."""

import numpy as np
import pytest
from PIL import Image

from scoresde import viz


def test_image_grid_tiles_and_enlarges_small_images(tmp_path):
    imgs = np.zeros((6, 1, 8, 8), np.float32)
    imgs[2] = 1.0
    path = viz.image_grid(imgs, str(tmp_path / "g.png"), ncols=3)
    arr = np.asarray(Image.open(path))
    # 8x8 enlarged 4x to 32x32, 3 columns and 2 rows with 1-pixel borders
    assert arr.shape == (2 * 33 + 1, 3 * 33 + 1)
    assert arr[1 + 5, 1 + 2 * 33 + 5] == 255 and arr[1 + 5, 1 + 5] == 0


def test_image_grid_channels_last_rgb(tmp_path):
    path = viz.image_grid(np.random.rand(4, 32, 32, 3), str(tmp_path / "rgb.png"), value_range=(0, 1))
    assert Image.open(path).mode == "RGB"
    with pytest.raises(ValueError, match="4-D"):
        viz.image_grid(np.zeros((8, 8)), str(tmp_path / "bad.png"))


def test_scatter_panels(tmp_path):
    pts = np.random.default_rng(0).standard_normal((100, 2))
    path = viz.scatter_panels({"a": pts, "b": pts * 2}, str(tmp_path / "s.png"), lim=5)
    assert Image.open(path).size[0] > Image.open(path).size[1]
    with pytest.raises(ValueError, match="panel 'c'"):
        viz.scatter_panels({"c": np.zeros((5, 3))}, str(tmp_path / "x.png"))
