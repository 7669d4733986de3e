"""Notebook 10's kernel explorer: the plain function, every control changes the view, presets, speed."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nblib import conv as C
from nblib.widgets.conv import KERNELS, feature_maps, kernel_explorer


def _digits(n=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 17, size=(n, 8, 8)).astype(float), np.arange(n) % 10


def test_feature_maps_equal_torch():
    imgs, _ = _digits()
    for name, K in KERNELS.items():
        for pad in (0, 1):
            v = feature_maps(imgs[1], K, pad)
            ref = F.conv2d(torch.tensor(imgs[1])[None, None], torch.tensor(K)[None, None], padding=pad)
            assert np.abs(v["map"] - ref[0, 0].numpy()).max() < 1e-12
            pooled = F.max_pool2d(F.relu(ref), 2)[0, 0].numpy()
            assert np.abs(v["pooled"] - pooled).max() < 1e-12
    # a learner's convolution is used when given
    calls = []

    def mine(x, W, b, s, p):
        calls.append(1)
        return C.conv_forward_naive(x, W, b, s, p)
    assert np.allclose(feature_maps(imgs[0], KERNELS["sharpen"], 1, conv=mine)["map"],
                       feature_maps(imgs[0], KERNELS["sharpen"], 1)["map"]) and calls


def test_every_control_changes_the_view_without_warnings():
    imgs, labels = _digits()
    filters = np.random.default_rng(1).normal(size=(3, 1, 3, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ex = kernel_explorer(imgs, labels, filters=filters)
        seen = [ex.status_text]
        ex.set(image=3)
        seen.append(ex.status_text)
        ex.set(pad=0)
        seen.append(ex.status_text)
        for name in list(KERNELS)[1:] + ["learned 1", "learned 2", "custom"]:
            ex.set(kernel=name)
            seen.append(ex.status_text)
        png = ex._image.value
        for i in range(9):                               # custom: each entry edits the kernel
            ex.set(**{f"k{i}": 1.5 - 0.25 * i})
            seen.append(ex.status_text)
            assert ex._image.value != png
            png = ex._image.value
    assert len(set(seen)) == len(seen), "some control left the status unchanged"
    assert all(not ex.controls[f"k{i}"].disabled for i in range(9))


def test_choosing_a_kernel_shows_it_in_the_disabled_entries_with_one_redraw():
    imgs, labels = _digits()
    ex = kernel_explorer(imgs, labels)
    n = len(ex.timings)
    ex.controls["kernel"].value = "sharpen"                 # as a click in the browser does
    assert len(ex.timings) == n + 1
    assert [ex.controls[f"k{i}"].value for i in range(9)] == list(KERNELS["sharpen"].ravel())
    assert all(ex.controls[f"k{i}"].disabled for i in range(9))
    ex.set(kernel="custom", k4=2.0)
    assert len(ex.timings) == n + 2 and ex.values()["k4"] == 2.0 and ex.values()["k0"] == 0.0
    ex.set(kernel="blur (box)", image=2)
    assert len(ex.timings) == n + 3


def test_presets_and_headless_rendering():
    imgs, labels = _digits()
    ex = kernel_explorer(imgs, labels, filters=np.ones((2, 1, 3, 3)), preset="learned 2")
    assert ex.values()["kernel"] == "learned 2"
    assert set(ex.presets) >= set(KERNELS) | {"learned 1", "learned 2"}
    bundle = ex._repr_mimebundle_()
    assert "image/png" in bundle and "Kernel explorer" in bundle["text/plain"]
    assert kernel_explorer(imgs, preset={"kernel": "sharpen", "pad": 0}).values()["pad"] == 0


def test_every_image_and_kernel_change_redraws_once():
    imgs, labels = _digits(20)
    ex = kernel_explorer(imgs, labels)
    n = len(ex.timings)
    for i in range(1, 16):
        ex.set(image=i % 20)
    for name in KERNELS:
        ex.set(kernel=name)
    assert len(ex.timings) == n + 15 + len(KERNELS)  # speed is the benchmark's job


def test_bad_input_is_named():
    imgs, _ = _digits()
    with pytest.raises(ValueError, match="images must be"):
        kernel_explorer(np.zeros((3, 2, 8, 8)))
    with pytest.raises(ValueError, match="filters must have shape"):
        kernel_explorer(imgs, filters=np.zeros((2, 3, 3, 3)))
    with pytest.raises(ValueError, match="filters must be 4-D"):
        kernel_explorer(imgs, filters=np.zeros((2, 3, 3)))
    with pytest.raises(KeyError, match="no preset"):
        kernel_explorer(imgs, preset="nope")
    with pytest.raises(TypeError, match="preset must be"):
        kernel_explorer(imgs, preset=3)
    with pytest.raises(ValueError, match="kernel must have shape"):
        feature_maps(imgs[0], np.zeros((2, 2)))
