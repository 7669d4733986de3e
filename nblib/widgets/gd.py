"""Explorers for notebooks 02 and 03.

* ``gd_explorer`` -- gradient descent on notebook 02's line ``y = 2 + 3x + noise``:
  sliders for the learning rate, the number of steps and the start ``(w0, b0)``; it
  redraws the path on the loss contours, the loss curve and the fitted line, and says in
  words when a run diverges ("diverged after k steps: lr above 2/λ_max = ...").
* ``optimizer_race`` -- SGD, Momentum, RMSProp and Adam on a test surface
  (``nblib.surfaces``): paths on the contours and loss curves. The updates are the
  step functions of ``nblib.optim`` (or yours: ``optimizer_race(rules=...)``).

Both take ``preset=`` (a name from ``GD_PRESETS`` / ``RACE_PRESETS`` or a dict of
control values), so an instructor can show one situation in one call::

    gd_explorer(preset="diverging")
    optimizer_race(preset={"surface": "rosenbrock", "lr": 0.001, "steps": 400})

The compute lives in plain functions (``gd_run``, ``race_run``) and each
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
from .._validate import describe
from ._base import Explorer, new_figure
from ._presets import PresetExplorer

__all__ = ["gd_run", "gd_explorer", "GD_PRESETS", "race_path", "race_run", "make_optimizer",
           "optimizer_race", "RACE_PRESETS", "RACE_RATES", "RACE_USES", "on_rate_grid",
           "RACE_COLORS", "RACE_OPTIMIZERS"]

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


def _data_or_default(x, y, where):
    """``(x, y)`` as two float arrays of one length, or notebook 02's data when both are None."""
    if x is None and y is None:
        return linear_data()
    if x is None or y is None:
        raise TypeError(f"{where}: pass both x and y (the data, two (n,) arrays) or neither, "
                        f"got only {'x' if y is None else 'y'}")
    x, y = gd._xy(x, y, where)
    if np.ptp(x) == 0:
        raise ValueError(f"{where}: x needs at least two different values to fix a line, got {x.size} "
                         f"equal to {x[0]:g}")
    return x, y


def gd_run(lr, steps, w0, b0, x=None, y=None) -> dict:
    """Run GD on the line from ``(w0, b0)`` and describe the result (no widgets, no drawing).

    ``x, y`` default to ``nblib.data.linear_data`` (notebook 02's example). Returns a
    dict: ``history`` (``nblib.gd.History``), ``w_star``, ``b_star``, ``loss_star``
    (least squares), ``critical`` (2/λ_max), ``status`` (a sentence, HTML-free).
    """
    x, y = _data_or_default(x, y, "gd_run")
    f = gd.linreg_objective(x, y)
    w_star, b_star = gd.least_squares(x, y)
    loss_star = gd.linreg_loss(w_star, b_star, x, y)
    critical = gd.critical_lr(x)
    lam_max = 2.0 / critical
    hist = gd.gradient_descent(f, [w0, b0], lr, int(steps), critical=critical)
    ratio = lr / critical
    if hist.diverged:
        if hist.reason in gd.DIVERGENCE_CAUSES:  # stopped: see gd.divergence
            what = ("loss became inf" if hist.reason == "non-finite"
                    else f"loss grew above {gd.BLOWUP:.0e} × its start")
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
    """An ``Explorer`` for gradient descent on the line ``ŷ = w x + b``.

    Controls: ``lr`` (learning rate), ``steps``, ``w0``, ``b0`` (the start).
    Panels: the MSE contours over (w, b) with the GD path; the loss per step (log
    scale) with the least-squares minimum; the data with the true line, the
    least-squares line and the current GD line. ``preset``: a name from ``GD_PRESETS``
    or a dict of control values.
    """
    x, y = _data_or_default(x, y, "gd_explorer")
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

    explorer = PresetExplorer(f"Gradient descent on the line (2/λ_max = {critical:.4f})", controls, update, fig,
                              presets=GD_PRESETS, dynamic=[path_line, start_dot, loss_line, fit_line, note],
                              background_key=lambda lr, steps, w0, b0: _axis_end(steps, GD_STEP_AXES))
    explorer.start(preset)
    return explorer


