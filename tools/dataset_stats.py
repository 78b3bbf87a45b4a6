"""Inception statistics of a dataset's train split, for FID / KID in `--mode=eval`.

    python tools/dataset_stats.py --inception=pt_inception-2015-12-05-6726825d.pth \
        --data=cifar10 --path=/data/cifar-10-python.tar.gz --out=runs/cifar10_train_stats.npz

Runs every train image (uint8, resized bilinearly to 299x299 as pytorch-fid does) through pytorch-fid's
FID Inception-v3 and writes an .npz with `mu` (2048,), `sigma` (2048, 2048) (pytorch-fid's key names),
`features` (a random subset of at most --keep_features pool3 vectors, for KID) and `n`. Give the file
to the eval mode with --config.eval.dataset_stats=PATH. Every input is checked before any work starts.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

DATASETS = ("cifar10", "image_folder", "digits")
_INCEPTION = flags.DEFINE_string("inception", "", "pytorch-fid's pt_inception-2015-12-05-6726825d.pth (or .npz)")
_DATA = flags.DEFINE_enum("data", "cifar10", list(DATASETS), "which dataset's train split")
_PATH = flags.DEFINE_string("path", "", "cifar10: the archive or extracted folder; image_folder: the folder")
_SIZE = flags.DEFINE_integer("image_size", 32, "image_folder: images are centre-cropped and resized to this")
_CHANNELS = flags.DEFINE_integer("channels", 3, "image_folder: 1 or 3 channels")
_OUT = flags.DEFINE_string("out", "", "where to write the statistics .npz")
_KEEP = flags.DEFINE_integer("keep_features", 5000, "pool3 vectors kept for KID (a random subset)")
_BATCH = flags.DEFINE_integer("batch_size", 50, "images per Inception call")
_MAX = flags.DEFINE_integer("max_examples", 0, "use only the first N train images (0: all)")


def _train_images(data: str, path: str, image_size: int, channels: int):
    from scoresde import data as datasets

    if data == "cifar10":
        return datasets.load_cifar10(path, "train")[0]
    if data == "digits":
        return datasets.load_digits("train")[0]
    if not path:
        raise ValueError("--path is required for --data=image_folder (a folder of PNG/JPEG images)")
    return datasets.load_image_folder(path, image_size, channels=channels)


def _check_out(out: str) -> None:
    if not out or not out.endswith(".npz"):
        raise ValueError(f"--out={out!r} must name the .npz file to write")
    if os.path.isdir(out):
        raise ValueError(f"--out={out!r} is a folder; give a file name ending in .npz")
    folder = os.path.dirname(os.path.abspath(out))
    probe = folder
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ValueError(f"--out={out!r} is not writable ({probe} does not allow writing)")


def compute(
    inception: str,
    data: str,
    out: str,
    *,
    path: str = "",
    image_size: int = 32,
    channels: int = 3,
    keep_features: int = 5000,
    batch_size: int = 50,
    max_examples: int = 0,
) -> dict:
    """Check every input, then write the statistics file; returns the statistics."""
    from scoresde import metrics

    if not inception:
        raise ValueError(f"--inception is required: {metrics.WEIGHTS_HELP}")
    try:
        metrics.check_inception_weights(inception)
    except ValueError as e:
        raise ValueError(f"--inception: {e}") from None
    _check_out(out)
    if keep_features < 0 or batch_size < 1 or max_examples < 0:
        raise ValueError("--keep_features and --max_examples must be >= 0 and --batch_size >= 1")
    try:
        images = _train_images(data, path, image_size, channels)
    except ValueError as e:
        raise ValueError(f"--data={data} --path={path!r}: {e}") from None
    if max_examples:
        images = images[:max_examples]
    if len(images) < 2:
        raise ValueError(f"--data={data} gave {len(images)} image(s); statistics need at least 2")
    model = metrics.load_inception(inception)
    outputs = metrics.inception_outputs(model, images, batch_size=batch_size, progress=True)
    stats = metrics.feature_statistics(outputs["pool3"], keep=keep_features)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    metrics.save_statistics(out, stats)
    return stats


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    try:
        stats = compute(
            _INCEPTION.value,
            _DATA.value,
            _OUT.value,
            path=_PATH.value,
            image_size=_SIZE.value,
            channels=_CHANNELS.value,
            keep_features=_KEEP.value,
            batch_size=_BATCH.value,
            max_examples=_MAX.value,
        )
    except ValueError as e:
        sys.exit(f"error: {str(e).splitlines()[0]}")
    print(f"wrote {_OUT.value}: n={int(stats['n'])}, {len(stats['features'])} features kept")


if __name__ == "__main__":
    app.run(main)
