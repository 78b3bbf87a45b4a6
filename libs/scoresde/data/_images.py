"""Image sources: a folder of PNG/JPEG files, and scikit-learn's 8x8 digits."""

import os
import struct
import warnings

import numpy as np

_EXTENSIONS = (".png", ".jpg", ".jpeg")


class _TooLarge(Exception):
    """An image whose header gives more pixels than the limit (raised before it is decoded)."""


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def load_image_folder(path: str, image_size: int, *, channels: int = 3, max_pixels: int | None = None) -> np.ndarray:
    """All PNG/JPEG images below `path`, centre-cropped to a square and resized: uint8 (n, S, S, C).

    Each file's pixel size is checked from its header before it is decoded: above `max_pixels` (default
    PIL's MAX_IMAGE_PIXELS, about 89M) it is refused as a possible decompression bomb. That, and an
    unreadable or truncated file, is one ValueError line naming the file.
    """
    from PIL import Image

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
    limit = Image.MAX_IMAGE_PIXELS if max_pixels is None else max_pixels
    out = np.empty((len(files), image_size, image_size, channels), np.uint8)
    for i, f in enumerate(files):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the size is checked just below
                with Image.open(f) as img:  # reads the header only (PIL refuses above twice its limit itself)
                    w, h = img.size
                    if limit is not None and w * h > limit:
                        raise _TooLarge(
                            f"is {w}x{h} = {w * h} pixels, above the limit of {limit} (a decompression bomb?)"
                        )
                    img = img.convert(mode)
                    s = min(w, h)
                    img = img.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
                    img = img.resize((image_size, image_size), Image.BICUBIC)
                    out[i] = np.asarray(img).reshape(image_size, image_size, channels)
        except _TooLarge as e:
            raise ValueError(f"{f} {e}: remove it from the folder") from None
        except Image.DecompressionBombError as e:  # PIL's message names the pixels and its limit
            raise ValueError(f"{f}: {_first_line(e)} Remove it from the folder") from None
        except (OSError, SyntaxError, ValueError, EOFError, struct.error) as e:  # unidentified, truncated, broken
            raise ValueError(f"{f} is not a readable image ({_first_line(e)})") from None
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
