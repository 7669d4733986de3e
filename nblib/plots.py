"""Plot style and small plotting helpers shared by the notebooks.

* ``PALETTE``: the Okabe-Ito colour-blind-safe palette; ``use_course_style()`` makes
  it the default colour cycle and sets font sizes readable on a projector.
* Helpers take an ``ax`` (a matplotlib Axes) and return the artists they made, so
  widgets can update those artists instead of redrawing a figure.

Keep plot text in English (CJK fonts are not on every machine).
"""

from __future__ import annotations

import matplotlib as mpl
import numpy as np

__all__ = ["PALETTE", "BLUE", "ORANGE", "GREEN", "VERMILION", "PURPLE", "SKY", "YELLOW", "BLACK",
           "use_course_style", "loss_curve"]

#: Okabe & Ito (2008): distinguishable with the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
BLUE, ORANGE, GREEN, VERMILION, PURPLE, SKY, YELLOW, BLACK = PALETTE


def use_course_style() -> None:
    """Set matplotlib defaults for the course: palette, readable fonts, light grid.

    Call once at the top of a notebook. Only rcParams change (no global data state).
    """
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
    losses = np.asarray(losses, dtype=float)
    if losses.ndim != 1:
        raise ValueError(f"loss_curve: losses must be 1-D (one value per step), got shape {losses.shape}")
    (line,) = ax.plot(np.arange(len(losses)), losses, label=label, **kwargs)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    if logy:
        ax.set_yscale("log")
    return line
