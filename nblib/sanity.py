"""Sanity checks before a long training run (notebook 08), after CS231n's and Karpathy's recipes.

Each tool takes your network (an ``nblib.layers.MLP`` or anything with ``params``,
``loss_and_grads``, ``forward``) and returns a ``SanityReport`` that prints as
``✓ ...`` when the setup looks healthy and ``⚠ ...`` with what looks wrong. None of them
changes the network you pass (they work on a copy).

* ``initial_loss`` -- the loss at initialisation should be about ``log C`` (a network
  that knows nothing spreads its probability evenly over the C classes).
* ``overfit_small_batch`` -- a correct network and optimizer drive the loss on a
  handful of samples to about 0; if they cannot, something is broken.
* ``update_ratio`` -- ``||lr * update|| / ||W||`` per weight matrix after one step:
  about 1e-3 is healthy; far below, learning is too slow; far above, too wild.
* ``layer_statistics`` -- per hidden layer: activation mean/std, dead ReLUs, saturated
  tanh/sigmoid units, and the gradient's size, from one forward/backward pass.
* ``lr_range_test`` -- train for a few hundred steps while the learning rate grows
  exponentially from tiny to huge; the loss falls fastest somewhat below the rate at which
  it blows up.
"""

from __future__ import annotations

import copy
import math

import numpy as np

from ._validate import as_float_array, describe, positive_number
from .gd import divergence
from .data import make_rng

__all__ = ["SanityReport", "initial_loss", "overfit_small_batch", "update_ratio", "layer_statistics",
           "lr_range_test"]


class SanityReport:
    """The verdict of one sanity check: ``ok`` (bool), ``message`` (a sentence), ``values`` (a dict
    of what was measured). Prints as ``✓ name: message`` or ``⚠ name: message``."""

    def __init__(self, name, ok, message, values=None):
        self.name, self.ok, self.message, self.values = name, bool(ok), message, dict(values or {})

    def __bool__(self):
        return self.ok

    def __repr__(self):
        return f"{'✓' if self.ok else '⚠'} {self.name}: {self.message}"


def _net(net, where):
    for attr in ("params", "loss_and_grads", "forward"):
        if not hasattr(net, attr):
            raise TypeError(f"{where}: net must be an nblib MLP (with params, loss_and_grads, forward), "
                            f"got {describe(net)}")
    return net


def _data(X, y, where):
    X = as_float_array(X, "X", where, ndim=2)
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(f"{where}: y has shape {y.shape} but X has {X.shape[0]} samples; pass y as shape "
                         f"({X.shape[0]},)")
    return X, y


def _eval_copy(net):
    twin = copy.deepcopy(net)
    if callable(getattr(twin, "eval", None)):
        twin.eval()
    return twin


def initial_loss(net, X, y, tolerance: float = 0.5) -> SanityReport:
    """Is the loss at initialisation close to ``log C``?

    ``C`` is the number of classes (``log 2`` for a one-output BCE network). Fires when the
    loss differs from ``log C`` by more than ``tolerance * log C`` (default: 50%), which
    usually means initial weights that are too large (confident, random predictions) or a
    loss that is not averaged over the batch.
    """
    where = "initial_loss"
    net = _net(net, where)
    X, y = _data(X, y, where)
    tolerance = positive_number(tolerance, "tolerance", where)
    twin = _eval_copy(net)
    with np.errstate(all="ignore"):
        loss = float(twin.loss_and_grads(X, y)[0])
    C = 2 if getattr(net, "head", "softmax") == "bce" else int(np.shape(twin.forward(X[:1]))[1])
    expected = math.log(C)
    ok = np.isfinite(loss) and abs(loss - expected) <= tolerance * expected
    values = {"loss": loss, "log_C": expected, "classes": C}
    if ok:
        return SanityReport(where, True, f"loss at initialisation {loss:.3f} ≈ log {C} = {expected:.3f}", values)
    why = ("far above: the initial predictions are confident, probably the initial weights are too large"
           if loss > expected else "far below: is the loss averaged over the batch, and are the labels right?")
    return SanityReport(where, False, f"loss at initialisation {loss:.3g}, expected about log {C} = {expected:.3f} "
                        f"({why})", values)


