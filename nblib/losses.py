"""Loss functions and their gradients, numerically stable (notebook 01).

Conventions
-----------
* ``reduction="mean"`` (the default) averages over the batch, like PyTorch:
  ``mse`` averages over *every element*; ``binary_cross_entropy`` over every element;
  ``cross_entropy`` over the ``n`` rows of ``logits``. ``reduction="sum"`` adds instead.
  The gradient functions follow the same convention, so with ``"mean"`` every
  gradient carries the ``1/n``; that is why the learning rate does not have to
  change when the batch size does.
* Classification losses take **logits** (raw scores, any real number), never
  probabilities: the sigmoid / softmax happens inside, in a stable form
  (log-sum-exp), so logits of +-1e4 give finite, correct values.
* Class labels are integer ids of shape ``(n,)``; ``cross_entropy`` also accepts
  one-hot or soft targets of shape ``(n, C)`` whose rows sum to 1.
"""

from __future__ import annotations

import numpy as np

from ._validate import as_float_array, class_labels, same_shape

__all__ = [
    "mse", "mse_grad",
    "sigmoid", "binary_cross_entropy", "binary_cross_entropy_grad",
    "softmax", "log_softmax", "one_hot", "cross_entropy", "cross_entropy_grad",
]


def _reduction(reduction, where):
    if reduction not in ("mean", "sum"):
        raise ValueError(f"{where}: reduction must be 'mean' or 'sum', got {reduction!r}")
    return reduction


# ----------------------------------------------------------------------------- MSE
def _mse_inputs(y_pred, y_true, reduction, where):
    _reduction(reduction, where)
    p = as_float_array(y_pred, "y_pred", where)
    t = as_float_array(y_true, "y_true", where)
    same_shape(p, t, "y_pred", "y_true", where)
    return p, t


def mse(y_pred, y_true, reduction: str = "mean") -> float:
    """Mean squared error  L = (1/N) Σ_i (ŷ_i - y_i)².

    Parameters
    ----------
    y_pred, y_true : array of the same shape, any shape (e.g. ``(n,)`` or ``(n, d)``).
        The shapes must match exactly: ``(n, 1)`` against ``(n,)`` is refused, because
        broadcasting would silently build an ``(n, n)`` matrix.
    reduction : ``"mean"`` (over all N elements) or ``"sum"``.

    Returns a Python float.
    """
    p, t = _mse_inputs(y_pred, y_true, reduction, "mse")
    sq = (p - t) ** 2
    return float(sq.mean() if reduction == "mean" else sq.sum())


def mse_grad(y_pred, y_true, reduction: str = "mean") -> np.ndarray:
    """Gradient of mse() with respect to ``y_pred``:  (2/N) (ŷ - y).

    Same shapes as mse(); returns an array shaped like ``y_pred``. With
    ``reduction="sum"`` the factor is 2 instead of 2/N.
    """
    p, t = _mse_inputs(y_pred, y_true, reduction, "mse_grad")
    g = 2.0 * (p - t)
    return g / p.size if reduction == "mean" else g


# --------------------------------------------------------------- sigmoid and BCE
def sigmoid(z) -> np.ndarray:
    """Logistic function  σ(z) = 1 / (1 + e^-z), elementwise, any shape.

    Computed without overflow: for ``z < 0`` it uses  e^z / (1 + e^z).
    Returns float64 of the same shape (a 0-d array for a scalar).
    """
    z = as_float_array(z, "z", "sigmoid")
    e = np.exp(-np.abs(z))  # in (0, 1]: never overflows
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _bce_inputs(logits, targets, reduction, where):
    _reduction(reduction, where)
    z = as_float_array(logits, "logits", where)
    y = as_float_array(targets, "targets", where)
    same_shape(z, y, "logits", "targets", where)
    if np.any((y < 0) | (y > 1)):
        raise ValueError(f"{where}: targets must lie in [0, 1] (class 1 probability), "
                         f"got values from {y.min():g} to {y.max():g}")
    return z, y


def binary_cross_entropy(logits, targets, reduction: str = "mean") -> float:
    r"""Binary cross-entropy of sigmoid(``logits``) against ``targets``.

    ℓ = -[y log σ(z) + (1 - y) log(1 - σ(z))], computed as
    max(z, 0) - y z + log(1 + e^-|z|) so that no exp overflows and no log
    sees 0.

    Parameters
    ----------
    logits : array, any shape, e.g. ``(n,)``: raw scores z, not probabilities.
    targets : array of the same shape with values in [0, 1] (usually 0 or 1).
    reduction : ``"mean"`` over all elements, or ``"sum"``.
    """
    z, y = _bce_inputs(logits, targets, reduction, "binary_cross_entropy")
    loss = np.maximum(z, 0.0) - y * z + np.log1p(np.exp(-np.abs(z)))
    return float(loss.mean() if reduction == "mean" else loss.sum())