#: the loss panels' step axes end at the first of these >= steps, so that dragging the
#: steps slider redraws the cached background (contours, ticks) only when it crosses one
GD_STEP_AXES = (10, 25, 50, 100, 200)
RACE_STEP_AXES = (50, 100, 200, 500, 1000)


def _axis_end(steps, ends):
    steps = max(int(steps), 1)
    return next((e for e in ends if e >= steps), steps)


# ---------------------------------------------------------------------------------------
# notebook 03: the optimizer race
# ---------------------------------------------------------------------------------------
RACE_COLORS = {"SGD": BLACK, "Momentum": BLUE, "RMSProp": ORANGE, "Adam": VERMILION}
RACE_OPTIMIZERS = tuple(RACE_COLORS)


def _two_digit_rates(lo_exp=-4, hi_exp=0):
    """Every learning rate with two significant digits from 10**lo_exp to 10**hi_exp."""
    rates = [float(f"{m / 10:.1f}e{e}") for e in range(lo_exp, hi_exp) for m in range(10, 100)]
    return tuple(rates + [float(f"1e{hi_exp}")])


#: the values the race's learning-rate sliders offer: 1.0e-4, 1.1e-4, ..., 9.9e-1, 1.
#: They are the slider's own options, so a value from the notebook (0.019) is shown and
#: run exactly as typed: no browser snaps it to a nearby value that gives another result.
RACE_RATES = _two_digit_rates()


def on_rate_grid(lr: float) -> float:
    """``lr`` rounded to two significant digits, the race sliders' grid (0.0193 -> 0.019)."""
    lr = float(lr)
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"optimizer_race: a learning rate must be a number > 0, got {lr!r}")
    rounded = float(f"{lr:.1e}")
    return min(max(rounded, RACE_RATES[0]), RACE_RATES[-1])


def _race_preset(surface, optimizers, lr, lr_adaptive, beta1, rho, beta2, steps):
    return {"surface": surface, "optimizers": tuple(optimizers), "lr": lr, "lr_adaptive": lr_adaptive,
            "beta1": beta1, "rho": rho, "beta2": beta2, "steps": steps}


ALL4 = RACE_OPTIMIZERS
#: the same settings as notebook 03's static race (η = 0.019 and 0.1 on the ravine, 0.0015 and
#: 0.05 on Rosenbrock, RMSProp's ρ = 0.99 and Adam's β₂ = 0.999, torch's defaults)
RACE_PRESETS = {
    "ravine": _race_preset("ravine", ALL4, 0.019, 0.1, 0.9, 0.99, 0.999, 150),
    "ravine, SGD too fast": _race_preset("ravine", ("SGD", "Momentum"), 0.022, 0.1, 0.9, 0.99, 0.999, 150),
    "no momentum": _race_preset("ravine", ("SGD", "Momentum", "Adam"), 0.019, 0.1, 0.0, 0.99, 0.999, 150),
    "rosenbrock": _race_preset("rosenbrock", ALL4, 0.0015, 0.05, 0.9, 0.99, 0.999, 1000),
    "bowl": _race_preset("bowl", ALL4, 0.3, 0.3, 0.9, 0.99, 0.999, 60),
}


