"""Image sources: a folder of PNG/JPEG files, and scikit-learn's 8x8 digits."""

import os

import numpy as np

_EXTENSIONS = (".png", ".jpg", ".jpeg")


def load_image_folder(path: str, image_size: int, *, channels: int = 3) -> np.ndarray:
    """All PNG/JPEG images below `path`, centre-cropped to a square and resized: uint8 (n, S, S, C)."""
    from PIL import Image, UnidentifiedImageError

    if not path or not os.path.isdir(path):
        raise ValueError(f"data.path={path!r} is not a folder of PNG/JPEG images")
    files = sorted(
        os.path.join(root, f) for root, _, fs in os.walk(path) for f in fs if f.lower().endswith(_EXTENSIONS)
    )
    if not files:
        raise ValueError(f"data.path={path!r} holds no .png/.jpg/.jpeg images")
    mode = {1: "L", 3: "RGB"}.get(channels)
    if mode is None:
        raise ValueError(f"data.num_channels must be 1 or 3 for an image folder, got {channels}")
    out = np.empty((len(files), image_size, image_size, channels), np.uint8)
    for i, f in enumerate(files):
        try:
            with Image.open(f) as img:
                img = img.convert(mode)
                w, h = img.size
                s = min(w, h)
                img = img.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
                img = img.resize((image_size, image_size), Image.BICUBIC)
                out[i] = np.asarray(img).reshape(image_size, image_size, channels)
        except (UnidentifiedImageError, OSError) as e:
            raise ValueError(f"{f} is not a readable image ({e})") from None
    return out


def load_digits(split: str = "train", *, test_fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1797 8x8 digits as uint8 images (n, 8, 8, 1) in 0..255 and labels; a fixed split."""
    from sklearn.datasets import load_digits as sk_digits

    if split not in ("train", "test"):
        raise ValueError(f"data.split={split!r} is not one of 'train', 'test'")
    d = sk_digits()
    images = np.round(d.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    perm = np.random.default_rng(seed).permutation(len(images))
    n_test = int(round(test_fraction * len(images)))
    idx = perm[n_test:] if split == "train" else perm[:n_test]
    return images[idx], d.target[idx].astype(np.int32)
