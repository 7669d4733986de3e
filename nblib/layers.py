"""Layers with a forward/backward-with-cache pattern, and a small MLP (notebook 04).

Every layer is a pair of plain functions, in the style of CS231n::

    out, cache = affine_forward(x, W, b)     # remember what the backward pass needs
    dx, dW, db = affine_backward(dout, cache)

``dout`` is the gradient of the loss with respect to the layer's output (same shape as
``out``); the backward function returns the gradient with respect to each input (same
shape as that input). Pass the backward function the ``cache`` alone, not the whole
``(out, cache)`` pair. Everything is float64. Shapes: ``n`` samples, ``d`` input
features, ``h`` units, ``C`` classes.

Activations (elementwise, any shape; each ``*_backward(dout, cache) -> dx``):

==============  =============================  ==========================================
name            f(x)                           f'(x)
==============  =============================  ==========================================
linear          x                              1                     (cache: the shape)
sigmoid         1 / (1 + e^-x)                 f(x) (1 - f(x))       (cache: the output)
tanh            tanh x                         1 - f(x)^2            (cache: the output)
relu            max(0, x)                      1 if x > 0 else 0     (cache: the input)
leaky_relu      x if x > 0 else alpha x        1 if x > 0 else alpha (cache: (x, alpha))
elu             x if x > 0 else alpha(e^x - 1) 1 if x > 0 else f(x) + alpha  ((x, alpha, out))
==============  =============================  ==========================================

At the kink x = 0, relu, leaky_relu and elu use the left derivative (0, alpha, 1),
as PyTorch does for relu.

Heads (loss + gradient with respect to the logits, **mean over the batch**), computed
with ``nblib.losses``: ``softmax_cross_entropy(logits (n, C), labels (n,))`` and
``sigmoid_bce(logits (n,) or (n, 1), targets same shape)``.

The L-layer network (the lesson of notebook 04, section 5), on a list of ``(W, b)`` pairs:
``mlp_forward(X, params, activation) -> (logits, caches)``,
``mlp_backward(dlogits, caches, activation) -> grads`` and
``mlp_loss_and_grads(X, y, params, activation) -> (loss, grads)``. ``MLP`` keeps its
parameters in a dict and runs these same functions, so its gradients are exactly what the
notebook derives.
"""

from __future__ import annotations

import numpy as np

from . import losses
from ._validate import as_float_array, class_labels, describe, positive_number, same_shape

__all__ = [
    "affine_forward", "affine_backward",
    "linear_forward", "linear_backward",
    "relu_forward", "relu_backward",
    "sigmoid_forward", "sigmoid_backward",
    "tanh_forward", "tanh_backward",
    "leaky_relu_forward", "leaky_relu_backward",
    "elu_forward", "elu_backward",
    "ACTIVATIONS", "INITS",
    "softmax_cross_entropy", "sigmoid_bce",
    "init_weights", "init_params", "mlp_forward", "mlp_backward", "mlp_loss_and_grads", "MLP",
]


# ------------------------------------------------------------------------- helpers
def _shape_text(shape) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _array(x, name, where, shape, meaning=None, since="", **kw):
    """``x`` as a float64 array of ``shape`` (a tuple of ints, ``None`` for any size), else a
    named ``ValueError``. ``meaning`` names the sizes, e.g. ``"(d, h)"``; ``since`` says
    where the expected sizes come from, e.g. ``"x has shape (4, 3)"``."""
    arr = as_float_array(x, name, where, ndim=len(shape), **kw)
    if any(want is not None and got != want for got, want in zip(arr.shape, shape)):
        letters = meaning.strip("()").replace(" ", "").split(",") if meaning else ["?"] * len(shape)
        want = _shape_text([letter if s is None else s for s, letter in zip(shape, letters)])
        want = f"{meaning} = {want}" if meaning else want
        raise ValueError(f"{where}: {since + ', so ' if since else ''}{name} must have shape {want}, "
                         f"but {name} has shape {arr.shape}")
    return arr


