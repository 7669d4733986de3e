"""Regularisation: the L2 penalty (weight decay), inverted dropout, a network with dropout,
and polynomial regression for seeing overfitting (notebook 08).

* ``l2_penalty`` -- ``(lam/2) * sum ||W||^2`` over the weight matrices and its gradient
  ``lam * W``; biases are not decayed unless ``decay_biases=True``.
* ``dropout_forward`` / ``dropout_backward`` -- inverted dropout, PyTorch's
  semantics: ``p`` is the probability of *dropping* a unit; in training mode the kept
  units are scaled by ``1 / (1 - p)``; in evaluation mode dropout is the identity; the
  backward pass reuses the forward pass's mask.
* ``DropoutMLP`` -- ``nblib.layers.MLP`` with dropout after every hidden
  activation, and ``train()`` / ``eval()`` modes as in ``torch.nn.Module``.
* ``poly_features``, ``fit_polynomial``, ``poly_data`` -- least squares with
  an optional ridge penalty, for the polynomial-degree picture of overfitting.

Shapes: ``n`` samples, ``d`` features; parameters are dicts ``{"W1": (d, h), "b1": (h,), ...}``
as in ``nblib.layers`` (a name starting with ``W`` is a weight matrix, with ``b`` a bias).
"""

from __future__ import annotations

import numpy as np

from ._validate import as_float_array, describe, positive_number
from .data import make_rng
from .layers import ACTIVATIONS, MLP, affine_backward, affine_forward

__all__ = ["l2_penalty", "is_weight", "dropout_forward", "dropout_backward", "DropoutMLP",
           "poly_features", "fit_polynomial", "poly_data", "mse"]


# ------------------------------------------------------------------ the L2 penalty
def is_weight(name: str) -> bool:
    """Whether a parameter name is a weight matrix (``"W1"``, ``"W2"``, ...) rather than a bias."""
    return isinstance(name, str) and name.startswith("W")


def _params(params, where):
    if not isinstance(params, dict) or not params:
        raise TypeError(f"{where}: params must be a non-empty dict name -> array (like net.params), "
                        f"got {describe(params)}")
    return {k: as_float_array(v, f"params[{k!r}]", where, finite=False) for k, v in params.items()}


def l2_penalty(params, lam, decay_biases: bool = False):
    r"""The L2 penalty ``\frac{\lambda}{2}\sum_l \lVert W_l\rVert_F^2`` and its gradient.

    ``params``: dict name -> array; ``lam`` ``\lambda \ge 0``. Weight matrices are the
    names starting with ``"W"``; biases (the rest) are not penalised unless
    ``decay_biases=True`` (a bias shifts a unit, it does not make the function steeper, and
    decaying it only pulls the outputs towards 0).

    Returns ``(value, grads)``: a float and a dict with the keys and shapes of ``params``,
    ``\lambda W`` for each penalised array and zeros for the others.
    """
    where = "l2_penalty"
    arrays = _params(params, where)
    lam = positive_number(lam, "lam", where, allow_zero=True)
    value, grads = 0.0, {}
    for name, p in arrays.items():
        if is_weight(name) or decay_biases:
            value += 0.5 * lam * float(np.sum(p * p))
            grads[name] = lam * p
        else:
            grads[name] = np.zeros_like(p)
    return value, grads


# ------------------------------------------------------------------ dropout
def _drop_probability(p, where):
    p = positive_number(p, "p", where, allow_zero=True)
    if p >= 1:
        raise ValueError(f"{where}: p is the probability of dropping a unit and must satisfy 0 <= p < 1, got {p}")
    return p


def dropout_forward(x, p, train: bool = True, rng=None, mask=None):
    r"""Inverted dropout: ``out = x * mask / (1 - p)`` in training mode, ``out = x`` in evaluation mode.

    Parameters
    ----------
    x : any shape, e.g. ``(n, h)`` hidden activations.
    p : the probability of **dropping** a unit (PyTorch's ``nn.Dropout(p)``), ``0 <= p < 1``.
    train : training mode (drop and scale) or evaluation mode (identity, no randomness).
    rng : ``numpy.random.Generator`` or int seed for the mask (training mode only).
    mask : optional boolean array shaped like ``x`` (True = kept) to use instead of a random
        one (e.g. the mask PyTorch drew).

    Each unit is kept with probability ``q = 1 - p``, independently, and scaled by
    ``1/q``, so ``\mathbb E[\text{out}] = x``: evaluation mode needs no rescaling.
    Returns ``(out, cache)``; ``cache = (mask, q)`` (mask: the boolean keep-mask, or None in
    evaluation mode) is what ``dropout_backward`` needs.
    """
    where = "dropout_forward"
    x = as_float_array(x, "x", where, allow_empty=True)
    p = _drop_probability(p, where)
    if not train or p == 0.0:
        return x.copy(), (None, 1.0)
    q = 1.0 - p
    if mask is None:
        mask = make_rng(0 if rng is None else rng, where).random(x.shape) >= p
    else:
        mask = np.asarray(mask)
        if mask.shape != x.shape:
            raise ValueError(f"{where}: mask has shape {mask.shape} but x has shape {x.shape}; they must match")
        mask = mask.astype(bool)
    return x * mask / q, (mask, q)


