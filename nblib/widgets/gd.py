"""Explorers for notebooks 02 and 03.

* :func:`gd_explorer` -- gradient descent on the seed-001 line ``y = 2 + 3x + noise``:
  sliders for the learning rate, the number of steps and the start ``(w0, b0)``; it
  redraws the path on the loss contours, the loss curve and the fitted line, and says in
  words when a run diverges ("diverged after k steps: lr above 2/λ_max = ...").
* :func:`optimizer_race` -- SGD, Momentum, RMSProp and Adam (from :mod:`nblib.optim`)
  on a test surface (:mod:`nblib.surfaces`): paths on the contours and loss curves.

Both take ``preset=`` (a name from ``GD_PRESETS`` / ``RACE_PRESETS`` or a dict of
control values), so an instructor can show one situation in one call::

    gd_explorer(preset="diverging")
    optimizer_race(preset={"surface": "rosenbrock", "lr": 1e-3, "steps": 400})

The compute lives in plain functions (:func:`gd_run`, :func:`race_run`) and each
explorer's ``update_fn(**values)`` only moves existing artists (paths, curves, the
fitted line are blitted over a cached background), so tests can call them directly.
"""

from __future__ import annotations

import math

import ipywidgets as widgets
import numpy as np

from .. import gd, optim
from ..data import linear_data
from ..plots import BLACK, BLUE, GREEN, ORANGE, VERMILION, loss_contour
from ..surfaces import SURFACES, get_surface
from ._base import Explorer, new_figure

__all__ = ["gd_run", "gd_explorer", "GD_PRESETS", "race_path", "race_run", "make_optimizer",
           "optimizer_race", "RACE_PRESETS", "on_log_grid",
           "RACE_COLORS"]

# ---------------------------------------------------------------------------------------
# notebook 02: gradient descent on the line
# ---------------------------------------------------------------------------------------
GD_PRESETS = {
    "too small": {"lr": 0.01, "steps": 60, "w0": -2.0, "b0": 7.0},
    "good": {"lr": 0.15, "steps": 60, "w0": -2.0, "b0": 7.0},
    "oscillating": {"lr": 0.31, "steps": 60, "w0": -2.0, "b0": 7.0},
    "diverging": {"lr": 0.34, "steps": 60, "w0": -2.0, "b0": 7.0},
    "far start": {"lr": 0.15, "steps": 100, "w0": 8.0, "b0": -3.0},
}


def gd_run(lr, steps, w0, b0, x=None, y=None) -> dict:
    """Run GD on the line from ``(w0, b0)`` and describe the result (no widgets, no drawing).

    ``x, y`` default to :func:`nblib.data.linear_data` (the seed-001 example). Returns a
    dict: ``history`` (:class:`nblib.gd.History`), ``w_star``, ``b_star``, ``loss_star``
    (least squares), ``critical`` (2/λ_max), ``status`` (a sentence, HTML-free).
    """
    if x is None or y is None:
        x, y = linear_data()
    f = gd.linreg_objective(x, y)
    w_star, b_star = gd.least_squares(x, y)
    loss_star = gd.linreg_loss(w_star, b_star, x, y)
    critical = gd.critical_lr(x)
    lam_max = 2.0 / critical
    hist = gd.gradient_descent(f, [w0, b0], lr, int(steps), critical=critical)
    ratio = lr / critical
    if hist.diverged:
        if hist.step is not None and hist.step < steps or not np.isfinite(hist.losses[-1]):
            what = hist.cause.split(" at step")[0]  # "loss became inf" or "loss grew above ..."
            status = (f"diverged after {hist.step} steps ({what}): lr = {lr:.3g} is above "
                      f"2/λ_max = {critical:.4f}")
        else:
            status = (f"diverging: the loss grew from {hist.losses[0]:.3g} to {hist.losses[-1]:.3g} in "
                      f"{hist.steps} steps; lr = {lr:.3g} is above 2/λ_max = {critical:.4f}")
    else:
        w, b = hist.final
        gap = float(np.hypot(w - w_star, b - b_star))
        status = (f"after {hist.steps} steps: w = {w:.4f}, b = {b:.4f}, loss = {hist.losses[-1]:.4f} "
                  f"(least squares: w* = {w_star:.4f}, b* = {b_star:.4f}, loss {loss_star:.4f}; "
                  f"distance {gap:.2g}). lr = {ratio:.2f} × 2/λ_max")
        if lr > 1.0 / lam_max:
            status += "; above 1/λ_max, so w overshoots and oscillates around w*"
        elif gap > 0.05:
            status += "; not converged yet: more steps or a larger lr"
    return {"history": hist, "w_star": w_star, "b_star": b_star, "loss_star": loss_star,
            "critical": critical, "status": status}