def _dout(dout, out_shape, where):
    g = as_float_array(dout, "dout", where, allow_empty=True, finite=False)
    if g.shape != tuple(out_shape):
        raise ValueError(f"{where}: dout has shape {g.shape} but the layer's output had shape "
                         f"{tuple(out_shape)}; dout must be dL/d(output), shaped like the output")
    return g


def _what(x) -> str:
    """A short description of what came, for cache messages (tuples item by item)."""
    if isinstance(x, (tuple, list)):
        items = ", ".join(f"array {v.shape}" if isinstance(v, np.ndarray) else
                          f"{type(v).__name__} of {len(v)}" if isinstance(v, (tuple, list)) else type(v).__name__
                          for v in x[:4])
        return f"a {type(x).__name__} of {len(x)} ({items}{', ...' if len(x) > 4 else ''})"
    if isinstance(x, dict):
        return f"a dict with keys {sorted(map(str, x))[:6]}"
    return describe(x)


def _not_a_cache(cache, where, forward, what, holds=""):
    pair = (isinstance(cache, tuple) and len(cache) == 2 and isinstance(cache[0], np.ndarray)
            and not isinstance(cache[1], (int, float, np.integer, np.floating)))
    extra = (f" (this looks like the whole (out, cache) pair: write `out, cache = {forward}(...)` "
             f"and pass only the cache)") if pair else ""
    holds = f", {holds}" if holds else ""
    return TypeError(f"{where}: cache must be {what} returned by {forward}{holds}, got {_what(cache)}{extra}")


def _tuple_cache(cache, n, where, forward, holds, kinds):
    """Unpack a cache tuple of ``n`` items of the given ``kinds`` ("array" or "number")."""
    ok = isinstance(cache, tuple) and len(cache) == n and all(
        isinstance(c, np.ndarray) if k == "array" else
        (isinstance(c, (int, float, np.integer, np.floating)) and not isinstance(c, bool))
        for c, k in zip(cache, kinds))
    if not ok:
        raise _not_a_cache(cache, where, forward, "the tuple", holds)
    return cache


def _array_cache(cache, where, forward, low=None, high=None, what="the array"):
    """Check a cache that is a single array (relu: its input; sigmoid, tanh: their output)."""
    if not isinstance(cache, np.ndarray):
        raise _not_a_cache(cache, where, forward, what)
    if low is not None and cache.size and (cache.min() < low or cache.max() > high):
        raise ValueError(f"{where}: cache must be the output of {forward}, whose values lie in "
                         f"[{low:g}, {high:g}], got values from {cache.min():.3g} to {cache.max():.3g} "
                         f"(the cache of another layer?)")
    return cache


# ------------------------------------------------------------------------- affine
def affine_forward(x, W, b):
    """Fully connected layer out = x W + b.

    x : (n, d) inputs, one sample per row.
    W : (d, h) weights.
    b : (h,) biases (added to each of the n rows).

    Returns ``(out, cache)``: ``out`` of shape (n, h) and ``cache = (x, W, b)``.
    """
    x = as_float_array(x, "x", "affine_forward", ndim=2)
    W = _array(W, "W", "affine_forward", (x.shape[1], None), "(d, h)", since=f"x has shape {x.shape}")
    b = _array(b, "b", "affine_forward", (W.shape[1],), since=f"W has shape {W.shape}")
    return x @ W + b, (x, W, b)


def affine_backward(dout, cache):
    """Backward pass of ``affine_forward``; ``dout`` = dL/d(out), shape (n, h).

    dx = dout @ W.T    (n, h) @ (h, d) -> (n, d)
    dW = x.T @ dout    (d, n) @ (n, h) -> (d, h)
    db = dout summed over the batch (axis 0) -> (h,)

    Returns ``(dx, dW, db)``, shaped like ``(x, W, b)``.
    """
    x, W, b = _tuple_cache(cache, 3, "affine_backward", "affine_forward", "(x, W, b)", ("array",) * 3)
    if x.ndim != 2 or W.ndim != 2 or W.shape[0] != x.shape[1]:
        raise _not_a_cache(cache, "affine_backward", "affine_forward", "the tuple", "(x, W, b)")
    dout = _dout(dout, (x.shape[0], W.shape[1]), "affine_backward")
    return dout @ W.T, x.T @ dout, dout.sum(axis=0)


