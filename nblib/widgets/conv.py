"""Notebook 10's explorer: pick or edit a 3x3 kernel and watch the feature map of a digit.

Four panels: the digit, the kernel, its feature map (the cross-correlation, with or without
padding) and the map after ReLU and 2x2 max-pooling, as in the first layer of the
notebook's CNN. Presets: edge detectors, blur, sharpen, identity, and (when given) the
filters the network learned. The convolution is any function with the signature of
``nblib.conv.conv_forward_naive()`` (a learner's own, by default ``nblib.conv.conv2d()``).
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from .. import conv as _conv
from .._validate import as_float_array, describe
from ._base import Explorer, new_figure
from ._presets import PresetExplorer

__all__ = ["KERNELS", "feature_maps", "kernel_explorer"]

#: The fixed kernels of the explorer, ``name -> (3, 3)`` array.
KERNELS = {
    "vertical edge (Sobel)": np.array([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]]),
    "horizontal edge (Sobel)": np.array([[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -1.0]]),
    "blur (box)": np.full((3, 3), 1.0 / 9.0),
    "sharpen": np.array([[0.0, -1.0, 0.0], [-1.0, 5.0, -1.0], [0.0, -1.0, 0.0]]),
    "identity": np.array([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]),
    "diagonal edge": np.array([[0.0, 1.0, 2.0], [-1.0, 0.0, 1.0], [-2.0, -1.0, 0.0]]),
}
_LIMIT = 5.0          # the entries' sliders span [-_LIMIT, _LIMIT]


def feature_maps(image, kernel, pad: int = 1, conv=None) -> dict:
    """What the explorer shows, as a plain function.

    ``image``: ``(H, W)``; ``kernel``: ``(3, 3)``; ``pad``: 0 or 1; ``conv``: a function
    ``conv(x (N, C, H, W), W (F, C, HH, WW), b (F,), stride, pad) -> (N, F, H', W')``
    (default ``nblib.conv.conv2d()``). Returns ``{"map": (H', W') feature map,
    "relu": its ReLU, "pooled": ReLU then 2x2 max-pool}``.
    """
    where = "feature_maps"
    img = as_float_array(image, "image", where, ndim=2)
    k = as_float_array(kernel, "kernel", where, ndim=2)
    if k.shape != (3, 3):
        raise ValueError(f"{where}: kernel must have shape (3, 3), got {k.shape}")
    if pad not in (0, 1) or isinstance(pad, bool):
        raise ValueError(f"{where}: pad must be 0 or 1, got {pad!r}")
    conv = _conv.conv2d if conv is None else conv
    if not callable(conv):
        raise TypeError(f"{where}: conv must be a function like nblib.conv.conv2d, got {describe(conv)}")
    out = conv(img[None, None], k[None, None], np.zeros(1), 1, pad)
    if isinstance(out, tuple):
        raise TypeError(f"{where}: conv must return the feature maps only, an array (N, F, H', W'), got a "
                        f"tuple of {len(out)} (an (out, cache) pair? wrap it: lambda *a: conv_forward(*a)[0])")
    fmap = as_float_array(out, "what conv returned", where, ndim=4, finite=False)[0, 0]
    relu = np.maximum(fmap, 0.0)
    pooled = _conv.maxpool2d(relu[None, None], 2, 2)[0, 0]
    return {"map": fmap, "relu": relu, "pooled": pooled}


def kernel_explorer(images=None, labels=None, filters=None, conv=None, preset=None) -> Explorer:
    """An ``Explorer``: a digit, a 3x3 kernel, the feature map and the pooled map.

    ``images``: ``(n, H, W)`` (or ``(n, 1, H, W)``) digits (default: the bundled 8x8 test
    digits of ``nblib.digits.load_digits_split()``, with their labels); ``labels``: their ``(n,)``
    classes, for the titles; ``filters``: optional learned first-layer weights ``(F, 1, 3, 3)``
    (each becomes a kernel choice "learned k"); ``conv``: the convolution to use (a learner's
    ``conv_forward``; default ``nblib.conv.conv2d()``). Controls: ``image`` (index), ``kernel``
    (a named kernel or "custom"), ``pad`` (0 or 1) and the nine entries ``k0`` ... ``k8`` (row by
    row), which edit the kernel when ``kernel="custom"`` and are disabled (showing the chosen
    kernel) otherwise. ``preset``: a dict of control values or the name of a kernel.
    """
    where = "kernel_explorer"
    if images is None:
        from ..digits import load_digits_split
        split = load_digits_split(seed=0)
        images, labels = split.images_test, split.y_test if labels is None else labels
    imgs = as_float_array(images, "images", where, ndim=(3, 4))
    if imgs.ndim == 4:
        if imgs.shape[1] != 1:
            raise ValueError(f"{where}: images must be (n, H, W) or (n, 1, H, W), got shape {imgs.shape}")
        imgs = imgs[:, 0]
    if imgs.shape[1] < 4 or imgs.shape[2] < 4:
        raise ValueError(f"{where}: images must be at least 4x4 pixels, got shape {imgs.shape}")
    labs = None
    if labels is not None:
        labs = np.asarray(labels)
        if labs.shape != (imgs.shape[0],):
            raise ValueError(f"{where}: labels must have shape ({imgs.shape[0]},), one per image, got {labs.shape}")
    kernels = dict(KERNELS)
    if filters is not None:
        f = as_float_array(filters, "filters", where, ndim=4)
        if f.shape[1:] != (1, 3, 3):
            raise ValueError(f"{where}: filters must have shape (F, 1, 3, 3) (first-layer weights), got {f.shape}")
        for i, w in enumerate(f, 1):
            kernels[f"learned {i}"] = np.clip(w[0], -_LIMIT, _LIMIT)
    if conv is not None and not callable(conv):
        raise TypeError(f"{where}: conv must be a function like nblib.conv.conv2d, got {describe(conv)}")
    first = next(iter(KERNELS))
    entry_layout = widgets.Layout(width="190px")
    controls = {
        "image": widgets.IntSlider(value=0, min=0, max=imgs.shape[0] - 1, description="image"),
        "kernel": widgets.Dropdown(options=list(kernels) + ["custom"], value=first, description="kernel"),
        "pad": widgets.ToggleButtons(options=[0, 1], value=1, description="padding"),
    }
    for i in range(9):
        controls[f"k{i}"] = widgets.FloatSlider(value=float(kernels[first].flat[i]), min=-_LIMIT, max=_LIMIT,
                                                step=0.05, description=f"k[{i // 3},{i % 3}]", readout_format=".2f",
                                                disabled=True, layout=entry_layout)
        controls[f"k{i}"].style.description_width = "45px"
    fig, axes = new_figure(10.0, 2.9, ncols=4, dpi=72)
    ax_img, ax_k, ax_map, ax_pool = axes[0]
    H, W = imgs.shape[1:]
    im_img = ax_img.imshow(imgs[0], cmap="gray_r", interpolation="nearest", vmin=0, vmax=max(float(imgs.max()), 1e-9))
    im_k = ax_k.imshow(kernels[first], cmap="RdBu_r", interpolation="nearest", vmin=-2, vmax=2)
    im_map = ax_map.imshow(np.zeros((H, W)), cmap="RdBu_r", interpolation="nearest", vmin=-1, vmax=1)
    im_pool = ax_pool.imshow(np.zeros((H // 2, W // 2)), cmap="magma", interpolation="nearest", vmin=0, vmax=1)
    for ax in (ax_img, ax_k, ax_map, ax_pool):
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
    ax_k.set_title("kernel (red > 0 > blue)")
    ax_img.set_title(f"the digit ({H}x{W})")
    state = {"pad": None}

    def update(image, kernel, pad, **entries):
        K = kernels[kernel] if kernel != "custom" else np.array([entries[f"k{i}"] for i in range(9)]).reshape(3, 3)
        v = feature_maps(imgs[image], K, pad, conv)
        fmap, pooled = v["map"], v["pooled"]
        im_img.set_data(imgs[image])
        name = f"digit {labs[image]}" if labs is not None else f"image {image}"
        im_k.set_data(K)
        kmax = max(float(np.abs(K).max()), 1e-9)
        im_k.set_clim(-kmax, kmax)
        if state["pad"] != pad:              # the map's size changes with the padding: new axes limits
            state["pad"] = pad
            for im, ax, shape in ((im_map, ax_map, fmap.shape), (im_pool, ax_pool, pooled.shape)):
                im.set_extent((-0.5, shape[1] - 0.5, shape[0] - 0.5, -0.5))
                ax.set_xlim(-0.5, shape[1] - 0.5)
                ax.set_ylim(shape[0] - 0.5, -0.5)
            ax_map.set_title(f"feature map {fmap.shape[0]}x{fmap.shape[1]} (pad {pad})")
            ax_pool.set_title(f"ReLU + 2x2 max-pool: {pooled.shape[0]}x{pooled.shape[1]}")
        lim = max(float(np.abs(fmap).max()), 1e-9)
        im_map.set_data(fmap)
        im_map.set_clim(-lim, lim)
        im_pool.set_data(pooled)
        im_pool.set_clim(0, max(float(pooled.max()), 1e-9))
        i, j = np.unravel_index(np.argmax(fmap), fmap.shape)
        active = float(np.mean(fmap > 0))
        return (f"kernel <b>{kernel}</b> on <b>{name}</b>: feature map from {fmap.min():.2f} to {fmap.max():.2f}, "
                f"strongest response at row {i}, column {j}; {active:.0%} of the map is positive (kept by ReLU); "
                f"pooled map {pooled.shape[0]}x{pooled.shape[1]}")

    presets = {name: {"kernel": name} for name in kernels}
    explorer = PresetExplorer("Kernel explorer", controls, update, fig, presets=presets,
                              dynamic=[im_img, im_k, im_map, im_pool],
                              background_key=lambda pad, **rest: pad)

    def sync_entries(change):
        """Show the chosen kernel in the entries (disabled unless "custom"), without extra redraws."""
        custom = change["new"] == "custom"
        was_muted, explorer._muted = explorer._muted, True
        try:
            for i in range(9):
                c = explorer.controls[f"k{i}"]
                if not custom:
                    c.value = float(np.clip(kernels[change["new"]].flat[i], -_LIMIT, _LIMIT))
                c.disabled = not custom
        finally:
            explorer._muted = was_muted

    controls["kernel"].observe(sync_entries, names="value")
    return explorer.start(preset, "a kernel name")
