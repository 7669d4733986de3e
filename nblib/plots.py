"""Plot style and small plotting helpers shared by the notebooks.

* ``PALETTE``: the Okabe-Ito colour-blind-safe palette; ``use_course_style()`` makes
  it the default colour cycle and sets font sizes readable on a projector.
* Helpers take an ``ax`` (a matplotlib Axes) and return the artists they made, so
  widgets can update those artists instead of redrawing a figure.

Keep plot text in English (CJK fonts are not on every machine).
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes

from ._validate import describe

__all__ = ["PALETTE", "BLUE", "ORANGE", "GREEN", "VERMILION", "PURPLE", "SKY", "YELLOW", "BLACK",
           "use_course_style", "check_ax", "loss_curve", "loss_contour", "trajectory", "loss_curves"]

#: Okabe & Ito (2008): distinguishable with the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
BLUE, ORANGE, GREEN, VERMILION, PURPLE, SKY, YELLOW, BLACK = PALETTE


def _show_figures_as_drawn() -> None:
    """In an IPython kernel: PNG figures without ``bbox_inches="tight"`` (inline backend)."""
    import sys

    try:
        from IPython import get_ipython
        from matplotlib_inline.config import InlineBackend
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    config = InlineBackend.instance(parent=shell)      # read when the inline backend starts
    config.print_figure_kwargs = {**config.print_figure_kwargs, "bbox_inches": None}
    if "matplotlib_inline.backend_inline" in sys.modules:   # already started: register again
        from matplotlib_inline.backend_inline import set_matplotlib_formats
        set_matplotlib_formats(*config.figure_formats, **config.print_figure_kwargs)


def use_course_style() -> None:
    """Set matplotlib defaults for the course: palette, readable fonts, light grid.

    Call once at the top of a notebook, after importing pyplot. Only display settings change
    (no global data state). In Jupyter, figures are shown as drawn: their constrained layout
    already keeps every label inside, so the inline backend's "tight" bounding box, which draws
    every figure a second time to measure it, is switched off.
    """
    _show_figures_as_drawn()
    mpl.rcParams.update({
        "axes.prop_cycle": mpl.cycler(color=PALETTE),
        "figure.figsize": (7.5, 4.2),
        "figure.dpi": 100,
        "font.size": 12,
        "axes.titlesize": 13,
        "axes.labelsize": 12,
        "legend.fontsize": 11,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "lines.linewidth": 2.0,
        "figure.constrained_layout.use": True,
    })


def loss_curve(ax, losses, label: str = "loss", logy: bool = False, **kwargs):
    """Plot a loss history ``losses`` (sequence of floats, one per step) on ``ax``.

    Labels the axes ("step", "loss"); ``logy=True`` uses a log scale (losses must be > 0).
    Returns the Line2D.
    """
    check_ax(ax, "loss_curve")
    losses = np.asarray(losses, dtype=float)
    if losses.ndim != 1:
        raise ValueError(f"loss_curve: losses must be 1-D (one value per step), got shape {losses.shape}")
    (line,) = ax.plot(np.arange(len(losses)), losses, label=label, **kwargs)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    if logy:
        ax.set_yscale("log")
    return line


def check_ax(ax, where: str, name: str = "ax"):
    """Raise ``TypeError`` unless ``ax`` is a matplotlib Axes (e.g. from ``plt.subplots()``)."""
    if not isinstance(ax, Axes):
        raise TypeError(f"{where}: {name} must be a matplotlib Axes (fig, ax = plt.subplots()), got {describe(ax)}")
    return ax


# -- loss surfaces and descent paths (notebooks 02-03) ----------------------------------
def loss_contour(ax, X, Y, Z, levels=None, *, xlabel="w", ylabel="b", minimum=None,
                 filled=True, cmap="Blues", minimum_label="minimum"):
    """Contours of a loss over a 2-D parameter grid ``X, Y, Z`` (equal shapes, e.g. meshgrid).

    ``levels``: contour levels (default: 15 levels spaced geometrically between the
    smallest and the largest value, so the bowl's floor is visible). ``minimum``: an
    optional (2,) point marked with a star. Filled contours are light at the bottom of
    the bowl and darker uphill. Returns the contour set.
    """
    check_ax(ax, "loss_contour")
    X, Y, Z = (np.asarray(a, dtype=float) for a in (X, Y, Z))
    if not (X.shape == Y.shape == Z.shape) or X.ndim != 2:
        raise ValueError(f"loss_contour: X, Y, Z must be 2-D arrays of one shape, got {X.shape}, "
                         f"{Y.shape}, {Z.shape}")
    if levels is None:
        finite = Z[np.isfinite(Z)]
        if finite.size == 0 or finite.min() == finite.max():
            what = "no finite value" if finite.size == 0 else f"the same value {finite.min():g} everywhere"
            raise ValueError(f"loss_contour: Z has {what}: there are no contours to draw; pass levels= "
                             f"or check the loss computed on the grid")
        lo, hi = float(finite.min()), float(finite.max())
        lo = max(lo, hi * 1e-6, 1e-12)
        levels = lo + np.geomspace(1e-3 * (hi - lo) + 1e-12, hi - lo, 15)
    if filled:
        cs = ax.contourf(X, Y, Z, levels=levels, cmap=cmap, alpha=0.6, extend="both")
        ax.contour(X, Y, Z, levels=levels, colors="0.45", linewidths=0.6)
    else:
        cs = ax.contour(X, Y, Z, levels=levels, colors="0.45", linewidths=0.8)
    if minimum is not None:
        ax.plot([minimum[0]], [minimum[1]], marker="*", ms=14, color=YELLOW, mec=BLACK, ls="none",
                label=minimum_label, zorder=5)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_xlim(float(X.min()), float(X.max()))
    ax.set_ylim(float(Y.min()), float(Y.max()))
    ax.grid(False)
    return cs


def trajectory(ax, path, label=None, color=VERMILION, markers=True, **kwargs):
    """Draw a descent path ``path: (k+1, 2)`` (one row per iterate) on ``ax``.

    A line with small markers at each iterate (``markers=False`` for long paths), an
    open circle at the start. Returns ``(line, start_marker)`` so widgets can move them.
    """
    check_ax(ax, "trajectory")
    path = np.asarray(path, dtype=float)
    if path.ndim != 2 or path.shape[1] != 2:
        raise ValueError(f"trajectory: path must have shape (k+1, 2), one (x, y) row per iterate, "
                         f"got shape {path.shape}")
    style = dict(color=color, lw=1.6, ms=3.5, marker="o" if markers else None, zorder=4)
    style.update(kwargs)
    (line,) = ax.plot(path[:, 0], path[:, 1], label=label, **style)
    (start,) = ax.plot(path[:1, 0], path[:1, 1], "o", ms=9, mfc="white", mec=color, mew=2, zorder=5)
    return line, start


def loss_curves(ax, curves, logy=True, xlabel="step", floor=None):
    """Several loss histories on one axes: ``curves`` is ``{label: losses}`` (1-D each).

    Colours follow ``PALETTE`` in order. ``floor``: a value subtracted from every curve
    (e.g. the minimal loss, to plot the gap ``L - L*`` on a log scale). Returns the lines.
    """
    check_ax(ax, "loss_curves")
    if not isinstance(curves, Mapping):
        raise TypeError(f"loss_curves: curves must be a dict {{label: losses}}, got {describe(curves)}")
    lines = []
    for i, (label, losses) in enumerate(curves.items()):
        y = np.asarray(losses, dtype=float)
        if y.ndim != 1:
            raise ValueError(f"loss_curves: curve {label!r} must be 1-D, got shape {y.shape}")
        if floor is not None:
            y = y - floor
        (line,) = ax.plot(np.arange(len(y)), y, label=label, color=PALETTE[i % len(PALETTE)])
        lines.append(line)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("loss" if floor is None else "loss − minimum")
    if logy:
        ax.set_yscale("log")
    if curves:
        ax.legend()
    return lines