# ------------------------------------------------------------------------- activations
def linear_forward(x):
    """Identity activation: returns ``(x, cache)``, a copy of ``x`` and ``cache = x.shape``."""
    x = as_float_array(x, "x", "linear_forward", allow_empty=True)
    return x.copy(), x.shape


def linear_backward(dout, cache):
    """Backward of the identity: dx = dout (``cache``: the input's shape, from ``linear_forward``)."""
    if not (isinstance(cache, tuple) and all(isinstance(d, (int, np.integer)) for d in cache)):
        raise _not_a_cache(cache, "linear_backward", "linear_forward", "the cache", "the input's shape (a tuple of ints)")
    return _dout(dout, cache, "linear_backward").copy()


def relu_forward(x):
    """ReLU (rectified linear unit) max(0, x) elementwise; cache: the input ``x``."""
    x = as_float_array(x, "x", "relu_forward", allow_empty=True)
    return np.maximum(x, 0.0), x


def relu_backward(dout, cache):
    """dx = dout * (x > 0): the gradient passes where the input was positive (0 at x = 0)."""
    x = _array_cache(cache, "relu_backward", "relu_forward", what="the input array")
    return _dout(dout, x.shape, "relu_backward") * (x > 0)


def sigmoid_forward(x):
    """Logistic sigmoid 1 / (1 + e^-x) elementwise (``nblib.losses.sigmoid``, overflow-free);
    cache: the output."""
    out = losses.sigmoid(as_float_array(x, "x", "sigmoid_forward", allow_empty=True))
    return out, out


def sigmoid_backward(dout, cache):
    """dx = dout * s * (1 - s), from the cached output s = sigmoid(x)."""
    s = _array_cache(cache, "sigmoid_backward", "sigmoid_forward", 0.0, 1.0, what="the output array")
    return _dout(dout, s.shape, "sigmoid_backward") * s * (1.0 - s)


def tanh_forward(x):
    """Hyperbolic tangent elementwise; cache: the output."""
    out = np.tanh(as_float_array(x, "x", "tanh_forward", allow_empty=True))
    return out, out


def tanh_backward(dout, cache):
    """dx = dout * (1 - t**2), from the cached output t = tanh(x)."""
    t = _array_cache(cache, "tanh_backward", "tanh_forward", -1.0, 1.0, what="the output array")
    return _dout(dout, t.shape, "tanh_backward") * (1.0 - t * t)


def leaky_relu_forward(x, alpha: float = 0.01):
    """Leaky ReLU: x if x > 0 else alpha * x; cache: ``(x, alpha)``."""
    x = as_float_array(x, "x", "leaky_relu_forward", allow_empty=True)
    alpha = positive_number(alpha, "alpha", "leaky_relu_forward", allow_zero=True)
    return np.where(x > 0, x, alpha * x), (x, alpha)


def leaky_relu_backward(dout, cache):
    """dx = dout where x > 0, alpha * dout elsewhere."""
    x, alpha = _tuple_cache(cache, 2, "leaky_relu_backward", "leaky_relu_forward", "(x, alpha)",
                            ("array", "number"))
    return np.where(x > 0, 1.0, alpha) * _dout(dout, x.shape, "leaky_relu_backward")


def elu_forward(x, alpha: float = 1.0):
    """ELU (exponential linear unit): x if x > 0, else alpha (e^x - 1).

    Our reading of the "exponential activation" that a source article lists without a
    formula. Cache: ``(x, alpha, out)``.
    """
    x = as_float_array(x, "x", "elu_forward", allow_empty=True)
    alpha = positive_number(alpha, "alpha", "elu_forward", allow_zero=True)
    out = np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))
    return out, (x, alpha, out)


