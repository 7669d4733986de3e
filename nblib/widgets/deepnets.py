"""The deep-network explorer of notebook 07: per-layer statistics of a deep MLP at initialisation.

``deepnet_explorer()`` shows, for a stack of hidden layers on the spiral data (210 samples),
the standard deviation of each hidden layer's activations (forward pass) and the norm of each
layer's weight gradient (backward pass), with and without batch normalisation and before and
after clipping the gradient by its global norm. Controls: depth, activation, the initialisation
gain (He × gain), batch norm on/off, clipping max_norm.

The compute is ``layer_stats()``, a plain function (tested without a browser); results are
cached per setting, so moving back to a setting is instant, and a new setting costs one
forward and one backward pass of the network.
"""

from __future__ import annotations

import html
from collections import OrderedDict

import ipywidgets as widgets
import numpy as np

from .._validate import positive_number
from ..norm import DeepMLP, clip_grad_norm
from ..plots import BLUE, ORANGE, VERMILION
from ._base import Explorer, new_figure
from ._presets import PresetExplorer, check_preset

__all__ = ["DEEPNET_PRESETS", "layer_stats", "deepnet_explorer"]

WIDTH = 32
MAX_DEPTH = 20
CLIP_OPTIONS = ("off", "1", "10", "100")
Y_ACT = (1e-6, 1e5)
Y_GRAD = (1e-8, 1e8)

DEEPNET_PRESETS = {
    "He init, no batch norm": dict(depth=10, activation="relu", gain=1.0, batchnorm=False, clip="off"),
    "vanishing (gain 0.5)": dict(depth=10, activation="relu", gain=0.5, batchnorm=False, clip="off"),
    "exploding (gain 2)": dict(depth=10, activation="relu", gain=2.0, batchnorm=False, clip="off"),
    "exploding, clipped at 10": dict(depth=10, activation="relu", gain=2.0, batchnorm=False, clip="10"),
    "exploding, batch norm": dict(depth=10, activation="relu", gain=2.0, batchnorm=True, clip="off"),
    "tanh, 20 layers": dict(depth=20, activation="tanh", gain=1.0, batchnorm=False, clip="off"),
}


def _data():
    from .backprop import make_dataset
    return make_dataset("spirals")


def layer_stats(depth=10, activation="relu", gain=1.0, batchnorm=False, clip="off", seed=0, data=None):
    """Per-layer statistics of a ``DeepMLP([2] + [32]*depth + [3])`` at initialisation (one batch).

    Returns a dict: ``act_std`` (depth,) the standard deviation of each hidden layer's
    activations; ``grad_norm`` (depth + 1,) ``‖dW_l‖`` for every weight matrix; ``clipped_norm``
    the same after ``nblib.norm.clip_grad_norm()`` (equal when ``clip="off"``); ``total`` the
    global gradient norm before clipping; ``factor`` the clipping factor; ``loss``.
    """
    depth = positive_number(depth, "depth", "layer_stats", integer=True)
    X, y = data if data is not None else _data()
    net = DeepMLP([2] + [WIDTH] * depth + [3], activation=activation, batchnorm=bool(batchnorm),
                  gain=float(gain), seed=seed)
    with np.errstate(all="ignore"):
        loss, grads = net.loss_and_grads(X, y)
    L = int(depth) + 1
    act_std = np.array([h.std() for h in net.hidden]) if net.hidden else np.zeros(0)
    if grads is None:            # the forward pass overflowed
        nan = np.full(L, np.nan)
        return dict(act_std=np.pad(act_std, (0, int(depth) - act_std.size), constant_values=np.inf),
                    grad_norm=nan, clipped_norm=nan, total=np.inf, factor=np.nan, loss=np.inf)
    grad_norm = np.array([np.linalg.norm(grads[f"W{i}"]) for i in range(1, L + 1)])
    total = float(np.sqrt(sum(float(np.sum(g * g)) for g in grads.values())))
    factor = 1.0
    if clip != "off":
        clipped, _ = clip_grad_norm(grads, float(clip))
        factor = min(1.0, float(clip) / (total + 1e-6))
        clipped_norm = np.array([np.linalg.norm(clipped[f"W{i}"]) for i in range(1, L + 1)])
    else:
        clipped_norm = grad_norm.copy()
    return dict(act_std=act_std, grad_norm=grad_norm, clipped_norm=clipped_norm, total=total,
                factor=factor, loss=float(loss))