def gd_explorer(preset=None, x=None, y=None) -> Explorer:
    """An :class:`Explorer` for gradient descent on the line ``ŷ = w x + b``.

    Controls: ``lr`` (learning rate), ``steps``, ``w0``, ``b0`` (the start).
    Panels: the MSE contours over (w, b) with the GD path; the loss per step (log
    scale) with the least-squares minimum; the data with the true line, the
    least-squares line and the current GD line. ``preset``: a name from ``GD_PRESETS``
    or a dict of control values.
    """
    if x is None or y is None:
        x, y = linear_data()
    controls = {
        "lr": widgets.FloatSlider(value=0.15, min=0.005, max=0.4, step=0.005, readout_format=".3f",
                                  description="lr", continuous_update=True),
        "steps": widgets.IntSlider(value=40, min=1, max=200, description="steps"),
        "w0": widgets.FloatSlider(value=-2.0, min=-3.0, max=9.0, step=0.25, description="w0"),
        "b0": widgets.FloatSlider(value=7.0, min=-4.0, max=8.0, step=0.25, description="b0"),
    }
    w_star, b_star = gd.least_squares(x, y)
    critical = gd.critical_lr(x)
    fig, axes = new_figure(12.5, 3.9, ncols=3)
    ax_c, ax_l, ax_d = axes[0]
    W, B = np.meshgrid(np.linspace(-3, 9, 121), np.linspace(-4, 8, 121))
    Z = gd.linreg_loss_grid(W, B, x, y)
    loss_contour(ax_c, W, B, Z, levels=np.geomspace(0.3, 300, 13), minimum=(w_star, b_star),
                 minimum_label="least squares (w*, b*)")
    path_line, = ax_c.plot([], [], "-o", color=VERMILION, ms=3, lw=1.4, label="GD path")
    start_dot, = ax_c.plot([], [], "o", ms=9, mfc="white", mec=VERMILION, mew=2)
    ax_c.set(title="Loss contours and the GD path", xlabel="slope w", ylabel="intercept b")
    ax_c.legend(loc="upper right", fontsize=9)

    loss_star = gd.linreg_loss(w_star, b_star, x, y)
    loss_line, = ax_l.plot([], [], color=BLUE, label="GD loss")
    ax_l.axhline(loss_star, color=GREEN, ls="--", lw=1.2, label=f"least squares {loss_star:.3f}")
    ax_l.set(yscale="log", ylim=(0.1, 1e4), xlabel="step", ylabel="MSE loss",
             title="Loss per step (log scale)")
    ax_l.legend(loc="upper right", fontsize=9)

    ax_d.scatter(x, y, s=10, color="0.55", label="data")
    grid_x = np.array([-3.2, 3.2])
    ax_d.plot(grid_x, 2 + 3 * grid_x, color=BLACK, lw=1.2, ls=":", label="true line 2 + 3x")
    ax_d.plot(grid_x, b_star + w_star * grid_x, color=GREEN, lw=1.5, ls="--", label="least squares")
    fit_line, = ax_d.plot([], [], color=VERMILION, lw=2, label="GD line")
    note = ax_d.text(0.97, 0.04, "", transform=ax_d.transAxes, ha="right", va="bottom", color=VERMILION,
                     fontsize=10, fontweight="bold")
    ax_d.set(xlim=(-3.2, 3.2), ylim=(-14, 18), xlabel="x", ylabel="y",
             title="Data, true line and the GD line")
    ax_d.legend(loc="upper left", fontsize=9)

    def update(lr, steps, w0, b0):
        ax_l.set_xlim(0, _axis_end(steps, GD_STEP_AXES))  # changes only with background_key
        run = gd_run(lr, steps, w0, b0, x, y)
        hist = run["history"]
        path_line.set_data(hist.path[:, 0], hist.path[:, 1])
        start_dot.set_data([w0], [b0])
        loss_line.set_data(np.arange(len(hist.losses)), hist.losses)
        w, b = hist.final
        if hist.diverged:  # its line would be a vertical streak: leave it out, say why
            fit_line.set_data([], [])
            note.set_text(f"diverged: lr > 2/λ_max = {critical:.3f}")
        else:
            fit_line.set_data(grid_x, b + w * grid_x)
            note.set_text("")
        if hist.diverged:
            return f"<span style='color:#D55E00'><b>{run['status']}</b></span>"
        return run["status"]

    explorer = Explorer(f"Gradient descent on the line (2/λ_max = {critical:.4f})", controls, update, fig,
                        presets=GD_PRESETS, dynamic=[path_line, start_dot, loss_line, fit_line, note],
                        background_key=lambda lr, steps, w0, b0: _axis_end(steps, GD_STEP_AXES))
    _apply_preset(explorer, preset)
    return explorer