def elu_backward(dout, cache):
    """dx = dout where x > 0, else dout * (f(x) + alpha)  (= dout * alpha e^x)."""
    x, alpha, out = _tuple_cache(cache, 3, "elu_backward", "elu_forward", "(x, alpha, out)",
                                 ("array", "number", "array"))
    return np.where(x > 0, 1.0, out + alpha) * _dout(dout, x.shape, "elu_backward")


#: name -> (forward, backward); the MLP's ``activation`` argument picks one.
ACTIVATIONS = {
    "linear": (linear_forward, linear_backward),
    "sigmoid": (sigmoid_forward, sigmoid_backward),
    "tanh": (tanh_forward, tanh_backward),
    "relu": (relu_forward, relu_backward),
    "leaky_relu": (leaky_relu_forward, leaky_relu_backward),
    "elu": (elu_forward, elu_backward),
}


# ------------------------------------------------------------------------- heads
def softmax_cross_entropy(logits, labels):
    """Mean softmax cross-entropy and its gradient with respect to the logits.

    L = -(1/n) sum_i log softmax(z_i)[y_i]   and   dL/dz = (softmax(z) - Y) / n,

    ``Y`` the one-hot (n, C) form of ``labels``; the log-softmax is
    ``nblib.losses.log_softmax`` (each row's max subtracted: stable for any finite logits).

    logits : (n, C) raw scores.
    labels : (n,) integer class ids in [0, C).

    Returns ``(loss, dlogits)``: a float and an (n, C) array.
    """
    z = as_float_array(logits, "logits", "softmax_cross_entropy", ndim=2)
    y = class_labels(labels, z.shape[0], z.shape[1], "softmax_cross_entropy")
    rows = np.arange(z.shape[0])
    log_p = losses.log_softmax(z, axis=1)
    dz = np.exp(log_p)
    dz[rows, y] -= 1.0
    return float(-log_p[rows, y].mean()), dz / z.shape[0]


def sigmoid_bce(logits, targets):
    """Mean binary cross-entropy of sigmoid(z) against 0/1 targets, and its gradient.

    L = (1/n) sum_i [max(z_i, 0) - y_i z_i + log(1 + e^-|z_i|)]  (the stable form of
    -[y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))], ``nblib.losses.binary_cross_entropy``)
    and dL/dz = (sigmoid(z) - y) / n.

    logits : (n,) or (n, 1) raw scores.
    targets : the same shape, values in [0, 1] (usually 0 or 1).

    Returns ``(loss, dlogits)``: a float and an array shaped like ``logits``.
    """
    z = as_float_array(logits, "logits", "sigmoid_bce", ndim=(1, 2))
    if z.ndim == 2 and z.shape[1] != 1:
        raise ValueError(f"sigmoid_bce: logits must have shape (n,) or (n, 1) (one score per sample), "
                         f"got {z.shape}; for C classes use softmax_cross_entropy")
    t = as_float_array(targets, "targets", "sigmoid_bce")
    same_shape(z, t, "logits", "targets", "sigmoid_bce")
    if np.any((t < 0) | (t > 1)):
        raise ValueError(f"sigmoid_bce: targets must lie in [0, 1], got values from {t.min():g} to {t.max():g}")
    return losses.binary_cross_entropy(z, t), losses.binary_cross_entropy_grad(z, t)


# ------------------------------------------------------------------------- initialisation
INITS = ("zeros", "constant", "normal", "uniform", "xavier", "he")