def dropout_backward(dout, cache):
    r"""Backward of ``dropout_forward``: ``dx = dout * mask / (1 - p)`` with the **same** mask.

    In evaluation mode (``mask`` None) ``dx = dout``. Returns ``dx`` shaped like ``dout``.
    """
    where = "dropout_backward"
    if not isinstance(cache, tuple) or len(cache) != 2:
        raise TypeError(f"{where}: cache must be the (mask, q) pair returned by dropout_forward, got {describe(cache)}")
    mask, q = cache
    dout = as_float_array(dout, "dout", where, allow_empty=True, finite=False)
    if mask is None:
        return dout.copy()
    if dout.shape != mask.shape:
        raise ValueError(f"{where}: dout has shape {dout.shape} but the forward pass had shape {mask.shape}")
    return dout * mask / q


class DropoutMLP(MLP):
    """An ``nblib.layers.MLP`` with dropout after every hidden activation.

    ``dropout``: the drop probability ``p`` (PyTorch's); ``dropout_seed``: seed of the masks
    (a new mask at every forward pass in training mode). ``dropout_fns``: optional pair
    ``(forward, backward)`` with the signatures of ``dropout_forward`` ``(x, p, train, rng)``
    and ``dropout_backward``, e.g. your own from the notebook's exercise.

    Modes, as in ``torch.nn.Module``: ``train`` (the default: dropout active) and
    ``eval`` (dropout is the identity: use it to measure and predict). ``training``
    says which mode is on. ``nblib.train.fit`` switches to training mode for the updates
    and to evaluation mode for measuring, and leaves the network in evaluation mode.
    """

    def __init__(self, sizes, dropout: float = 0.5, activation: str = "relu", init: str = "he", seed=0,
                 head: str = "softmax", dropout_seed=0, dropout_fns=None):
        super().__init__(sizes, activation=activation, init=init, seed=seed, head=head)
        self.dropout = _drop_probability(dropout, "DropoutMLP")
        if dropout_fns is None:
            dropout_fns = (dropout_forward, dropout_backward)
        if not (isinstance(dropout_fns, tuple) and len(dropout_fns) == 2 and all(map(callable, dropout_fns))):
            raise TypeError(f"DropoutMLP: dropout_fns must be a pair of functions (forward, backward), "
                            f"got {describe(dropout_fns)}")
        self.dropout_fns = dropout_fns
        self._drop_rng = make_rng(dropout_seed, "DropoutMLP")
        self.training = True

    def __repr__(self):
        return (f"DropoutMLP(sizes={self.sizes}, dropout={self.dropout}, activation={self.activation!r}, "
                f"mode={'train' if self.training else 'eval'})")

    def train(self):
        """Training mode: dropout drops. Returns the network."""
        self.training = True
        return self

    def eval(self):
        """Evaluation mode: dropout is the identity. Returns the network."""
        self.training = False
        return self

    def forward(self, X) -> np.ndarray:
        """Logits ``(n, C)``; in training mode each hidden layer's output passes through dropout."""
        X = as_float_array(X, "X", "DropoutMLP.forward", ndim=2)
        if X.shape[1] != self.sizes[0]:
            raise ValueError(f"DropoutMLP.forward: X has shape {X.shape} but the network expects "
                             f"{self.sizes[0]} features per sample, shape (n, {self.sizes[0]})")
        act_f, _ = ACTIVATIONS[self.activation]
        drop_f, _ = self.dropout_fns
        caches, h = [], X
        for i in range(1, self.num_layers + 1):
            h, aff_cache = affine_forward(h, self.params[f"W{i}"], self.params[f"b{i}"])
            act_cache = drop_cache = None
            if i < self.num_layers:
                h, act_cache = act_f(h)
                h, drop_cache = drop_f(h, self.dropout, self.training, self._drop_rng)
            caches.append((aff_cache, act_cache, drop_cache))
        self._caches = caches
        return h

    def backward(self, dlogits) -> dict:
        """Gradients of every parameter; each dropout layer reuses its forward mask."""
        if self._caches is None:
            raise RuntimeError("DropoutMLP.backward: call forward(X) first; backward needs its caches")
        _, act_b = ACTIVATIONS[self.activation]
        _, drop_b = self.dropout_fns
        grads, dh = {}, dlogits
        for i in range(self.num_layers, 0, -1):
            aff_cache, act_cache, drop_cache = self._caches[i - 1]
            if i < self.num_layers:
                dh = act_b(drop_b(dh, drop_cache), act_cache)
            dh, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(dh, aff_cache)
        return {k: grads[k] for k in self.params}


