"""Read MNIST from the IDX files a learner already has (notebook 10); never downloads.

MNIST (the data set of the source article 《一切皆是映射：构建你自己的神经网络：入门指南》) is
distributed as four IDX files, often gzipped::

    train-images-idx3-ubyte(.gz)   train-labels-idx1-ubyte(.gz)
    t10k-images-idx3-ubyte(.gz)    t10k-labels-idx1-ubyte(.gz)

The IDX format: a 4-byte magic number ``0x00 0x00 <type> <ndim>`` (type ``0x08`` =
unsigned byte), then ``ndim`` big-endian uint32 sizes, then the values, row-major.
Images are ``(n, 28, 28)`` uint8 (0 = background, 255 = ink), labels ``(n,)`` uint8.

* ``read_idx()`` -- one IDX file (plain or ``.gz``) as a numpy array;
* ``load_mnist()`` -- the images and labels of one split from a folder, as
  ``(images (n, 1, 28, 28) float64 in [0, 1], labels (n,) int64)``, NCHW for ``nblib.conv``.

``torchvision.datasets.MNIST(root)`` keeps the same files under ``root/MNIST/raw/``, so
a folder prepared by the article's code works too.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from ._validate import describe, positive_number

__all__ = ["read_idx", "find_mnist", "load_mnist", "MNIST_FILES"]

#: split -> (images file, labels file), without the optional ``.gz``
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _as_path(path, name, where):
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{where}: {name} must be a path (str or pathlib.Path), got {describe(path)}")
    return Path(path).expanduser()


def read_idx(path) -> np.ndarray:
    """One IDX file (``.gz`` or plain, by its first two bytes) as an array of its shape and type.

    Raises ``FileNotFoundError`` if it does not exist and ``ValueError`` for a file that is not
    IDX (wrong magic number) or whose length does not match the sizes in its header.
    """
    where = "read_idx"
    path = _as_path(path, "path", where)
    if not path.is_file():
        raise FileNotFoundError(f"{where}: no file at {str(path)!r}")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":                      # gzip's magic number
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise ValueError(f"{where}: {path.name} looks gzipped but could not be decompressed ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES or raw[3] == 0:
        raise ValueError(f"{where}: {path.name} is not an IDX file: expected the magic number 00 00 <type> <ndim>, "
                         f"got {raw[:4].hex(' ') or 'an empty file'}")
    dtype, ndim = np.dtype(_DTYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{where}: {path.name} is truncated: its header promises {ndim} sizes")
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(f"{where}: {path.name} has {len(raw)} bytes but its header (shape {shape}, "
                         f"{dtype.itemsize} byte(s) per value) means {expected}; the file is truncated or damaged")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def find_mnist(root, split: str = "train"):
    """Paths ``(images, labels)`` of ``split`` ("train" or "test") under ``root``.

    Looks in ``root``, ``root/raw``, ``root/MNIST/raw`` (torchvision's layout), each file plain
    or ``.gz``. Raises ``FileNotFoundError`` listing the places searched.
    """
    return _find(root, split, "find_mnist")


def _find(root, split, where):
    root = _as_path(root, "root", where)
    if split not in MNIST_FILES:
        raise ValueError(f"{where}: split must be 'train' or 'test', got {split!r}")
    folders = [root, root / "raw", root / "MNIST" / "raw"]
    found = []
    for stem in MNIST_FILES[split]:
        for folder in folders:
            hits = [folder / (stem + ext) for ext in ("", ".gz") if (folder / (stem + ext)).is_file()]
            if hits:
                found.append(hits[0])
                break
        else:
            raise FileNotFoundError(f"{where}: no {stem} (or {stem}.gz) in {', '.join(str(f) for f in folders)}; "
                                    f"pass the folder that holds MNIST's IDX files")
    return tuple(found)


def load_mnist(root, split: str = "train", limit=None):
    """MNIST's ``split`` from the IDX files under ``root`` (see ``find_mnist()``); nothing is downloaded.

    Returns ``(images, labels)``: ``images`` ``(n, 1, 28, 28)`` float64 in ``[0, 1]`` (pixel / 255),
    NCHW; ``labels`` ``(n,)`` int64 in 0..9. ``limit``: keep only the first ``limit`` images.
    """
    where = "load_mnist"
    if limit is not None:
        limit = positive_number(limit, "limit", where, integer=True)
    img_path, lab_path = _find(root, split, where)
    images, labels = read_idx(img_path), read_idx(lab_path)
    if images.ndim != 3:
        raise ValueError(f"{where}: {img_path.name} should hold images (n, rows, cols), got shape {images.shape}")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise ValueError(f"{where}: {lab_path.name} holds {labels.shape} labels for {images.shape[0]} images; "
                         f"expected one label per image")
    if labels.size and labels.max() > 9:
        raise ValueError(f"{where}: {lab_path.name} has labels up to {int(labels.max())}; MNIST's are 0..9")
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return (images[:, None].astype(np.float64) / 255.0), labels.astype(np.int64)