def make_optimizer(name, lr, lr_adaptive, beta1, rho, beta2, rule=None):
    """The ``nblib.optim`` optimizer called ``name`` with the race's settings.

    SGD and Momentum use ``lr``; RMSProp and Adam (whose steps are ~lr in size whatever
    the gradient's scale) use ``lr_adaptive``. ``beta1`` is Momentum's β and Adam's β₁;
    ``rho`` is RMSProp's decay ρ (torch's ``alpha``); ``beta2`` is Adam's β₂.
    ``rule``: a step function to use instead of the course's (e.g. your ``my_adam_step``).
    """
    if name == "SGD":
        return optim.SGD(lr, rule=rule)
    if name == "Momentum":
        return optim.Momentum(lr, beta=beta1, rule=rule)
    if name == "RMSProp":
        return optim.RMSProp(lr_adaptive, alpha=rho, rule=rule)
    if name == "Adam":
        return optim.Adam(lr_adaptive, betas=(beta1, beta2), rule=rule)
    raise ValueError(f"optimizer_race: unknown optimizer {name!r}; choose from {list(RACE_OPTIMIZERS)}")


def race_path(name, surface, lr, lr_adaptive, beta1, rho, beta2, steps, start=None,
              rule=None) -> gd.History:
    """One optimizer's run on a surface, as a ``nblib.gd.History``.

    The update is the optimizer's step function from ``nblib.optim`` (or ``rule``),
    the same one ``optim.Adam`` etc. call. The course's rules are elementwise and work on
    plain floats, so they are called once per coordinate on floats, which keeps a
    1000-step race to a few milliseconds; a ``rule`` of yours is tried the same way and,
    if it needs arrays (``p.copy()``, indexing), gets the point as a (2,) array.
    Divergence is judged by ``nblib.gd.divergence``. Tests check that the
    paths, and when and why a run diverges, equal ``nblib.gd.run_optimizer`` to ~1e-12.
    """
    surf = get_surface(surface)
    opt = make_optimizer(name, lr, lr_adaptive, beta1, rho, beta2, rule=rule)
    x0 = surf.start if start is None else np.asarray(start, dtype=float)
    if rule is None:
        return _race_loop(opt, surf, x0, int(steps), on_floats=True)
    try:   # a learner's rule usually works on floats too (np.sqrt does): fast
        return _race_loop(opt, surf, x0, int(steps), on_floats=True)
    except _NotOnFloats:
        return _race_loop(opt, surf, x0, int(steps), on_floats=False)


class _NotOnFloats(Exception):
    """A step function that needs arrays (it called .copy(), indexed p, ...)."""


def _race_loop(opt, surf, x0, steps, on_floats):
    f, grad = surf.f, surf.grad
    step_fn, hyper, rate = opt.rule, opt.hyper_args(), opt.lr
    n_state, uses_t = len(opt.buffers), opt.uses_t
    strict = on_floats and step_fn is not type(opt).rule
    # the point in pieces the rule is called on: two floats, or one (2,) array
    pieces = [float(x0[0]), float(x0[1])] if on_floats else [np.array(x0, dtype=float)]
    states = [[0.0 * p for _ in range(n_state)] for p in pieces]
    x, y = float(x0[0]), float(x0[1])
    loss0 = float(f(x, y))
    xs, ys, losses = [x], [y], [loss0]
    label = f"{type(opt).__name__} with lr={rate:.4g}"
    k, why, loss = 0, None, loss0
    below_start = abs(loss0)       # a loss no larger than at the start cannot have blown up
    with np.errstate(all="ignore"):
        for k in range(1, steps + 1):
            try:
                gx, gy = grad(x, y)
                gs = [float(gx), float(gy)] if on_floats else [np.array([gx, gy], dtype=float)]
                counter = (k,) if uses_t else ()
                for i, g in enumerate(gs):
                    if strict:   # a learner's rule on floats: any trouble means "use arrays"
                        try:
                            out = step_fn(pieces[i], g, *states[i], *counter, rate, *hyper)
                            out = [float(o) for o in out] if n_state else float(out)
                        except OverflowError:
                            raise
                        except Exception as exc:
                            raise _NotOnFloats() from exc
                    else:
                        out = step_fn(pieces[i], g, *states[i], *counter, rate, *hyper)
                    if n_state:
                        pieces[i], states[i] = out[0], out[1:]
                    else:
                        pieces[i] = out
                if on_floats:
                    x, y = float(pieces[0]), float(pieces[1])
                else:
                    x, y = (float(c) for c in np.asarray(pieces[0], dtype=float).reshape(2))
                loss = float(f(x, y))
            except OverflowError:          # python floats raise where numpy gives inf
                x = y = loss = math.inf
            if not (abs(loss) <= below_start and math.isfinite(x) and math.isfinite(y)):
                why = gd.divergence(loss, loss0) or (None if math.isfinite(x) and math.isfinite(y)
                                                     else "non-finite")
                if why:
                    break
            xs.append(x)
            ys.append(y)
            losses.append(loss)
    path = np.column_stack([xs, ys])
    losses = np.array(losses)
    if why:
        what = "became inf" if not math.isfinite(loss) else f"grew above {gd.BLOWUP:.0e} × its start"
        return gd.History(path, losses, np.full(k, rate), True, k, f"loss {what} at step {k}: {label}", why)
    if steps >= 2 and losses[-1] > losses[0] and losses[-1] > losses[-2]:
        return gd.History(path, losses, np.full(steps, rate), True, steps,
                          f"loss is growing: {losses[0]:.4g} at the start, {losses[-1]:.4g} after {steps} "
                          f"steps: {label}", "still rising")
    return gd.History(path, losses, np.full(steps, rate), False, None, "")