def init_weights(fan_in: int, fan_out: int, init: str, rng: np.random.Generator) -> np.ndarray:
    """A (fan_in, fan_out) weight matrix.

    * "zeros":    all 0 (with 2+ layers every weight gradient is then exactly 0: the network stays
      a constant, only the last bias learns);
    * "constant": every weight 1/sqrt(fan_in) (all units of a layer stay identical: the symmetry problem);
    * "normal":  normal, std 0.01 (small: the signal shrinks by 0.01 * sqrt(fan_in) per layer);
    * "uniform": uniform in (-1/sqrt(fan_in), 1/sqrt(fan_in)) (PyTorch nn.Linear's default range);
    * "xavier":  Glorot normal, std sqrt(2 / (fan_in + fan_out)) (for tanh/sigmoid);
    * "he":      He/Kaiming normal, std sqrt(2 / fan_in) (for ReLU).

    ``rng``: a ``numpy.random.Generator`` (e.g. ``np.random.default_rng(0)``).
    """
    fan_in = positive_number(fan_in, "fan_in", "init_weights", integer=True)
    fan_out = positive_number(fan_out, "fan_out", "init_weights", integer=True)
    if not isinstance(init, str) or init not in INITS:
        raise ValueError(f"init_weights: init must be one of {INITS}, got {init!r}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"init_weights: rng must be a numpy.random.Generator (np.random.default_rng(seed)), "
                        f"got {describe(rng)}")
    shape = (fan_in, fan_out)
    if init == "zeros":
        return np.zeros(shape)
    if init == "constant":
        return np.full(shape, 1.0 / np.sqrt(fan_in))
    if init == "uniform":
        return rng.uniform(-1.0 / np.sqrt(fan_in), 1.0 / np.sqrt(fan_in), size=shape)
    std = {"normal": 0.01, "xavier": np.sqrt(2.0 / (fan_in + fan_out)), "he": np.sqrt(2.0 / fan_in)}[init]
    return std * rng.standard_normal(shape)


def _sizes(sizes, where):
    ok = isinstance(sizes, (list, tuple)) and len(sizes) >= 2 and all(
        isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1 for s in sizes)
    if not ok:
        raise ValueError(f"{where}: sizes must be a list of at least two positive ints [d, h1, ..., C], "
                         f"got {sizes!r}")
    return [int(s) for s in sizes]


def _choice(value, name, where, options):
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{where}: {name} must be one of {tuple(options)}, got {value!r}")
    return value


def init_params(sizes, init: str = "he", seed=0) -> list:
    """Initial parameters of an L-layer network as a list of L pairs ``(W_l, b_l)``.

    ``sizes``: layer widths ``[d, h1, ..., C]``; ``W_l`` has shape (sizes[l-1], sizes[l]) drawn
    by ``init_weights(..., init, rng)``, ``b_l`` (sizes[l],) zeros. ``seed``: an int or a
    ``numpy.random.Generator``. ``MLP(sizes, init=init, seed=seed)`` starts from the same numbers.
    """
    from .data import make_rng  # local import keeps the module's dependencies visible here
    sizes = _sizes(sizes, "init_params")
    _choice(init, "init", "init_params", INITS)
    rng = make_rng(seed, "init_params")
    return [(init_weights(sizes[i], sizes[i + 1], init, rng), np.zeros(sizes[i + 1]))
            for i in range(len(sizes) - 1)]


# ------------------------------------------------------------------------- the L-layer network
def _layer_params(params, where, d=None):
    """Check the structure and shapes of ``params``, a list of L pairs (W_l (d_{l-1}, d_l), b_l (d_l,)); return it."""
    if not isinstance(params, (list, tuple)) or not params or not all(
            isinstance(p, (list, tuple)) and len(p) == 2 for p in params):
        raise TypeError(f"{where}: params must be a list of (W, b) pairs, one per layer, got {_what(params)}"
                        + (" (a dict: use the list [(W1, b1), (W2, b2), ...])" if isinstance(params, dict) else ""))
    for l, (W, b) in enumerate(params):     # shapes only (cheap); affine_forward converts the values
        try:
            sW, sb = tuple(np.shape(W)), tuple(np.shape(b))
        except (TypeError, ValueError):
            sW = sb = None
        if sW is None or len(sW) != 2 or (d is not None and sW[0] != d) or sb != (sW[1],):
            W = _array(W, f"params[{l}][0] (W{l + 1})", where, (d, None), meaning="(d_in, d_out)", finite=False)
            _array(b, f"params[{l}][1] (b{l + 1})", where, (W.shape[1],), finite=False)
            sW = W.shape
        d = sW[1]
    return params