def overfit_small_batch(net, opt, X, y, steps: int = 200, target: float = 0.05) -> SanityReport:
    """Can the network drive the loss on a few samples (``X`` (k, d), ``y`` (k,)) to about 0?

    Trains a copy of ``net`` with a copy of ``opt`` for ``steps`` full-batch steps. Fires when
    the final loss is above ``target``: a bug in the gradients, a learning rate far too low
    or too high, dead units, or a model with too little capacity to memorise k samples.
    """
    where = "overfit_small_batch"
    net = _net(net, where)
    X, y = _data(X, y, where)
    steps = positive_number(steps, "steps", where, integer=True)
    target = positive_number(target, "target", where)
    twin, opt = copy.deepcopy(net), copy.deepcopy(opt)
    if callable(getattr(twin, "train", None)):
        twin.train()
    losses = []
    with np.errstate(all="ignore"):
        start = float(twin.loss_and_grads(X, y)[0])
        for _ in range(steps):
            try:
                loss, grads = twin.loss_and_grads(X, y)
            except ValueError:
                loss = float("nan")
            losses.append(float(loss))
            if divergence(loss, start) is not None:
                break
            opt.step(twin.params, grads)
    final = losses[-1]
    values = {"start": start, "final": final, "losses": losses, "samples": X.shape[0]}
    if np.isfinite(final) and final <= target:
        return SanityReport(where, True, f"{X.shape[0]} samples memorised: loss {start:.3g} → {final:.2g} in "
                            f"{len(losses)} steps", values)
    if not np.isfinite(final) or divergence(final, start):
        why = "the loss blew up: the learning rate is too high"
    elif final > 0.5 * start:
        why = "the loss hardly moved: check the gradients, the learning rate (too low?), dead or identical units"
    else:
        why = "it falls but not far enough: more steps, a higher learning rate, or more capacity"
    return SanityReport(where, False, f"could not memorise {X.shape[0]} samples: loss {start:.3g} → {final:.3g} "
                        f"after {len(losses)} steps ({why})", values)


def update_ratio(net, opt, X, y, low: float = 1e-4, high: float = 1e-2) -> SanityReport:
    """``||ΔW|| / ||W||`` of each weight matrix for one optimizer step (on a copy).

    Karpathy's rule of thumb: about ``1e-3``. Fires when a ratio lies outside
    ``[low, high]``: below, the learning rate is probably too low (nothing moves); above,
    too high (each step rewrites the weights).
    """
    where = "update_ratio"
    net = _net(net, where)
    X, y = _data(X, y, where)
    twin, opt = copy.deepcopy(net), copy.deepcopy(opt)
    before = {k: v.copy() for k, v in twin.params.items()}
    _, grads = twin.loss_and_grads(X, y)
    opt.step(twin.params, grads)
    ratios = {}
    for k, v in twin.params.items():
        if k.startswith("W"):
            norm = float(np.linalg.norm(before[k]))
            ratios[k] = float(np.linalg.norm(v - before[k])) / norm if norm > 0 else float("inf")
    bad = {k: r for k, r in ratios.items() if not low <= r <= high}
    shown = ", ".join(f"{k} {r:.1e}" for k, r in ratios.items())
    if not bad:
        return SanityReport(where, True, f"update/weight ratios {shown} (healthy: about 1e-3)", ratios)
    direction = ("too small: raise the learning rate" if all(r < low for r in bad.values())
                 else "too large: lower the learning rate" if all(r > high for r in bad.values())
                 else f"outside [{low:g}, {high:g}]")
    return SanityReport(where, False, f"update/weight ratios {shown}: {', '.join(bad)} {direction}", ratios)


def layer_statistics(net, X, y, dead: float = 0.5, saturated: float = 0.5, tiny: float = 1e-3) -> SanityReport:
    """Activation and gradient statistics of every hidden layer, from one forward and backward pass.

    For each hidden layer ``l``: mean and std of its activations, the fraction of units that
    are 0 for every sample (dead ReLUs) or saturated (``|tanh| > 0.99``, sigmoid outside
    [0.01, 0.99]) for most samples, and the std of ``dW_l``. Fires when more than ``dead``
    of a layer's units are dead, more than ``saturated`` of its activations saturated, or an
    activation std is below ``tiny`` (the signal has vanished). ``values["layers"]`` holds
    one dict per hidden layer.
    """
    where = "layer_statistics"
    net = _net(net, where)
    X, y = _data(X, y, where)
    twin = _eval_copy(net)
    from .layers import ACTIVATIONS

    act_f, _ = ACTIVATIONS[getattr(twin, "activation", "relu")]
    _, grads = twin.loss_and_grads(X, y)
    rows, problems, h = [], [], X
    n_layers = len([k for k in twin.params if k.startswith("W")])
    for i in range(1, n_layers):
        h, _ = act_f(h @ twin.params[f"W{i}"] + twin.params[f"b{i}"])
        kind = getattr(twin, "activation", "relu")
        row = {"layer": i, "mean": float(h.mean()), "std": float(h.std()),
               "dead": float(np.mean(np.all(h <= 0, axis=0))) if kind == "relu" else 0.0,
               "saturated": float(np.mean(np.abs(h) > 0.99)) if kind == "tanh" else
               float(np.mean((h < 0.01) | (h > 0.99))) if kind == "sigmoid" else 0.0,
               "grad_std": float(np.std(grads[f"W{i}"]))}
        rows.append(row)
        if row["dead"] > dead:
            problems.append(f"layer {i}: {row['dead']:.0%} of the ReLUs are dead")
        if row["saturated"] > saturated:
            problems.append(f"layer {i}: {row['saturated']:.0%} of the activations saturated")
        if row["std"] < tiny:
            problems.append(f"layer {i}: activation std {row['std']:.1e} (the signal has vanished)")
    summary = "; ".join(f"layer {r['layer']}: std {r['std']:.2f}, dead {r['dead']:.0%}, grad std {r['grad_std']:.1e}"
                        for r in rows)
    values = {"layers": rows}
    if problems:
        return SanityReport(where, False, "; ".join(problems) + " (check the initialisation and the input scale)",
                            values)
    return SanityReport(where, True, summary or "no hidden layer", values)


