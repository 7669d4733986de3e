"""Notebook 01's explorer: move a prediction and a logit, watch each loss and its gradient."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from .. import losses as L
from ..plots import BLUE, ORANGE, VERMILION
from ._base import Explorer, new_figure
from ._presets import PresetExplorer

__all__ = ["loss_values", "loss_explorer", "LOSS_PRESETS"]

LOSS_PRESETS = {
    "confident and wrong": {"y_hat": 0.0, "y": 2.0, "z": -5.0, "label": 1},
    "confident and right": {"y_hat": 2.0, "y": 2.0, "z": 5.0, "label": 1},
    "on the fence": {"y_hat": 1.0, "y": 2.0, "z": 0.0, "label": 0},
}


def loss_values(y_hat: float, y: float, z: float, label: int) -> dict:
    """Every number the explorer shows, as a plain function (no widgets, no drawing).

    ``y_hat``, ``y``: a regression prediction and target (floats). ``z``: a binary logit;
    ``label``: 0 or 1. Returns a dict with the MSE and its gradient w.r.t. ``y_hat``, the
    sigmoid probability, the BCE and its gradient w.r.t. ``z``, and the squared error on
    the sigmoid output with its gradient w.r.t. ``z`` (the slow-learning combination).
    """
    p_arr, t_arr = np.array([float(y_hat)]), np.array([float(y)])
    z_arr, l_arr = np.array([float(z)]), np.array([float(label)])
    p = float(L.sigmoid(z_arr)[0])
    return {
        "mse": L.mse(p_arr, t_arr),
        "mse_grad": float(L.mse_grad(p_arr, t_arr)[0]),
        "p": p,
        "bce": L.binary_cross_entropy(z_arr, l_arr),
        "bce_grad": float(L.binary_cross_entropy_grad(z_arr, l_arr)[0]),
        "sq_sigmoid": (p - label) ** 2,
        "sq_sigmoid_grad": 2 * (p - label) * p * (1 - p),
    }


def loss_explorer(preset=None) -> Explorer:
    """An Explorer with two panels.

    Left: MSE and dMSE/dŷ as functions of the prediction ŷ, with the current point.
    Right: for a binary logit z, BCE and its gradient against the squared error on σ(z)
    and its gradient: watch the latter vanish when the model is confidently wrong.
    ``preset``: a dict of control values or a name from ``LOSS_PRESETS``.
    """
    controls = {
        "y_hat": widgets.FloatSlider(value=0.5, min=-3.0, max=5.0, step=0.1, description="ŷ"),
        "y": widgets.FloatSlider(value=2.0, min=-1.0, max=4.0, step=0.1, description="target y"),
        "z": widgets.FloatSlider(value=-4.0, min=-8.0, max=8.0, step=0.1, description="logit z"),
        "label": widgets.ToggleButtons(options=[0, 1], value=1, description="class"),
    }
    fig, axes = new_figure(10.0, 3.6, ncols=2)
    ax1, ax2 = axes[0]
    grid_p = np.linspace(-3.0, 5.0, 161)
    grid_z = np.linspace(-8.0, 8.0, 161)
    mse_line, = ax1.plot([], [], color=BLUE, label="MSE loss")
    mse_g_line, = ax1.plot([], [], color=ORANGE, ls="--", label="dMSE/dŷ")
    mse_dot, = ax1.plot([], [], "o", color=BLUE, ms=8)
    mse_g_dot, = ax1.plot([], [], "o", color=ORANGE, ms=8)
    ax1.axhline(0, color="0.6", lw=1)
    ax1.set(xlabel="prediction ŷ", ylabel="value", xlim=(-3, 5), ylim=(-16, 26),
            title="MSE: gradient grows with the error")
    ax1.legend(loc="upper left")
    bce_line, = ax2.plot([], [], color=BLUE, label="BCE loss")
    bce_g_line, = ax2.plot([], [], color=ORANGE, ls="--", label="dBCE/dz")
    sq_g_line, = ax2.plot([], [], color=VERMILION, ls=":", label="d(σ(z)-y)²/dz")
    bce_dot, = ax2.plot([], [], "o", color=BLUE, ms=8)
    bce_g_dot, = ax2.plot([], [], "o", color=ORANGE, ms=8)
    sq_g_dot, = ax2.plot([], [], "o", color=VERMILION, ms=8)
    ax2.axhline(0, color="0.6", lw=1)
    ax2.set(xlabel="logit z", ylabel="value", xlim=(-8, 8), ylim=(-1.5, 6),
            title="BCE keeps a gradient when confidently wrong")
    ax2.legend(loc="upper center", fontsize=9)
    state = {"key": None}

    def update(y_hat, y, z, label):
        key = (y, label)
        if state["key"] != key:  # the curves depend only on the targets
            state["key"] = key
            t = np.full_like(grid_p, y)
            mse_line.set_data(grid_p, (grid_p - t) ** 2)
            mse_g_line.set_data(grid_p, 2 * (grid_p - t))
            lab = np.full_like(grid_z, float(label))
            p = L.sigmoid(grid_z)
            bce_line.set_data(grid_z, np.maximum(grid_z, 0) - lab * grid_z + np.log1p(np.exp(-np.abs(grid_z))))
            bce_g_line.set_data(grid_z, p - lab)
            sq_g_line.set_data(grid_z, 2 * (p - lab) * p * (1 - p))
        v = loss_values(y_hat, y, z, label)
        mse_dot.set_data([y_hat], [v["mse"]])
        mse_g_dot.set_data([y_hat], [v["mse_grad"]])
        bce_dot.set_data([z], [v["bce"]])
        bce_g_dot.set_data([z], [v["bce_grad"]])
        sq_g_dot.set_data([z], [v["sq_sigmoid_grad"]])
        ratio = abs(v["bce_grad"]) / max(abs(v["sq_sigmoid_grad"]), 1e-300)
        note = ""
        if abs(v["bce_grad"]) > 0.5 and ratio > 10:
            note = f" — squared error on σ(z) is saturated: its gradient is {ratio:.0f}× smaller"
        return (f"MSE = {v['mse']:.3f}, dMSE/dŷ = {v['mse_grad']:+.3f} &nbsp;|&nbsp; "
                f"σ(z) = {v['p']:.3f}, BCE = {v['bce']:.3f}, dBCE/dz = {v['bce_grad']:+.3f}, "
                f"d(σ-y)²/dz = {v['sq_sigmoid_grad']:+.4f}{note}")

    explorer = PresetExplorer("Loss explorer", controls, update, fig, presets=LOSS_PRESETS,
                              dynamic=[mse_dot, mse_g_dot, bce_dot, bce_g_dot, sq_g_dot],
                              background_key=lambda y_hat, y, z, label: (y, label))
    return explorer.start(preset)