def mlp_forward(X, params, activation: str = "relu"):
    """Forward pass of the L-layer network affine -> activation -> ... -> affine.

    X : (n, d) inputs.
    params : list of L pairs (W_l, b_l), W_l: (d_{l-1}, d_l), b_l: (d_l,), d_0 = d, d_L = C.
    activation : a name in ``ACTIVATIONS``, applied after every layer but the last.

    Returns ``(logits, caches)``: logits (n, C), and caches a list of L pairs
    ``(affine_cache, activation_cache)``; the last layer's activation_cache is None.
    """
    act_f, _ = ACTIVATIONS[_choice(activation, "activation", "mlp_forward", ACTIVATIONS)]
    params = _layer_params(params, "mlp_forward", np.shape(X)[1] if np.ndim(X) == 2 else None)   # X: affine_forward
    h, caches = X, []
    for l, (W, b) in enumerate(params):
        h, aff_cache = affine_forward(h, W, b)
        act_cache = None
        if l < len(params) - 1:
            h, act_cache = act_f(h)
        caches.append((aff_cache, act_cache))
    return h, caches


def mlp_backward(dlogits, caches, activation: str = "relu"):
    """Backward pass of ``mlp_forward``: from dlogits = dL/dlogits (n, C) and its caches.

    Returns grads, a list of L pairs ``(dW_l, db_l)`` in the order of the layers (first
    layer first), each shaped like its parameter.
    """
    _, act_b = ACTIVATIONS[_choice(activation, "activation", "mlp_backward", ACTIVATIONS)]
    if not isinstance(caches, list) or not caches or not all(isinstance(c, tuple) and len(c) == 2 for c in caches):
        pair = isinstance(caches, tuple) and len(caches) == 2 and isinstance(caches[1], list)
        raise TypeError(f"mlp_backward: caches must be the list of (affine_cache, activation_cache) pairs "
                        f"returned by mlp_forward, got {_what(caches)}"
                        + (" (the whole (logits, caches) pair: write `logits, caches = mlp_forward(...)`)" if pair else ""))
    grads, dh = [], dlogits
    for l in range(len(caches) - 1, -1, -1):
        aff_cache, act_cache = caches[l]
        if l < len(caches) - 1:
            dh = act_b(dh, act_cache)
        dh, dW, db = affine_backward(dh, aff_cache)
        grads.append((dW, db))
    return grads[::-1]


def mlp_loss_and_grads(X, y, params, activation: str = "relu"):
    """Mean softmax cross-entropy of the L-layer network and the gradient of every parameter.

    X : (n, d) float inputs.   y : (n,) integer class ids in [0, C).
    params : list of L pairs (W_l (d_{l-1}, d_l), b_l (d_l,)).
    activation : a name in ``ACTIVATIONS`` (after every layer but the last).

    Returns ``(loss, grads)``: loss a float, grads a list of L pairs (dW_l, db_l) in the
    same order and shapes as ``params``. (The reference of notebook 04's main exercise.)
    """
    logits, caches = mlp_forward(X, params, activation)
    loss, dlogits = softmax_cross_entropy(logits, y)
    return loss, mlp_backward(dlogits, caches, activation)