def lr_range_test(net, make_opt, X, y, lr_min: float = 1e-5, lr_max: float = 10.0, steps: int = 100,
                  batch_size: int = 32, seed=0) -> SanityReport:
    """A learning-rate range test (Smith 2017): one short run, the rate growing exponentially.

    ``make_opt(lr)`` builds the optimizer (e.g. ``lambda lr: optim.SGD(lr)``). A copy of
    ``net`` takes ``steps`` mini-batch steps with ``lr_k = lr_min * (lr_max/lr_min)**(k/(steps-1))``;
    the run stops when the loss blows up (four times its lowest value). ``values`` holds
    ``lrs``, ``losses`` (smoothed) and ``suggested``: a tenth of the rate at the lowest loss,
    a safe starting rate. Fires when the loss never fell (check the model) or the lowest loss
    came at one end of the range (widen it).
    """
    where = "lr_range_test"
    net = _net(net, where)
    X, y = _data(X, y, where)
    lr_min = positive_number(lr_min, "lr_min", where)
    lr_max = positive_number(lr_max, "lr_max", where)
    if lr_max <= lr_min:
        raise ValueError(f"{where}: lr_max ({lr_max:g}) must be larger than lr_min ({lr_min:g})")
    steps = positive_number(steps, "steps", where, integer=True)
    twin = copy.deepcopy(net)
    if callable(getattr(twin, "train", None)):
        twin.train()
    rates = lr_min * (lr_max / lr_min) ** (np.arange(steps) / max(steps - 1, 1))
    opt = make_opt(float(rates[0]))
    rng = make_rng(seed, where)
    lrs, losses, smooth, best = [], [], None, np.inf
    with np.errstate(all="ignore"):
        for lr in rates:
            idx = rng.choice(X.shape[0], size=min(batch_size, X.shape[0]), replace=False)
            try:
                loss, grads = twin.loss_and_grads(X[idx], y[idx])
            except ValueError:
                break
            if not np.isfinite(loss):
                break
            smooth = loss if smooth is None else 0.9 * smooth + 0.1 * loss
            lrs.append(float(lr))
            losses.append(float(smooth))
            best = min(best, smooth)
            if smooth > 4 * best or not all(np.all(np.isfinite(v)) for v in twin.params.values()):
                break
            opt.lr = float(lr)
            opt.step(twin.params, grads)
    if not losses:
        return SanityReport(where, False, "the first step already failed", {"lrs": [], "losses": []})
    k = int(np.argmin(losses))
    suggested = lrs[k] / 10
    values = {"lrs": lrs, "losses": losses, "suggested": suggested, "lr_at_min": lrs[k]}
    if losses[k] > 0.9 * losses[0]:
        return SanityReport(where, False, f"the loss never fell by more than 10% over learning rates "
                            f"{lr_min:g}…{lrs[-1]:.3g}: check the model and the gradients", values)
    if k == len(losses) - 1 and len(losses) == steps:
        return SanityReport(where, False, f"the loss was still falling at the largest rate {lrs[-1]:.3g}: "
                            f"widen the range (a larger lr_max)", values)
    return SanityReport(where, True, f"lowest loss at lr ≈ {lrs[k]:.2g}; blew up past {lrs[-1]:.2g}; "
                        f"suggested starting lr ≈ {suggested:.1g}", values)
