"""Notebook 08's explorer: capacity, weight decay and dropout against training and validation error.

A polynomial of degree 0..15 is fitted to 15 noisy samples of sin(πx)
(``nblib.regularize.fit_polynomial``: least squares with a ridge penalty λ‖w‖² and, for
dropout p, the penalty that inverted dropout on the features adds in expectation). Each fit
is a small linear solve (microseconds), so nothing needs precomputing: every change refits
all 16 degrees and redraws.

Left: the data, the true function and the fitted polynomial. Right: training and validation
mean squared error against the degree (the U-shaped validation curve), the current degree
marked.
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from .. import regularize as R
from ..plots import BLUE, ORANGE, VERMILION, GREEN
from ._base import Explorer, new_figure
from ._presets import PresetExplorer

__all__ = ["generalisation_curves", "generalisation_explorer", "GENERALISATION_PRESETS", "LAMBDAS", "MAX_DEGREE"]

MAX_DEGREE = 15
#: the λ values of the slider (0: no penalty)
LAMBDAS = (0.0, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)

GENERALISATION_PRESETS = {
    "overfitting": {"degree": 12, "lam": 0.0, "dropout": 0.0},
    "too much decay": {"degree": 12, "lam": 10.0, "dropout": 0.0},
    "just right": {"degree": 12, "lam": 1e-2, "dropout": 0.0},
    "dropout instead": {"degree": 12, "lam": 0.0, "dropout": 0.3},
}

_DATA = {}


def _data():
    if not _DATA:
        _DATA["train"] = R.poly_data(15, seed=0)
        _DATA["val"] = R.poly_data(200, seed=1)
        grid = np.linspace(-1, 1, 200)
        _DATA["grid"] = grid
        # features of the largest degree, computed once: degree d uses the first d + 1 columns
        _DATA["Phi"] = tuple(R.poly_features(v, MAX_DEGREE) for v in (_DATA["train"][0], _DATA["val"][0], grid))
    return _DATA["train"], _DATA["val"]


def _fit(Phi, y, degree, lam, dropout):
    """fit_polynomial on the precomputed features' first ``degree + 1`` columns (the same solver)."""
    return R._ridge(Phi[:, :degree + 1], y, lam, dropout)


def generalisation_curves(degree: int, lam: float, dropout: float) -> dict:
    """Everything the explorer shows, as a plain function.

    Returns ``{"degrees": (16,), "train": (16,), "val": (16,)}`` (MSE of the fit of every
    degree with this λ and dropout), ``"w"`` (the coefficients at ``degree``), ``"x"``/``"fit"``
    (the fitted function on a grid of [-1, 1]) and ``"best_degree"`` (lowest validation MSE).
    """
    (x, y), (xv, yv) = _data()
    Phi, Phi_val, Phi_grid = _DATA["Phi"]
    degrees = np.arange(MAX_DEGREE + 1)
    train, val, chosen = [], [], None
    for d in degrees:
        w = _fit(Phi, y, int(d), float(lam), float(dropout))
        train.append(float(np.mean((Phi[:, :d + 1] @ w - y) ** 2)))
        val.append(float(np.mean((Phi_val[:, :d + 1] @ w - yv) ** 2)))
        if d == degree:
            chosen = w
    return {"degrees": degrees, "train": np.array(train), "val": np.array(val), "w": chosen,
            "x": _DATA["grid"], "fit": Phi_grid[:, :degree + 1] @ chosen,
            "best_degree": int(np.argmin(val))}


def generalisation_explorer(preset=None) -> Explorer:
    """An ``Explorer``: degree, λ and dropout sliders → the fit and the train/validation curves.

    ``preset``: a dict of control values or a name from ``GENERALISATION_PRESETS``
    ("overfitting", "too much decay", "just right", "dropout instead").
    """
    controls = {
        "degree": widgets.IntSlider(value=12, min=0, max=MAX_DEGREE, step=1, description="degree",
                                    continuous_update=True),
        "lam": widgets.SelectionSlider(options=[(f"{v:g}", v) for v in LAMBDAS], value=0.0, description="λ"),
        "dropout": widgets.FloatSlider(value=0.0, min=0.0, max=0.8, step=0.05, description="dropout p"),
    }
    (x, y), (xv, yv) = _data()
    fig, axes = new_figure(9.5, 3.4, ncols=2)
    ax1, ax2 = axes[0]
    grid = np.linspace(-1, 1, 200)
    ax1.plot(grid, np.sin(np.pi * grid), color="0.55", lw=1.5, ls="--", label="true sin(πx)")
    ax1.plot(xv, yv, ".", color=GREEN, ms=3, alpha=0.5, label="validation (200)")
    ax1.plot(x, y, "o", color=BLUE, ms=6, label="training (15)")
    fit_line, = ax1.plot([], [], color=VERMILION, lw=2, label="fitted polynomial")
    ax1.set(xlim=(-1.05, 1.05), ylim=(-2.2, 2.2), xlabel="x", ylabel="y", title="The fit")
    ax1.legend(loc="lower right", fontsize=8)
    train_line, = ax2.plot([], [], "o--", color=BLUE, ms=4, label="training MSE")
    val_line, = ax2.plot([], [], "o-", color=ORANGE, ms=4, label="validation MSE")
    marker = ax2.axvline(12, color=VERMILION, lw=1.5, alpha=0.7)
    ax2.set(xlim=(-0.5, MAX_DEGREE + 0.5), ylim=(1e-3, 1e3), yscale="log", xlabel="polynomial degree (capacity)",
            ylabel="mean squared error", title="Training error falls; validation error is U-shaped")
    ax2.legend(loc="upper left", fontsize=8)

    def update(degree, lam, dropout):
        c = generalisation_curves(degree, lam, dropout)
        fit_line.set_data(c["x"], np.clip(c["fit"], -10, 10))
        train_line.set_data(c["degrees"], np.clip(c["train"], 1e-3, 1e3))
        val_line.set_data(c["degrees"], np.clip(c["val"], 1e-3, 1e3))
        marker.set_xdata([degree, degree])
        tr, va = c["train"][degree], c["val"][degree]
        verdict = ("underfitting: the training error itself is high" if tr > 0.15 else
                   "overfitting: much lower error on training than on validation" if va - tr > 0.15 else
                   "a good balance")
        return (f"degree {degree}, λ = {lam:g}, dropout p = {dropout:g}: training MSE {tr:.3g}, validation MSE "
                f"{va:.3g}, gap {va - tr:.3g} ({verdict}); lowest validation error at degree {c['best_degree']}")

    explorer = PresetExplorer("Generalisation explorer", controls, update, fig, presets=GENERALISATION_PRESETS,
                              dynamic=[fit_line, train_line, val_line, marker])
    return explorer.start(preset)
