"""Gradient descent on linear regression, and a GD loop that notices divergence.

Introduced in notebook 02 (``02_gradient_descent.ipynb``); notebook 03 reuses it.

The model is the line ``ŷ = w x + b`` fitted by the mean squared error

    L(w, b) = (1/n) Σ_i (w x_i + b - y_i)²,     x, y: (n,)

* linreg_loss(), linreg_grad() -- L and (∂L/∂w, ∂L/∂b), vectorised.
* least_squares() -- the closed-form minimiser (normal equations, via lstsq).
* linreg_hessian(), critical_lr() -- the (constant) Hessian
  ``H = (2/n) Xᵀ X`` with ``X = [x, 1]: (n, 2)``, and ``2 / λ_max(H)``: gradient descent
  on a quadratic converges for ``0 < lr < 2/λ_max`` and diverges above it.
* divergence(), BLOWUP -- the course's one divergence rule (every loop in nblib uses it).
* descend() -- the loop notebook 02's exercise builds: ``θ ← θ - lr ∇L(θ)`` until the
  gradient norm is below tol, max_steps, or divergence; returns a plain dict.
* gradient_descent() -- the same plain loop ``θ ← θ - lr ∇L(θ)`` for any
  ``loss_and_grad``; run_optimizer() -- the same loop driven by an optimizer from
  nblib.optim (and an optional schedule). Both return a History and stop
  early, with a sentence saying why, when the loss blows up (no NaN, no overflow warnings).
* minibatch_sgd() -- (mini-)batch SGD on the line with shuffling every epoch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import math

import numpy as np

from ._validate import as_float_array, callable_arg, describe, positive_number, same_shape

__all__ = ["linreg_loss", "linreg_grad", "linreg_objective", "linreg_loss_grid", "least_squares",
           "linreg_hessian", "critical_lr",
           "History", "gradient_descent", "run_optimizer", "minibatch_sgd", "BLOWUP",
           "DIVERGENCE_CAUSES", "divergence", "STOP_REASONS", "descend"]

#: The course's one divergence threshold: a run has diverged once its loss exceeds
#: BLOWUP times max(|starting loss|, 1), or is NaN/inf. Every loop in nblib uses it.
BLOWUP = 1e12

#: The causes divergence() can return, in the order it tests them.
DIVERGENCE_CAUSES = ("non-finite", "blew up")


def divergence(loss, start_loss) -> str | None:
    """Has a run diverged? The course's one rule, used by every loop in nblib.

    loss : the loss now (a number, or an array/tensor holding one number).
    start_loss : the loss before the first step.

    Returns None when the run is fine, else one of DIVERGENCE_CAUSES:

    * "non-finite" -- the loss is NaN or ±inf;
    * "blew up" -- |loss| > BLOWUP · max(|start_loss|, 1)   (BLOWUP = 1e12).

    A non-finite start_loss counts as 1 (so a run that starts at inf is judged
    against 1e12, and the NaN/inf itself is reported as "non-finite").

    >>> divergence(3.0, 10.0) is None
    True
    >>> divergence(float("nan"), 10.0), divergence(2e13, 10.0)
    ('non-finite', 'blew up')
    """
    if isinstance(loss, float) and isinstance(start_loss, float) and abs(loss) <= abs(start_loss) < math.inf:
        return None   # fast path: finite and no larger than at the start, so it cannot have blown up
    loss, start = _loss_number(loss, "loss"), _loss_number(start_loss, "start_loss")
    if not np.isfinite(loss):
        return "non-finite"
    scale = max(abs(start), 1.0) if np.isfinite(start) else 1.0
    return "blew up" if abs(loss) > BLOWUP * scale else None


def _loss_number(v, name):
    """A loss as a float: a number, or an array/tensor holding exactly one number."""
    if isinstance(v, (float, int)) and not isinstance(v, bool):
        return float(v)
    if hasattr(v, "detach"):  # a torch tensor
        v = v.detach().cpu().numpy()
    a = np.asarray(v) if not isinstance(v, (str, bytes, bool)) and v is not None else None
    if a is None or a.size != 1 or not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise TypeError(f"divergence: {name} must be a number (a loss value), got {describe(v)}")
    return float(a.reshape(()))


def _xy(x, y, where):
    x = as_float_array(x, "x", where, ndim=1)
    y = as_float_array(y, "y", where, ndim=1)
    same_shape(x, y, "x", "y", where)
    return x, y


def _scalar(v, name, where):
    """A parameter such as w or b: a number (a 0-d array or tensor counts)."""
    if hasattr(v, "detach"):
        v = v.detach().cpu().numpy()
    if isinstance(v, np.ndarray) and v.ndim == 0 and np.issubdtype(v.dtype, np.number):
        v = v[()]
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        fix = f"; take the number out with float({name}) or {name}[0]" if np.size(v) == 1 else ""
        raise TypeError(f"{where}: {name} must be a number, got {describe(v)}{fix}")
    return float(v)


def _line_args(w, b, x, y, where):
    """The arguments of linreg_loss/linreg_grad, in the order (w, b, x, y)."""
    if np.ndim(x) == 0 and np.ndim(w) >= 1:
        raise TypeError(f"{where}: the arguments are (w, b, x, y), the parameters first, then the data; "
                        f"got an array for w and a number for x. Swapped? (Notebook 02's my_linreg_grad takes "
                        f"(x, y, w, b).)")
    x, y = _xy(x, y, where)
    return _scalar(w, "w", where), _scalar(b, "b", where), x, y


def linreg_loss(w, b, x, y) -> float:
    """Mean squared error of the line ``ŷ = w x + b`` on data ``x, y: (n,)``. Returns a float."""
    w, b, x, y = _line_args(w, b, x, y, "linreg_loss")
    r = w * x + b - y
    return float(r @ r / x.size)


def linreg_grad(w, b, x, y):
    """``(∂L/∂w, ∂L/∂b)`` of the mean squared error, two floats.

    ∂L/∂w = (2/n) Σ (ŷ_i - y_i) x_i,   ∂L/∂b = (2/n) Σ (ŷ_i - y_i):
    the per-sample gradients are *averaged* (the article's code forgot this and crashed).
    """
    w, b, x, y = _line_args(w, b, x, y, "linreg_grad")
    r = w * x + b - y
    n = x.size
    return float(2.0 * (r @ x) / n), float(2.0 * r.sum() / n)


def linreg_objective(x, y):
    """``f(theta) -> (loss, grad)`` for ``theta = (w, b)``: what gradient_descent() needs.

    Uses the sufficient statistics mean(x²), mean(x), mean(xy), mean(y), mean(y²), so one
    call costs O(1) whatever n (the values equal linreg_loss()/linreg_grad()
    up to rounding, ~1e-15 relative).
    """
    x, y = _xy(x, y, "linreg_objective")
    sxx, sx, sxy, sy, syy = stats = _moments(x, y)

    def f(theta):
        w, b = float(theta[0]), float(theta[1])
        grad = np.array([2 * (w * sxx + b * sx - sxy), 2 * (w * sx + b - sy)])
        return _moments_loss(w, b, stats), grad

    return f


def _moments(x, y):
    """mean(x²), mean(x), mean(xy), mean(y), mean(y²): all the MSE of a line needs."""
    return x @ x / x.size, x.mean(), x @ y / x.size, y.mean(), y @ y / y.size


def _moments_loss(w, b, moments) -> float:
    """The MSE of the line (w, b) from ``_moments(x, y)``, in O(1); w and b are floats."""
    sxx, sx, sxy, sy, syy = moments
    loss = float(w * w * sxx + 2 * w * b * sx + b * b - 2 * w * sxy - 2 * b * sy + syy)
    return max(loss, 0.0) if math.isfinite(loss) else loss


def linreg_loss_grid(W, B, x, y) -> np.ndarray:
    """The MSE at every point of a grid: ``W, B`` arrays of the same shape (e.g. from
    ``np.meshgrid``); returns an array of that shape (for contour plots)."""
    x, y = _xy(x, y, "linreg_loss_grid")
    W = as_float_array(W, "W", "linreg_loss_grid", ndim=(1, 2))
    B = as_float_array(B, "B", "linreg_loss_grid", ndim=(1, 2))
    same_shape(W, B, "W", "B", "linreg_loss_grid")
    sxx, sx, sxy, sy, syy = x @ x / x.size, x.mean(), x @ y / x.size, y.mean(), y @ y / y.size
    return np.maximum(W * W * sxx + 2 * W * B * sx + B * B - 2 * W * sxy - 2 * B * sy + syy, 0.0)


def least_squares(x, y):
    """The closed-form minimiser ``(w*, b*)`` of the mean squared error.

    Solves the normal equations ``Xᵀ X θ = Xᵀ y`` with ``X = [x, 1]: (n, 2)`` through
    ``np.linalg.lstsq`` (stable even when the columns are badly scaled).
    """
    x, y = _xy(x, y, "least_squares")
    if x.size < 2 or np.ptp(x) == 0:
        raise ValueError("least_squares: x needs at least two different values to fix a line")
    X = np.column_stack([x, np.ones_like(x)])
    theta, *_ = np.linalg.lstsq(X, y, rcond=None)
    return float(theta[0]), float(theta[1])


def linreg_hessian(x) -> np.ndarray:
    """The Hessian of the MSE over ``(w, b)``: ``H = (2/n) [[Σx², Σx], [Σx, n]]``, shape (2, 2).

    It does not depend on ``y`` or on ``(w, b)``: the loss is a quadratic bowl.
    """
    x = as_float_array(x, "x", "linreg_hessian", ndim=1)
    n = x.size
    return 2.0 / n * np.array([[x @ x, x.sum()], [x.sum(), n]])


def critical_lr(x=None, *, hessian=None) -> float:
    """``2 / λ_max`` of the Hessian: the largest learning rate for which GD converges.

    Pass the feature ``x: (n,)`` (linear regression) or any symmetric ``hessian=: (p, p)``.
    """
    if (x is None) == (hessian is None):
        raise TypeError("critical_lr: pass exactly one of x (the feature) or hessian=")
    H = linreg_hessian(x) if x is not None else as_float_array(hessian, "hessian", "critical_lr", ndim=2)
    if H.shape[0] != H.shape[1]:
        raise ValueError(f"critical_lr: hessian must be square, got shape {H.shape}")
    lam = float(np.linalg.eigvalsh((H + H.T) / 2).max())
    if lam <= 0:
        raise ValueError(f"critical_lr: the largest Hessian eigenvalue is {lam:.3g} <= 0; "
                         f"the loss is not a bowl, so there is no critical learning rate")
    return 2.0 / lam


@dataclass
class History:
    """What a descent run did.

    path : (k+1, p) parameters before the first step and after each of the k steps taken.
    losses : (k+1,) the loss at each row of ``path``.
    lrs : (k,) the learning rate used at each step.
    diverged : True when the loss blew up (the run was stopped there), or when it ended
        above its start and still rising.
    step : the step at which it blew up, or the last step for a still-rising run
        (1-based; None if it did not diverge).
    cause : a sentence saying what happened ("" when nothing went wrong).
    reason : the structured cause, for code to test: None, one of DIVERGENCE_CAUSES
        ("non-finite", "blew up": see divergence()), or "still rising".
    The rows kept are all finite: a diverged run keeps the path up to the last finite step.
    """
    path: np.ndarray
    losses: np.ndarray
    lrs: np.ndarray = field(default_factory=lambda: np.zeros(0))
    diverged: bool = False
    step: int | None = None
    cause: str = ""
    reason: str | None = None

    @property
    def final(self) -> np.ndarray:
        """The last parameters (a copy)."""
        return self.path[-1].copy()

    @property
    def steps(self) -> int:
        return len(self.path) - 1


def _evaluate(loss_and_grad, theta, where):
    """Call ``loss_and_grad(theta)`` and check what came back: ``(float, grad of theta's shape)``."""
    out = loss_and_grad(theta)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise TypeError(f"{where}: loss_and_grad must return a pair (loss, grad), got {describe(out)}")
    loss, grad = out
    try:
        loss = _loss_number(loss, "loss")
    except TypeError:
        swapped = " (swapped? return (loss, grad) in that order)" if np.size(grad) == 1 < np.size(loss) else ""
        raise TypeError(f"{where}: loss_and_grad must return (loss, grad) with loss a number, "
                        f"got loss = {describe(loss)}{swapped}") from None
    if type(grad) is np.ndarray and grad.dtype == np.float64 and grad.shape == theta.shape:
        return loss, grad                  # fast path: already a float64 array of the right shape
    grad = as_float_array(grad, "the gradient from loss_and_grad", where, finite=False)
    if grad.shape != theta.shape:
        raise ValueError(f"{where}: the gradient from loss_and_grad has shape {grad.shape} but the "
                         f"parameters have shape {theta.shape}; return one partial derivative per parameter")
    return loss, grad


def _loop(loss_and_grad, theta0, steps, update, lr_of, critical, where, label):
    callable_arg(loss_and_grad, "loss_and_grad", where)
    theta = as_float_array(theta0, "theta0", where, ndim=1).copy()
    steps = positive_number(steps, "steps", where, integer=True, allow_zero=True)
    path = np.empty((steps + 1, theta.size))
    losses = np.empty(steps + 1)
    lrs = np.empty(steps)
    with np.errstate(all="ignore"):
        loss, grad = _evaluate(loss_and_grad, theta, where)
        if not np.isfinite(loss):
            raise ValueError(f"{where}: the loss at theta0 is {loss}; start from a finite point")
        start = loss
        path[0], losses[0] = theta, loss
        for k in range(1, steps + 1):
            lr = lr_of(k - 1)
            lrs[k - 1] = lr
            update(theta, grad, lr)
            loss, grad = _evaluate(loss_and_grad, theta, where)
            why = divergence(loss, start) or (None if np.isfinite(theta).all() else "non-finite")
            if why:
                what = "became inf" if not np.isfinite(loss) else f"grew above {BLOWUP:.0e} × its start"
                cause = f"loss {what} at step {k}: {label(lr)}"
                if critical is not None and lr > critical:
                    cause += f" above 2/λ_max = {critical:.4g}"
                return History(path[:k].copy(), losses[:k].copy(), lrs[:k].copy(), True, k, cause, why)
            path[k], losses[k] = theta, loss
    if steps >= 2 and losses[-1] > losses[0] and losses[-1] > losses[-2]:
        # not blown up yet, but heading there: say so rather than report a "result"
        cause = (f"loss is growing: {losses[0]:.4g} at the start, {losses[-1]:.4g} after {steps} steps: "
                 f"{label(lrs[-1])}")
        if critical is not None and lrs[-1] > critical:
            cause += f" above 2/λ_max = {critical:.4g}"
        return History(path, losses, lrs, True, steps, cause, "still rising")
    return History(path, losses, lrs, False, None, "")


def gradient_descent(loss_and_grad, theta0, lr, steps, *, critical=None) -> History:
    """Plain gradient descent ``θ ← θ - lr ∇L(θ)`` for ``steps`` steps.

    loss_and_grad : ``f(theta: (p,)) -> (loss: float, grad: (p,))``.
    theta0 : the start, shape (p,). lr : the learning rate (> 0).
    critical : optional ``2/λ_max``, quoted in the divergence message.
    Returns a History; a blow-up stops the run with ``diverged=True`` and
    ``cause`` like "loss became inf at step 12: lr=0.35 above 2/λ_max = 0.3267".
    """
    lr = positive_number(lr, "lr", "gradient_descent")

    def update(theta, grad, lr_k):
        theta -= lr_k * grad

    return _loop(loss_and_grad, theta0, steps, update, lambda t: lr, critical,
                 "gradient_descent", lambda lr_k: f"lr={lr_k:.4g}")


STOP_REASONS = ("converged", "max_steps") + DIVERGENCE_CAUSES


def descend(loss_and_grad, theta0, lr, max_steps=1000, tol=1e-8) -> dict:
    """Gradient descent with a stopping rule: the loop notebook 02's exercise builds.

    loss_and_grad : f(theta) -> (loss, grad), theta and grad of shape (p,).
    theta0 : the start, p numbers (copied as float64; the caller's array is untouched).
    lr : the learning rate, > 0.    max_steps : the most updates, an int >= 0.
    tol : stop once the gradient's Euclidean norm is below it, >= 0.

    At each point θ_k (k = 0, 1, 2, ...), in this order:

    1. divergence(L_k, L_0) is not None  ->  stop with that cause ("non-finite" or "blew up");
    2. ‖∇L(θ_k)‖₂ < tol                   ->  stop, "converged";
    3. k == max_steps                     ->  stop, "max_steps";
    4. θ_{k+1} = θ_k - lr ∇L(θ_k).

    Returns a dict:
      "path"   : list of the k+1 points θ_0 ... θ_k, each a (p,) float64 array;
      "losses" : list of the k+1 losses L(θ_0) ... L(θ_k), floats;
      "steps"  : k, the number of updates made (int);
      "stop"   : why it stopped, one of STOP_REASONS.
    """
    callable_arg(loss_and_grad, "loss_and_grad", "descend")
    theta = as_float_array(theta0, "theta0", "descend", ndim=1).copy()
    lr = positive_number(lr, "lr", "descend")
    max_steps = positive_number(max_steps, "max_steps", "descend", integer=True, allow_zero=True)
    tol = positive_number(tol, "tol", "descend", allow_zero=True)
    with np.errstate(all="ignore"):
        loss, grad = _evaluate(loss_and_grad, theta, "descend")
        path, losses = [theta], [loss]
        while True:
            stop = divergence(loss, losses[0])
            if stop is None and np.linalg.norm(grad) < tol:
                stop = "converged"
            if stop is None and len(path) - 1 == max_steps:
                stop = "max_steps"
            if stop is not None:
                return {"path": path, "losses": losses, "steps": len(path) - 1, "stop": stop}
            theta = theta - lr * grad
            loss, grad = _evaluate(loss_and_grad, theta, "descend")
            path.append(theta)
            losses.append(loss)


def run_optimizer(loss_and_grad, theta0, optimizer, steps, *, schedule=None, critical=None) -> History:
    """The descent loop driven by an optimizer from nblib.optim.

    Each step calls ``optimizer.step({"theta": θ}, {"theta": ∇L(θ)})``. With
    ``schedule`` (a callable ``t -> lr``), ``optimizer.lr = schedule(t)`` before step t
    (t = 0, 1, ...). The optimizer keeps its state, so pass a fresh one per run.
    """
    from .optim import Optimizer
    if not isinstance(optimizer, Optimizer):
        kind = type(optimizer)
        got = (f"{kind.__module__}.{kind.__name__}; a torch.optim optimizer updates tensors, this loop "
               f"updates a NumPy array" if kind.__module__.startswith("torch") else describe(optimizer))
        raise TypeError(f"run_optimizer: optimizer must be an nblib.optim optimizer such as SGD(lr=0.1), "
                        f"got {got}")
    if schedule is not None:
        callable_arg(schedule, "schedule", "run_optimizer")

    def lr_of(t):
        if schedule is not None:
            optimizer.lr = float(schedule(t))
        return optimizer.lr

    def update(theta, grad, lr_k):
        optimizer.step({"theta": theta}, {"theta": grad})

    return _loop(loss_and_grad, theta0, steps, update, lr_of, critical, "run_optimizer",
                 lambda lr_k: f"{type(optimizer).__name__} with lr={lr_k:.4g}")


def minibatch_sgd(x, y, theta0, lr, epochs, batch_size, *, seed=0, shuffle=True, schedule=None):
    """(Mini-)batch SGD for the line ``ŷ = w x + b``; ``theta0 = (w0, b0)``.

    Each epoch visits every sample once, in batches of ``batch_size`` (the last batch
    may be smaller); the order is reshuffled every epoch when ``shuffle`` (with a
    Generator made from ``seed``). ``batch_size = n`` is full-batch GD, ``1`` is
    stochastic GD. ``schedule(epoch) -> lr`` overrides ``lr`` per epoch.

    Returns a dict: ``path`` (updates+1, 2) after every update, ``epoch_path``
    (epochs+1, 2), ``epoch_loss`` (epochs+1,) full-data MSE at each epoch end,
    ``updates_per_epoch`` and ``grad_evals_per_epoch`` (= n: single-sample gradients),
    and ``diverged``, ``step`` (the update, 1-based, at which the full-data loss blew
    up, or None), ``cause`` and ``reason``, as in History. A diverged run stops there and
    keeps only finite rows (``epoch_path`` up to the last completed epoch).
    """
    from .data import make_rng
    x, y = _xy(x, y, "minibatch_sgd")
    theta = as_float_array(theta0, "theta0", "minibatch_sgd", ndim=1).copy()
    if theta.shape != (2,):
        raise ValueError(f"minibatch_sgd: theta0 must be (w0, b0), shape (2,), got shape {theta.shape}")
    lr = positive_number(lr, "lr", "minibatch_sgd")
    epochs = positive_number(epochs, "epochs", "minibatch_sgd", integer=True, allow_zero=True)
    n = x.size
    batch_size = positive_number(batch_size, "batch_size", "minibatch_sgd", integer=True)
    if batch_size > n:
        raise ValueError(f"minibatch_sgd: batch_size={batch_size} is larger than the {n} samples")
    if schedule is not None:
        callable_arg(schedule, "schedule", "minibatch_sgd")
    rng = make_rng(seed)
    moments = _moments(x, y)

    def full_loss(theta):                  # the full-data MSE (no gradient needed here)
        return _moments_loss(float(theta[0]), float(theta[1]), moments)

    path, epoch_path = [theta.copy()], [theta.copy()]
    epoch_loss = [full_loss(theta)]
    diverged, step, cause, reason = False, None, "", None
    with np.errstate(all="ignore"):
        for epoch in range(epochs):
            lr_e = lr if schedule is None else positive_number(
                schedule(epoch), f"the rate schedule({epoch}) returned", "minibatch_sgd")
            order = rng.permutation(n) if shuffle else np.arange(n)
            for start in range(0, n, batch_size):
                idx = order[start:start + batch_size]
                r = theta[0] * x[idx] + theta[1] - y[idx]
                theta -= lr_e * np.array([2.0 * (r @ x[idx]), 2.0 * r.sum()]) / idx.size
                loss = full_loss(theta)
                reason = divergence(loss, epoch_loss[0])   # a finite loss of a line means a finite θ
                if reason:
                    diverged, step = True, len(path)
                    what = "became inf" if not np.isfinite(loss) else f"grew above {BLOWUP:.0e} × its start"
                    cause = (f"loss {what} at step {step} (epoch {epoch + 1}, batch size {batch_size}): "
                             f"lr={lr_e:.4g}")
                    break
                path.append(theta.copy())
            if diverged:
                break
            epoch_path.append(theta.copy())
            epoch_loss.append(full_loss(theta))
    return {"path": np.array(path), "epoch_path": np.array(epoch_path), "epoch_loss": np.array(epoch_loss),
            "updates_per_epoch": -(-n // batch_size), "grad_evals_per_epoch": n,
            "diverged": diverged, "step": step, "cause": cause, "reason": reason}