# ------------------------------------------------------------------ polynomial regression
def poly_data(n: int = 15, noise: float = 0.25, seed=0):
    r"""A small regression set: ``y = \sin(\pi x) + \varepsilon``, ``x`` uniform on [-1, 1].

    Returns ``(x, y)``, both ``(n,)`` float64, from ``seed``.
    """
    n = positive_number(n, "n", "poly_data", integer=True)
    noise = positive_number(noise, "noise", "poly_data", allow_zero=True)
    rng = make_rng(seed, "poly_data")
    x = rng.uniform(-1.0, 1.0, size=n)
    return x, np.sin(np.pi * x) + noise * rng.standard_normal(n)


def poly_features(x, degree: int) -> np.ndarray:
    r"""Legendre features ``[P_0(x), P_1(x), \dots, P_{\text{degree}}(x)]``, shape ``(n, degree + 1)``.

    Legendre polynomials span the same functions as ``1, x, \dots, x^k`` on [-1, 1]
    but are far better conditioned, so a degree-15 fit is still accurate in float64.
    """
    x = as_float_array(x, "x", "poly_features", ndim=1)
    degree = positive_number(degree, "degree", "poly_features", integer=True, allow_zero=True)
    return np.polynomial.legendre.legvander(x, degree)


def fit_polynomial(x, y, degree: int, lam: float = 0.0, dropout: float = 0.0) -> np.ndarray:
    r"""Least-squares coefficients ``w`` (degree + 1,) of a polynomial in ``poly_features``.

    Minimises ``\frac1n\lVert y - \Phi w\rVert^2 + \lambda\lVert w_{1:}\rVert^2`` (the
    constant term is not penalised, as a bias), plus, for ``dropout`` ``p > 0``, the
    penalty that inverted dropout on the features adds *in expectation*:
    ``\frac{p}{1-p}\frac1n\sum_j w_j^2 \lVert\Phi_{:,j}\rVert^2`` (for a linear model
    the average over masks of the dropout loss is exactly the plain loss plus this term).
    """
    where = "fit_polynomial"
    x = as_float_array(x, "x", where, ndim=1)
    y = as_float_array(y, "y", where, ndim=1)
    if x.shape != y.shape:
        raise ValueError(f"{where}: x has shape {x.shape} but y has shape {y.shape}; they must match")
    lam = positive_number(lam, "lam", where, allow_zero=True)
    p = _drop_probability(dropout, where)
    return _ridge(poly_features(x, degree), y, lam, p)


def _ridge(Phi, y, lam, p):
    """The minimiser above for features ``Phi`` (n, k), as one least-squares problem on the stacked
    system ``[Phi / sqrt(n); diag(sqrt(reg))] w = [y / sqrt(n); 0]`` (conditioned like ``Phi``, not
    like ``Phi.T @ Phi``, so high degrees stay accurate)."""
    n, k = Phi.shape
    reg = np.full(k, float(lam))
    reg[0] = 0.0
    if p:
        reg = reg + p / (1 - p) * np.sum(Phi * Phi, axis=0) / n
    A = np.vstack([Phi / np.sqrt(n), np.diag(np.sqrt(reg))])
    b = np.concatenate([y / np.sqrt(n), np.zeros(k)])
    return np.linalg.lstsq(A, b, rcond=None)[0]


def mse(x, y, w) -> float:
    """Mean squared error of the polynomial ``w`` (from ``fit_polynomial``) on ``(x, y)``."""
    Phi = poly_features(x, len(w) - 1)
    return float(np.mean((Phi @ w - np.asarray(y, dtype=float)) ** 2))
