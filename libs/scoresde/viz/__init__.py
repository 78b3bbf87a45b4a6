"""Pictures as PNG files: 2-D scatter panels and image grids."""

from ._plots import image_grid, scatter_panels

__all__ = ["scatter_panels", "image_grid"]