def race_run(surface, optimizers, lr, lr_adaptive, beta1, rho, beta2, steps, start=None, rules=None) -> dict:
    """Run each optimizer in ``optimizers`` on the surface called ``surface``.

    Returns ``{name: History}`` plus, under ``"status"``, a sentence per optimizer
    (final loss, or when and why it diverged). ``start`` defaults to the surface's;
    ``rules``: ``{name: step function}`` to run instead of the course's.
    """
    out, parts = {}, []
    rules = rules or {}
    surf = get_surface(surface)
    quadratic = surface in ("ravine", "bowl")  # constant Hessian: the stability limits are known
    lam_max = float(np.linalg.eigvalsh(surf.hessian_at(surf.start)).max())
    limits = {"SGD": ("2/λ_max", 2 / lam_max), "Momentum": ("2(1+β)/λ_max", 2 * (1 + beta1) / lam_max)}
    for name in optimizers:
        hist = race_path(name, surface, lr, lr_adaptive, beta1, rho, beta2, steps, start, rule=rules.get(name))
        out[name] = hist
        if hist.diverged:
            why = ""
            if quadratic and name in limits and lr > limits[name][1]:
                why = f" (lr {lr:.3g} > {limits[name][0]} = {limits[name][1]:.3g})"
            verb = "diverging, loss still rising at step" if hist.reason == "still rising" else "diverged at step"
            parts.append(f"{name}: {verb} {hist.step}{why}")
        else:
            parts.append(f"{name}: loss {hist.losses[-1]:.2e}")
    out["status"] = "; ".join(parts) if parts else "choose at least one optimizer"
    return out


#: which controls each optimizer reads; a control none of the selected optimizers reads
#: is greyed out (disabled), and the status line says why
RACE_USES = {"lr": ("SGD", "Momentum"), "lr_adaptive": ("RMSProp", "Adam"), "beta1": ("Momentum", "Adam"),
             "rho": ("RMSProp",), "beta2": ("Adam",)}


def _window_exit(path, xlim, ylim):
    """``(n, point)`` for a diverging path: after its first ``n`` points it leaves the
    window for good; ``point`` is where the segment to point ``n`` crosses the window's
    edge. ``(len(path), None)`` when it ends inside; ``(0, None)`` if never inside."""
    (x0, x1), (y0, y1) = xlim, ylim
    inside = (path[:, 0] >= x0) & (path[:, 0] <= x1) & (path[:, 1] >= y0) & (path[:, 1] <= y1)
    if inside[-1]:
        return len(path), None
    if not inside.any():
        return 0, None
    n = int(np.flatnonzero(inside)[-1]) + 1
    a, b = path[n - 1], path[n]
    d = b - a
    s = 1.0  # the fraction of the segment a -> b inside the window
    for axis, (lo, hi) in enumerate((xlim, ylim)):
        if d[axis] > 0 and b[axis] > hi:
            s = min(s, (hi - a[axis]) / d[axis])
        elif d[axis] < 0 and b[axis] < lo:
            s = min(s, (lo - a[axis]) / d[axis])
    return n, a + s * d


