"""nblib.mnist: IDX files written here (plain and gzipped), in the layouts a learner may have."""

import gzip
import struct

import numpy as np
import pytest

from nblib import mnist


def _idx(array, dtype_code=0x08):
    head = bytes([0, 0, dtype_code, array.ndim]) + b"".join(struct.pack(">I", s) for s in array.shape)
    return head + array.astype(">u1" if dtype_code == 0x08 else ">i4").tobytes()


def _write(folder, split, images, labels, gz):
    folder.mkdir(parents=True, exist_ok=True)
    for stem, arr in zip(mnist.MNIST_FILES[split], (images, labels)):
        data = _idx(arr)
        if gz:
            (folder / (stem + ".gz")).write_bytes(gzip.compress(data))
        else:
            (folder / stem).write_bytes(data)


def _small(n=7, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 28, 28)).astype(np.uint8), rng.integers(0, 10, size=n).astype(np.uint8)


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("layout", ["", "raw", "MNIST/raw"])
def test_load_mnist_reads_what_was_written(tmp_path, gz, layout):
    images, labels = _small()
    _write(tmp_path / layout if layout else tmp_path, "test", images, labels, gz)
    X, y = mnist.load_mnist(tmp_path, "test")
    assert X.shape == (7, 1, 28, 28) and X.dtype == np.float64 and y.dtype == np.int64
    assert np.array_equal(X[:, 0] * 255, images.astype(float)) and np.array_equal(y, labels)
    X2, y2 = mnist.load_mnist(str(tmp_path), "test", limit=3)
    assert X2.shape == (3, 1, 28, 28) and np.array_equal(y2, labels[:3])


def test_read_idx_other_types_and_shapes(tmp_path):
    a = np.arange(24, dtype=np.int32).reshape(2, 3, 4) - 5
    (tmp_path / "a.idx").write_bytes(_idx(a, 0x0C))
    got = mnist.read_idx(tmp_path / "a.idx")
    assert got.shape == (2, 3, 4) and np.array_equal(got, a)


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        mnist.load_mnist(tmp_path, "train")
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        mnist.load_mnist(tmp_path, "validation")
    with pytest.raises(TypeError, match="root must be a path"):
        mnist.load_mnist(42)
    (tmp_path / "bad").write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(ValueError, match="not an IDX file"):
        mnist.read_idx(tmp_path / "bad")
    images, labels = _small()
    (tmp_path / "short").write_bytes(_idx(images)[:-10])
    with pytest.raises(ValueError, match="truncated"):
        mnist.read_idx(tmp_path / "short")
    _write(tmp_path / "m", "train", images, labels[:5], gz=False)
    with pytest.raises(ValueError, match="one label per image"):
        mnist.load_mnist(tmp_path / "m", "train")


def test_never_downloads(monkeypatch, tmp_path):
    import socket

    def no_network(*args, **kwargs):
        raise AssertionError("nblib.mnist opened a network connection")
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    images, labels = _small(3)
    _write(tmp_path, "train", images, labels, gz=True)
    assert mnist.load_mnist(tmp_path)[0].shape == (3, 1, 28, 28)
    with pytest.raises(FileNotFoundError):
        mnist.load_mnist(tmp_path, "test")