#: the loss panels' step axes end at the first of these >= steps, so that dragging the
#: steps slider redraws the cached background (contours, ticks) only when it crosses one
GD_STEP_AXES = (10, 25, 50, 100, 200)
RACE_STEP_AXES = (50, 100, 200, 500, 1000)


def _axis_end(steps, ends):
    steps = max(int(steps), 1)
    return next((e for e in ends if e >= steps), steps)


def _apply_preset(explorer, preset):
    if preset is None:
        return
    if isinstance(preset, str):
        explorer.preset(preset)
    elif isinstance(preset, dict):
        explorer.set(**preset)
    else:
        raise TypeError(f"{explorer.title}: preset must be a preset name or a dict of control values, "
                        f"got {type(preset).__name__}")


# ---------------------------------------------------------------------------------------
# notebook 03: the optimizer race
# ---------------------------------------------------------------------------------------
RACE_COLORS = {"SGD": BLACK, "Momentum": BLUE, "RMSProp": ORANGE, "Adam": VERMILION}

#: the race's learning-rate sliders move in steps of 0.01 in log10(lr); a browser snaps
#: any value onto that grid, so presets and defaults are put on it here too (otherwise
#: the figure drawn in Python and the one after the browser's snap would differ)
RACE_LOG_STEP = 0.01


def on_log_grid(lr: float) -> float:
    """``lr`` rounded to the race's slider grid ``10 ** (k * RACE_LOG_STEP)`` (0.019 -> 0.01905)."""
    return float(10.0 ** (round(math.log10(lr) / RACE_LOG_STEP) * RACE_LOG_STEP))


def _race_preset(surface, optimizers, lr, lr_adaptive, beta1, beta2, steps):
    return {"surface": surface, "optimizers": tuple(optimizers), "lr": on_log_grid(lr),
            "lr_adaptive": on_log_grid(lr_adaptive), "beta1": beta1, "beta2": beta2, "steps": steps}


ALL4 = ("SGD", "Momentum", "RMSProp", "Adam")
RACE_PRESETS = {
    "ravine": _race_preset("ravine", ALL4, 0.019, 0.1, 0.9, 0.999, 150),
    "ravine, SGD too fast": _race_preset("ravine", ("SGD", "Momentum"), 0.022, 0.1, 0.9, 0.999, 150),
    "no momentum": _race_preset("ravine", ("SGD", "Momentum", "Adam"), 0.019, 0.1, 0.0, 0.999, 150),
    "rosenbrock": _race_preset("rosenbrock", ALL4, 0.0015, 0.05, 0.9, 0.999, 1000),
    "bowl": _race_preset("bowl", ALL4, 0.3, 0.3, 0.9, 0.999, 60),
}

def make_optimizer(name, lr, lr_adaptive, beta1, beta2):
    """The optimizer called ``name`` with the race's settings.

    SGD and Momentum use ``lr``; RMSProp and Adam (whose steps are ~lr in size whatever
    the gradient's scale) use ``lr_adaptive``. ``beta1`` is Momentum's β and Adam's β1;
    ``beta2`` is RMSProp's α and Adam's β2.
    """
    if name == "SGD":
        return optim.SGD(lr)
    if name == "Momentum":
        return optim.Momentum(lr, beta=beta1)
    if name == "RMSProp":
        return optim.RMSProp(lr_adaptive, alpha=beta2)
    if name == "Adam":
        return optim.Adam(lr_adaptive, betas=(beta1, beta2))
    raise ValueError(f"optimizer_race: unknown optimizer {name!r}; choose from {list(RACE_COLORS)}")


