"""Input checks shared by nblib's public functions.

Every public function validates at its boundary and raises ``ValueError`` or
``TypeError`` with a message that names the function, the argument, what was
expected and what came, e.g.::

    cross_entropy: labels has shape (5, 1) but logits has batch size 5; pass labels
    as shape (5,) integer class ids

so that a learner never meets a raw numpy broadcasting traceback.
"""

from __future__ import annotations

import numbers

import numpy as np


class NonFiniteError(ValueError):
    """An array that must be finite holds NaN or inf: usually the sign of a diverging run.

    A ``ValueError`` (so ``except ValueError`` still catches it) that code can recognise by
    its type, never by parsing the message."""


def describe(x) -> str:
    """A short description of ``x`` for error messages: shape and dtype for arrays."""
    if isinstance(x, np.ndarray):
        return f"an array of shape {x.shape} and dtype {x.dtype}"
    if hasattr(x, "shape") and hasattr(x, "dtype"):  # torch tensors and friends
        return f"a {type(x).__name__} of shape {tuple(x.shape)} and dtype {x.dtype}"
    return f"{type(x).__name__} {x!r}"[:120]


def as_float_array(x, name: str, where: str, *, ndim=None, allow_empty: bool = False,
                   finite: bool = True) -> np.ndarray:
    """Convert ``x`` to a float64 array and check it.

    ``ndim`` may be an int or a tuple of allowed ints. Raises ``TypeError`` for
    non-numeric input, ``ValueError`` for the wrong number of dimensions, an empty
    array (unless ``allow_empty``) or NaN/inf values (unless ``finite=False``).
    """
    if type(x) is np.ndarray and x.dtype == np.float64:
        arr = x                           # already what is wanted: only the checks below
    else:
        arr = _to_float64(x, name, where)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"{where}: {name} must be {want}, got shape {arr.shape}")
    if arr.size == 0 and not allow_empty:
        raise ValueError(f"{where}: {name} is empty (shape {arr.shape}); it needs at least one value")
    if finite and not np.isfinite(arr).all():
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise NonFiniteError(f"{where}: {name} contains {bad} NaN or infinite value(s); "
                         f"check the step that produced it (a diverging run?)")
    return arr


def _to_float64(x, name: str, where: str) -> np.ndarray:
    if isinstance(x, (str, bytes)) or x is None or isinstance(x, dict):
        raise TypeError(f"{where}: {name} must be a number or an array of numbers, got {describe(x)}")
    if hasattr(x, "detach") and hasattr(x, "numpy"):  # a torch tensor
        x = x.detach().cpu().numpy()
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{where}: {name} could not be turned into an array ({exc})") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{where}: {name} must hold numbers, got {describe(x)}")
    if np.iscomplexobj(arr):
        raise TypeError(f"{where}: {name} must be real, got complex dtype {arr.dtype}")
    return arr.astype(np.float64, copy=False)


def same_shape(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str, where: str) -> None:
    """Raise ``ValueError`` unless ``a`` and ``b`` have exactly the same shape (no broadcasting)."""
    if a.shape != b.shape:
        hint = ""
        if a.size == b.size:
            hint = f"; reshape one of them (e.g. {name_b}.reshape({a.shape}))"
        raise ValueError(f"{where}: {name_a} has shape {a.shape} but {name_b} has shape {b.shape}; "
                         f"they must match exactly{hint}")


def class_labels(labels, n, num_classes: int, where: str, name: str = "labels",
                 batch_name: str = "logits") -> np.ndarray:
    """Check integer class ids of shape (n,) in [0, num_classes) and return them as int64.

    ``n=None`` accepts any length (1-D still required).
    """
    if hasattr(labels, "detach") and hasattr(labels, "numpy"):
        labels = labels.detach().cpu().numpy()
    arr = np.asarray(labels)
    if n is None:
        if arr.ndim != 1:
            raise ValueError(f"{where}: {name} must be 1-D integer class ids of shape (n,), got shape {arr.shape}")
    elif arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{where}: {name} has shape {arr.shape} but {batch_name} has batch size {n}; "
                         f"pass {name} as shape ({n},) integer class ids")
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{where}: {name} must be integer class ids, got dtype {arr.dtype}; "
                        f"if they are whole numbers, convert with {name}.astype(int)")
    if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
        bad = arr[(arr < 0) | (arr >= num_classes)]
        raise ValueError(f"{where}: {name} must lie in [0, {num_classes - 1}] for {num_classes} classes, "
                         f"got {bad[:5].tolist()}")
    return arr.astype(np.int64, copy=False)


def positive_number(x, name: str, where: str, *, integer: bool = False, allow_zero: bool = False):
    """Check a positive (or non-negative) scalar such as a learning rate or a step count."""
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(x, bool) or not isinstance(x, kind):
        want = "an integer" if integer else "a number"
        raise TypeError(f"{where}: {name} must be {want}, got {describe(x)}")
    if not np.isfinite(x):
        raise ValueError(f"{where}: {name} must be finite, got {x}")
    if x < 0 or (x == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{where}: {name} must be {bound}, got {x}")
    return int(x) if integer else float(x)


def callable_arg(f, name: str, where: str):
    """Raise ``TypeError`` unless ``f`` is callable."""
    if not callable(f):
        raise TypeError(f"{where}: {name} must be a function, got {describe(f)}")
    return f