class _RaceExplorer(PresetExplorer):
    """The race's explorer: learning rates are put on the sliders' grid of exact rates
    (``Explorer.set`` does the rest: one option by itself, nothing changed on an error)."""

    def set(self, **values):
        values = dict(values)
        for key in ("lr", "lr_adaptive"):
            if key not in values:
                continue
            v = values[key]
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
                raise TypeError(f"{self.title}: control {key!r} expects a number (a learning rate), "
                                f"got {describe(v)}")
            if not (math.isfinite(v) and RACE_RATES[0] <= v <= RACE_RATES[-1]):
                raise ValueError(f"{self.title}: control {key!r} must be between {RACE_RATES[0]:g} and "
                                 f"{RACE_RATES[-1]:g}, got {v!r}")
            values[key] = on_rate_grid(v)
        return super().set(**values)


def optimizer_race(preset=None, rules=None) -> Explorer:
    """An ``Explorer`` racing SGD, Momentum, RMSProp and Adam on a 2-D surface.

    Controls: ``surface`` ("ravine", "rosenbrock", "bowl"), ``optimizers`` (any subset),
    ``lr`` (η of SGD and Momentum), ``lr_adaptive`` (η of RMSProp and Adam), ``beta1``
    (Momentum's β, Adam's β₁), ``rho`` (RMSProp's ρ), ``beta2`` (Adam's β₂), ``steps``.
    Controls that none of the selected optimizers uses are greyed out. Left: paths on the
    contours (a diverging path is cut where it leaves the window, marked ×); right: loss
    per step (log scale; every surface's minimum is 0).

    preset : a name from ``RACE_PRESETS`` or a dict of control values (learning rates
        are rounded to two significant digits, the sliders' grid).
    rules : ``{"RMSProp": my_rmsprop_step, "Adam": my_adam_step, ...}``: step functions
        (signatures as in ``nblib.optim``) to race instead of the course's.
    """
    if rules is not None and not isinstance(rules, dict):
        raise TypeError(f"optimizer_race: rules must be a dict {{optimizer name: step function}}, "
                        f"got {describe(rules)}")
    rules = dict(rules or {})
    for key, fn in rules.items():
        if key not in RACE_OPTIMIZERS or not callable(fn):
            raise ValueError(f"optimizer_race: rules must map optimizer names {list(RACE_OPTIMIZERS)} to "
                             f"step functions, got {key!r}: {describe(fn)}")
    names = list(RACE_OPTIMIZERS)
    default = RACE_PRESETS["ravine"]

    def rate_slider(value, description):
        return widgets.SelectionSlider(options=[(f"{r:.2g}", r) for r in RACE_RATES], value=value,
                                       description=description, continuous_update=True)

    controls = {
        "surface": widgets.Dropdown(options=list(SURFACES), value="ravine", description="surface"),
        "optimizers": widgets.SelectMultiple(options=names, value=tuple(names), rows=4,
                                             description="optimizers"),
        "lr": rate_slider(default["lr"], "η SGD/Mom."),
        "lr_adaptive": rate_slider(default["lr_adaptive"], "η RMS/Adam"),
        "beta1": widgets.FloatSlider(value=0.9, min=0.0, max=0.99, step=0.01, description="β Mom./β₁"),
        "rho": widgets.FloatSlider(value=0.99, min=0.9, max=0.999, step=0.001, readout_format=".3f",
                                   description="ρ RMSProp"),
        "beta2": widgets.FloatSlider(value=0.999, min=0.9, max=0.999, step=0.001, readout_format=".3f",
                                     description="β₂ Adam"),
        "steps": widgets.IntSlider(value=150, min=10, max=1000, step=10, description="steps"),
    }
    fig, axes = new_figure(11.5, 4.4, ncols=2)
    ax_c, ax_l = axes[0]
    paths, curves, exits = {}, {}, {}
    for name in names:
        paths[name], = ax_c.plot([], [], "-", color=RACE_COLORS[name], lw=1.6, label=name, zorder=4)
        exits[name], = ax_c.plot([], [], "X", color=RACE_COLORS[name], ms=11, mec="white", zorder=6)
        curves[name], = ax_l.plot([], [], color=RACE_COLORS[name], label=name)
    ax_c.legend(handles=list(paths.values()), loc="lower right", fontsize=9)
    ax_l.set(yscale="log", xlabel="step", ylabel="loss (minimum is 0)", title="Loss per step (log scale)")
    ax_l.legend(loc="lower left", fontsize=9)
    drawn = {"surface": None}

    def draw_surface(surface):
        """Redraw the contours (only when the surface changes)."""
        surf = get_surface(surface)
        for coll in list(ax_c.collections):
            coll.remove()
        for line in list(ax_c.lines):
            if line not in paths.values() and line not in exits.values():
                line.remove()
        X, Y, Z = surf.grid(101)
        loss_contour(ax_c, X, Y, Z, levels=surf.levels, xlabel="x", ylabel="y", minimum=surf.minimum)
        ax_c.plot([surf.start[0]], [surf.start[1]], "o", ms=9, mfc="white", mec=BLACK, mew=2, zorder=5)
        ax_c.set_title(f"Paths on the {surf.name} surface")
        top = float(surf.f(*surf.start))
        ax_l.set_ylim(max(top * 1e-12, 1e-12), top * 30)
        drawn["surface"] = surface

    def update(surface, optimizers, lr, lr_adaptive, beta1, rho, beta2, steps):
        if drawn["surface"] != surface:
            draw_surface(surface)
        ax_l.set_xlim(0, _axis_end(steps, RACE_STEP_AXES))  # changes only with background_key
        surf = get_surface(surface)
        run = race_run(surface, optimizers, lr, lr_adaptive, beta1, rho, beta2, steps, rules=rules)
        idle = []
        for key, users in RACE_USES.items():
            off = not any(u in optimizers for u in users)
            controls[key].disabled = off
            if off and optimizers:
                idle.append(controls[key].description)
        left = []
        for name in names:
            hist = run.get(name)
            exits[name].set_data([], [])
            if hist is None:
                paths[name].set_data([], [])
                curves[name].set_data([], [])
                continue
            path = hist.path
            if hist.diverged:  # cut the path where it leaves the window and mark that point
                n, edge = _window_exit(path, surf.xlim, surf.ylim)
                if edge is not None:
                    path = np.vstack([path[:n], edge])
                    exits[name].set_data([edge[0]], [edge[1]])
                    left.append(f"{name} left the plot for good after step {n - 1}")
            paths[name].set_data(path[:, 0], path[:, 1])
            curves[name].set_data(np.arange(len(hist.losses)), np.maximum(hist.losses, 1e-300))
        status = run["status"]
        if left:
            status += " (× marks where " + ", ".join(left) + ")"
        if idle:
            status += (f". Greyed out: {', '.join(idle)}, which none of the selected optimizers uses")
        return status

    explorer = _RaceExplorer("Optimizer race", controls, update, fig, presets=RACE_PRESETS,
                             dynamic=list(paths.values()) + list(exits.values()) + list(curves.values()),
                             background_key=lambda surface, optimizers, lr, lr_adaptive, beta1, rho, beta2, steps:
                             (surface, _axis_end(steps, RACE_STEP_AXES)))
    explorer.start(preset)
    return explorer