def race_path(name, surface, lr, lr_adaptive, beta1, beta2, steps, start=None) -> gd.History:
    """One optimizer's run on a surface, as a :class:`nblib.gd.History`.

    The four update rules are those of :mod:`nblib.optim` (same conventions, same
    order of operations), written out on two plain floats: a 2-D point does not need
    numpy, and this keeps a 500-step race to a few milliseconds. Tests check that the
    paths equal ``nblib.gd.run_optimizer`` with ``nblib.optim`` to ~1e-12, including
    when and why a run diverges.
    """
    surf = get_surface(surface)
    x0 = surf.start if start is None else np.asarray(start, dtype=float)
    make_optimizer(name, lr, lr_adaptive, beta1, beta2)  # validates name and settings
    f, grad = surf.f, surf.grad
    steps = int(steps)
    x, y = float(x0[0]), float(x0[1])
    path = np.empty((steps + 1, 2))
    losses = np.empty(steps + 1)
    path[0] = x, y
    loss0 = float(f(x, y))
    losses[0] = loss0
    limit = gd.BLOWUP * max(abs(loss0), 1.0)
    rate = lr if name in ("SGD", "Momentum") else lr_adaptive
    vx = vy = sx = sy = 0.0
    eps = 1e-8
    k = 0
    try:
        for k in range(1, steps + 1):
            gx, gy = grad(x, y)
            if name == "SGD":
                x -= rate * gx
                y -= rate * gy
            elif name == "Momentum":
                vx = beta1 * vx + gx
                vy = beta1 * vy + gy
                x -= rate * vx
                y -= rate * vy
            elif name == "RMSProp":
                sx = beta2 * sx + (1 - beta2) * gx * gx
                sy = beta2 * sy + (1 - beta2) * gy * gy
                x -= rate * gx / (math.sqrt(sx) + eps)
                y -= rate * gy / (math.sqrt(sy) + eps)
            else:  # Adam, t = k incremented before use
                vx = beta1 * vx + (1 - beta1) * gx
                vy = beta1 * vy + (1 - beta1) * gy
                sx = beta2 * sx + (1 - beta2) * gx * gx
                sy = beta2 * sy + (1 - beta2) * gy * gy
                c1, c2 = 1 - beta1 ** k, 1 - beta2 ** k
                x -= rate * (vx / c1) / (math.sqrt(sx / c2) + eps)
                y -= rate * (vy / c1) / (math.sqrt(sy / c2) + eps)
            loss = float(f(x, y))
            if not (math.isfinite(loss) and abs(loss) <= limit and math.isfinite(x) and math.isfinite(y)):
                raise OverflowError
            path[k] = x, y
            losses[k] = loss
    except (OverflowError, ValueError):  # python floats raise where numpy would warn
        what = "became inf" if not _finite_loss(f, x, y) else f"grew above {gd.BLOWUP:.0e} × its start"
        return gd.History(path[:k].copy(), losses[:k].copy(), np.full(k, rate), True, k,
                          f"loss {what} at step {k}: {name} with lr={rate:.4g}")
    if steps >= 2 and losses[-1] > losses[0] and losses[-1] > losses[-2]:
        return gd.History(path, losses, np.full(steps, rate), True, steps,
                          f"loss is growing: {losses[0]:.4g} at the start, {losses[-1]:.4g} after {steps} "
                          f"steps: {name} with lr={rate:.4g}")
    return gd.History(path, losses, np.full(steps, rate), False, None, "")


def _finite_loss(f, x, y):
    try:
        return math.isfinite(float(f(x, y)))
    except (OverflowError, ValueError):
        return False


def race_run(surface, optimizers, lr, lr_adaptive, beta1, beta2, steps, start=None) -> dict:
    """Run each optimizer in ``optimizers`` on the surface called ``surface``.

    Returns ``{name: History}`` plus, under ``"status"``, a sentence per optimizer
    (final loss, or when and why it diverged). ``start`` defaults to the surface's.
    """
    out, parts = {}, []
    surf = get_surface(surface)
    quadratic = surface in ("ravine", "bowl")  # constant Hessian: the stability limits are known
    lam_max = float(np.linalg.eigvalsh(surf.hessian_at(surf.start)).max())
    limits = {"SGD": ("2/λ_max", 2 / lam_max), "Momentum": ("2(1+β)/λ_max", 2 * (1 + beta1) / lam_max)}
    for name in optimizers:
        hist = race_path(name, surface, lr, lr_adaptive, beta1, beta2, steps, start)
        out[name] = hist
        if hist.diverged:
            why = ""
            if quadratic and name in limits and lr > limits[name][1]:
                why = f" (lr {lr:.3g} > {limits[name][0]} = {limits[name][1]:.3g})"
            parts.append(f"{name}: diverged at step {hist.step}{why}")
        else:
            parts.append(f"{name}: loss {hist.losses[-1]:.2e}")
    out["status"] = "; ".join(parts) if parts else "choose at least one optimizer"
    return out