def binary_cross_entropy_grad(logits, targets, reduction: str = "mean") -> np.ndarray:
    """Gradient of binary_cross_entropy() w.r.t. the logits:  (σ(z) - y) / N.

    Returns an array shaped like ``logits``.
    """
    z, y = _bce_inputs(logits, targets, reduction, "binary_cross_entropy_grad")
    g = sigmoid(z) - y
    return g / z.size if reduction == "mean" else g


# ------------------------------------------------------------ softmax and CE
def _axis(x, axis, where):
    if not isinstance(axis, (int, np.integer)) or not -x.ndim <= axis < x.ndim:
        raise ValueError(f"{where}: axis={axis!r} is not valid for an array of shape {x.shape}")
    return int(axis)


def log_softmax(logits, axis: int = -1) -> np.ndarray:
    """Log of softmax(), stable:  z_k - max z - log Σ_j e^(z_j - max z).

    ``logits``: any shape, e.g. ``(n, C)``; normalised along ``axis`` (default the last,
    the class axis). Returns the same shape.
    """
    z = as_float_array(logits, "logits", "log_softmax")
    axis = _axis(z, axis, "log_softmax")
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(logits, axis: int = -1) -> np.ndarray:
    """Softmax  e^z_k / Σ_j e^z_j  along ``axis`` (default: last axis = classes).

    Subtracts the max first, so ``logits`` of 1e4 do not overflow. ``logits``: any
    shape, e.g. ``(n, C)``. Returns the same shape; entries along ``axis`` sum to 1.
    """
    z = as_float_array(logits, "logits", "softmax")
    axis = _axis(z, axis, "softmax")
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def one_hot(labels, num_classes: int) -> np.ndarray:
    """One-hot encode integer ``labels`` of shape ``(n,)`` into a float array ``(n, num_classes)``."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError(f"one_hot: num_classes must be a positive int, got {num_classes!r}")
    lab = class_labels(labels, None, int(num_classes), "one_hot")
    out = np.zeros((lab.shape[0], int(num_classes)))
    out[np.arange(lab.shape[0]), lab] = 1.0
    return out


def _ce_inputs(logits, labels, reduction, where):
    _reduction(reduction, where)
    z = as_float_array(logits, "logits", where)
    if z.ndim != 2:
        hint = f"; for a single sample use logits[None, :] (shape (1, {z.shape[0]}))" if z.ndim == 1 else ""
        raise ValueError(f"{where}: logits must be 2-D (batch n, classes C), got shape {z.shape}{hint}")
    n, c = z.shape
    lab = np.asarray(labels.detach().cpu().numpy() if hasattr(labels, "detach") else labels)
    if lab.ndim == 2 and lab.shape == z.shape:  # one-hot or soft targets
        t = as_float_array(lab, "labels", where)
        same_shape(z, t, "logits", "labels", where)
        if np.any(t < 0) or not np.allclose(t.sum(axis=1), 1.0, atol=1e-6):
            raise ValueError(f"{where}: 2-D labels must be one-hot or probabilities (each row >= 0, "
                             f"summing to 1); got row sums from {t.sum(1).min():g} to {t.sum(1).max():g}")
        return z, t
    return z, one_hot(class_labels(lab, n, c, where), c)


def cross_entropy(logits, labels, reduction: str = "mean") -> float:
    r"""Softmax cross-entropy from logits, like ``torch.nn.functional.cross_entropy``.

    L = -(1/n) Σ_i log softmax(z_i)[y_i], computed with log_softmax()
    (stable for any finite logits).

    Parameters
    ----------
    logits : ``(n, C)`` raw scores; do **not** apply softmax first.
    labels : ``(n,)`` integer class ids in ``[0, C)``, or ``(n, C)`` one-hot / soft targets.
    reduction : ``"mean"`` over the n samples (default) or ``"sum"``.
    """
    z, t = _ce_inputs(logits, labels, reduction, "cross_entropy")
    per_sample = -(t * log_softmax(z, axis=1)).sum(axis=1)
    return float(per_sample.mean() if reduction == "mean" else per_sample.sum())


def cross_entropy_grad(logits, labels, reduction: str = "mean") -> np.ndarray:
    """Gradient of cross_entropy() w.r.t. the logits:  (softmax(z) - Y) / n.

    ``Y`` is the one-hot ``(n, C)`` form of ``labels``. Returns an ``(n, C)`` array.
    """
    z, t = _ce_inputs(logits, labels, reduction, "cross_entropy_grad")
    g = softmax(z, axis=1) - t
    return g / z.shape[0] if reduction == "mean" else g