class MLP:
    """A fully connected network affine -> act -> ... -> affine with a loss head.

    sizes : layer widths ``[d, h1, ..., C]`` (at least two entries; ``[d, C]`` is a linear model).
    activation : a name in ``ACTIVATIONS`` (after every hidden affine layer, never after the last).
    init : a name in ``INITS`` (see ``init_weights``); biases start at 0.
    seed : int or ``numpy.random.Generator`` for the initial weights (as ``init_params``).
    head : "softmax" (softmax cross-entropy, labels (n,) int) or "bce" (sigmoid binary
        cross-entropy; needs C = 1, labels (n,) in {0, 1}).

    ``params``: dict ``{"W1": (d, h1), "b1": (h1,), ..., "WL": (h_{L-1}, C), "bL": (C,)}``.
    Optimizers update these arrays in place: ``opt.step(net.params, grads)``.
    ``forward``/``backward`` run ``mlp_forward``/``mlp_backward`` on ``layer_params()``.
    """

    def __init__(self, sizes, activation: str = "relu", init: str = "he", seed=0, head: str = "softmax"):
        self.sizes = _sizes(sizes, "MLP")
        self.activation = _choice(activation, "activation", "MLP", ACTIVATIONS)
        self.init = _choice(init, "init", "MLP", INITS)
        self.head = _choice(head, "head", "MLP", ("softmax", "bce"))
        if head == "bce" and self.sizes[-1] != 1:
            raise ValueError(f"MLP: head='bce' needs one output unit (sizes[-1] == 1), got sizes={self.sizes}")
        from .data import make_rng
        rng = make_rng(seed, "MLP")
        self.num_layers = len(self.sizes) - 1
        self.params = {}
        for i, (W, b) in enumerate(init_params(self.sizes, init, rng), start=1):
            self.params[f"W{i}"], self.params[f"b{i}"] = W, b
        self._caches = None

    def __repr__(self):
        return (f"MLP(sizes={self.sizes}, activation={self.activation!r}, init={self.init!r}, "
                f"head={self.head!r})")

    def layer_params(self) -> list:
        """``params`` as the list ``[(W1, b1), ..., (WL, bL)]`` (the same arrays, not copies)."""
        return [(self.params[f"W{i}"], self.params[f"b{i}"]) for i in range(1, self.num_layers + 1)]

    def forward(self, X) -> np.ndarray:
        """Logits (n, C) for inputs X of shape (n, d); keeps the caches for ``backward``."""
        X = as_float_array(X, "X", "MLP.forward", ndim=2)
        if X.shape[1] != self.sizes[0]:
            raise ValueError(f"MLP.forward: X has shape {X.shape} but the network expects "
                             f"{self.sizes[0]} features per sample, shape (n, {self.sizes[0]})")
        logits, self._caches = mlp_forward(X, self.layer_params(), self.activation)
        return logits

    def backward(self, dlogits) -> dict:
        """Gradients of every parameter from dlogits = dL/dlogits (n, C), after ``forward``.

        Returns ``{"W1": dW1, "b1": db1, ...}`` with the shapes of ``params``.
        """
        if self._caches is None:
            raise RuntimeError("MLP.backward: call forward(X) first; backward needs its caches")
        grads = mlp_backward(dlogits, self._caches, self.activation)
        return {k: g for i, (dW, db) in enumerate(grads, start=1) for k, g in ((f"W{i}", dW), (f"b{i}", db))}

    def loss_and_grads(self, X, y, weight_decay: float = 0.0):
        """Mean loss over the batch and the gradient of every parameter.

        X : (n, d); y : (n,) integer class ids (head="softmax") or 0/1 labels (head="bce").
        ``weight_decay`` lambda adds (lambda/2) * sum_l ||W_l||^2 to the loss (weights only,
        not biases) and lambda * W_l to each dW_l.

        Returns ``(loss, grads)``, grads with the same keys and shapes as ``params``.
        """
        weight_decay = positive_number(weight_decay, "weight_decay", "MLP.loss_and_grads", allow_zero=True)
        logits = self.forward(X)
        if self.head == "softmax":
            loss, dlogits = softmax_cross_entropy(logits, y)
        else:
            t = as_float_array(y, "y", "MLP.loss_and_grads")
            if t.shape != (logits.shape[0],):
                raise ValueError(f"MLP.loss_and_grads: y has shape {t.shape} but X has {logits.shape[0]} "
                                 f"samples; pass y as shape ({logits.shape[0]},) of 0/1 labels")
            loss, dlogits = sigmoid_bce(logits, t[:, None])
        grads = self.backward(dlogits)
        if weight_decay:
            for i in range(1, self.num_layers + 1):
                W = self.params[f"W{i}"]
                loss += 0.5 * weight_decay * float(np.sum(W * W))
                grads[f"W{i}"] = grads[f"W{i}"] + weight_decay * W
        return loss, grads

    def predict(self, X) -> np.ndarray:
        """Predicted class ids (n,) (argmax of the logits, or logit > 0 for head="bce")."""
        logits = self.forward(X)
        if self.head == "bce":
            return (logits[:, 0] > 0).astype(np.int64)
        return logits.argmax(axis=1)