def optimizer_race(preset=None) -> Explorer:
    """An :class:`Explorer` racing SGD, Momentum, RMSProp and Adam on a 2-D surface.

    Controls: ``surface`` ("ravine", "rosenbrock", "bowl"), ``optimizers`` (any subset),
    ``lr`` (SGD, Momentum), ``lr_adaptive`` (RMSProp, Adam), ``beta1`` (Momentum β,
    Adam β1), ``beta2`` (RMSProp α, Adam β2), ``steps``. Left: paths on the contours;
    right: loss per step (log scale; every surface's minimum is 0).
    ``preset``: a name from ``RACE_PRESETS`` or a dict of control values (learning
    rates are rounded onto the sliders' grid, see :func:`on_log_grid`).
    """
    names = list(RACE_COLORS)
    controls = {
        "surface": widgets.Dropdown(options=list(SURFACES), value="ravine", description="surface"),
        "optimizers": widgets.SelectMultiple(options=names, value=tuple(names), rows=4,
                                             description="optimizers"),
        "lr": widgets.FloatLogSlider(value=on_log_grid(0.019), base=10, min=-4, max=0, step=RACE_LOG_STEP,
                                     readout_format=".2g", description="lr SGD/Mom."),
        "lr_adaptive": widgets.FloatLogSlider(value=on_log_grid(0.1), base=10, min=-4, max=0, step=RACE_LOG_STEP,
                                              readout_format=".2g", description="lr RMS/Adam"),
        "beta1": widgets.FloatSlider(value=0.9, min=0.0, max=0.99, step=0.01, description="β / β1"),
        "beta2": widgets.FloatSlider(value=0.999, min=0.9, max=0.999, step=0.001, readout_format=".3f",
                                     description="α / β2"),
        "steps": widgets.IntSlider(value=150, min=10, max=1000, step=10, description="steps"),
    }
    fig, axes = new_figure(11.5, 4.4, ncols=2)
    ax_c, ax_l = axes[0]
    paths, curves = {}, {}
    for name in names:
        paths[name], = ax_c.plot([], [], "-", color=RACE_COLORS[name], lw=1.6, label=name, zorder=4)
        curves[name], = ax_l.plot([], [], color=RACE_COLORS[name], label=name)
    ax_c.legend(loc="lower right", fontsize=9)
    ax_l.set(yscale="log", xlabel="step", ylabel="loss (minimum is 0)", title="Loss per step (log scale)")
    ax_l.legend(loc="lower left", fontsize=9)
    drawn = {"surface": None}

    def draw_surface(surface):
        """Redraw the contours (only when the surface changes)."""
        surf = get_surface(surface)
        for coll in list(ax_c.collections):
            coll.remove()
        for line in list(ax_c.lines):
            if line not in paths.values():
                line.remove()
        X, Y, Z = surf.grid(101)
        loss_contour(ax_c, X, Y, Z, levels=surf.levels, xlabel="x", ylabel="y", minimum=surf.minimum)
        ax_c.plot([surf.start[0]], [surf.start[1]], "o", ms=9, mfc="white", mec=BLACK, mew=2, zorder=5)
        ax_c.set_title(f"Paths on the {surf.name} surface")
        top = float(surf.f(*surf.start))
        ax_l.set_ylim(max(top * 1e-12, 1e-12), top * 30)
        drawn["surface"] = surface

    def update(surface, optimizers, lr, lr_adaptive, beta1, beta2, steps):
        if drawn["surface"] != surface:
            draw_surface(surface)
        ax_l.set_xlim(0, _axis_end(steps, RACE_STEP_AXES))  # changes only with background_key
        run = race_run(surface, optimizers, lr, lr_adaptive, beta1, beta2, steps)
        for name in names:
            hist = run.get(name)
            if hist is None:
                paths[name].set_data([], [])
                curves[name].set_data([], [])
                continue
            paths[name].set_data(hist.path[:, 0], hist.path[:, 1])
            curves[name].set_data(np.arange(len(hist.losses)), np.maximum(hist.losses, 1e-300))
        return run["status"]

    explorer = Explorer("Optimizer race", controls, update, fig, presets=RACE_PRESETS,
                        dynamic=list(paths.values()) + list(curves.values()),
                        background_key=lambda surface, optimizers, lr, lr_adaptive, beta1, beta2, steps:
                        (surface, _axis_end(steps, RACE_STEP_AXES)))
    if isinstance(preset, dict):  # put learning rates on the slider grid, as a browser would
        preset = {k: (on_log_grid(v) if k in ("lr", "lr_adaptive") and isinstance(v, (int, float)) and v > 0
                      else v) for k, v in preset.items()}
    _apply_preset(explorer, preset)
    return explorer