def deepnet_explorer(preset=None, cache_size: int = 64) -> Explorer:
    """Depth, activation, initialisation gain, batch norm and clipping → per-layer statistics.

    Left: the standard deviation of each hidden layer's activations (log scale). Right: the
    norm of each layer's weight gradient before (solid) and after (dashed) clipping, with
    max_norm as a line: after clipping no layer's gradient lies above it. ``preset``: a name
    of ``DEEPNET_PRESETS`` or a dict of settings.
    """
    check_preset("deepnet_explorer", preset)        # before the (slow) build
    cache_size = positive_number(cache_size, "cache_size", "deepnet_explorer", integer=True)
    style = {"description_width": "initial"}
    controls = {
        "depth": widgets.IntSlider(value=10, min=2, max=MAX_DEPTH, description="hidden layers", style=style),
        "activation": widgets.Dropdown(options=("relu", "tanh"), value="relu", description="activation"),
        "gain": widgets.FloatSlider(value=1.0, min=0.5, max=2.0, step=0.1, description="init gain (× He)",
                                    style=style, readout_format=".1f"),
        "batchnorm": widgets.Checkbox(value=False, description="batch norm"),
        "clip": widgets.Dropdown(options=CLIP_OPTIONS, value="off", description="clip max_norm", style=style),
    }
    data = _data()
    fig, axes = new_figure(10.0, 3.8, ncols=2)
    ax_a, ax_g = axes[0]
    layers_x = np.arange(1, MAX_DEPTH + 2)
    act_line, = ax_a.plot([], [], "o-", color=BLUE, ms=4, label="std of activations")
    ax_a.axhline(1.0, color="0.6", lw=0.8)
    ax_a.set(xlabel="hidden layer l", ylabel="std of H_l (log scale)", yscale="log", ylim=Y_ACT,
             xlim=(0.5, MAX_DEPTH + 1.5), title="Forward: size of each layer's activations")
    grad_line, = ax_g.plot([], [], "o-", color=VERMILION, ms=4, label="‖dW_l‖ before clipping")
    clip_line, = ax_g.plot([], [], "s--", color=ORANGE, ms=3, label="‖dW_l‖ after clipping")
    max_line, = ax_g.plot([], [], ":", color="0.3", lw=1.2, label="max_norm")
    ax_g.set(xlabel="weight matrix l (1 = first layer)", ylabel="‖dW_l‖ (log scale)", yscale="log",
             ylim=Y_GRAD, xlim=(0.5, MAX_DEPTH + 1.5), title="Backward: size of each layer's gradient")
    ax_g.legend(loc="upper left", fontsize=8)
    cache = OrderedDict()

    def stats(depth, activation, gain, batchnorm, clip):
        key = (int(depth), activation, round(float(gain), 6), bool(batchnorm), clip)
        if key not in cache:
            cache[key] = layer_stats(*key, data=data)
            if len(cache) > cache_size:
                cache.popitem(last=False)
        cache.move_to_end(key)
        return cache[key]

    def update(depth, activation, gain, batchnorm, clip):
        s = stats(depth, activation, gain, batchnorm, clip)
        a = np.clip(s["act_std"], *Y_ACT)
        act_line.set_data(layers_x[:len(a)], a)
        g = np.clip(s["grad_norm"], *Y_GRAD)
        grad_line.set_data(layers_x[:len(g)], g)
        clip_line.set_data(layers_x[:len(g)], np.clip(s["clipped_norm"], *Y_GRAD))
        if clip == "off":
            max_line.set_data([], [])
        else:
            max_line.set_data([0.5, MAX_DEPTH + 1.5], [float(clip)] * 2)
        setting = (f"{depth} hidden layers, {activation}, He × {gain:.1f}"
                   f"{', batch norm' if batchnorm else ''}")
        if not np.isfinite(s["total"]):
            return f"{html.escape(setting)}: <b>the forward pass overflowed</b> (activations beyond 1e308)."
        first, last = s["grad_norm"][0], s["grad_norm"][-1]
        msg = (f"{html.escape(setting)}: loss at initialisation {s['loss']:.3g}; activations' std in the last "
               f"hidden layer {s['act_std'][-1]:.2g}; ‖dW_1‖ / ‖dW_last‖ = {first / last:.2g}; global gradient "
               f"norm {s['total']:.3g}")
        if clip != "off":
            msg += (f"; clipped at {clip}: every gradient × {s['factor']:.3g}" if s["factor"] < 1 else
                    f"; below max_norm {clip}: clipping changes nothing")
        if s["act_std"][-1] < 1e-3:
            msg += " — <b>vanishing</b>: the signal dies out layer by layer"
        elif s["act_std"][-1] > 1e2:
            msg += " — <b>exploding</b>: each layer enlarges the signal"
        return msg

    explorer = PresetExplorer("Deep network: per-layer statistics at initialisation", controls, update, fig,
                              presets=DEEPNET_PRESETS, dynamic=[act_line, grad_line, clip_line, max_line],
                              background_key=lambda **v: 0)
    explorer.cache = cache
    return explorer.start(preset)
