"""Layers with a forward/backward-with-cache pattern, and a small MLP (notebook 04).

Every layer is a pair of plain functions, in the style of CS231n::

    out, cache = affine_forward(x, W, b)     # remember what the backward pass needs
    dx, dW, db = affine_backward(dout, cache)

``dout`` is the gradient of the loss with respect to the layer's output (same shape as
``out``); the backward function returns the gradient with respect to each input (same
shape as that input). Everything is float64. Shapes: ``n`` samples, ``d`` input
features, ``h`` units, ``C`` classes.

Activations (elementwise, any shape; each ``*_backward(dout, cache) -> dx``):

==============  =============================  ==========================================
name            f(x)                           f'(x)
==============  =============================  ==========================================
linear          x                              1
sigmoid         1 / (1 + e^-x)                 f(x) (1 - f(x))       (cache: the output)
tanh            tanh x                         1 - f(x)^2            (cache: the output)
relu            max(0, x)                      1 if x > 0 else 0     (cache: the input)
leaky_relu      x if x > 0 else alpha x        1 if x > 0 else alpha
elu             x if x > 0 else alpha(e^x - 1) 1 if x > 0 else f(x) + alpha
==============  =============================  ==========================================

At the kink x = 0, relu, leaky_relu and elu use the left derivative (0, alpha, 1),
as PyTorch does for relu.

Heads (loss + gradient with respect to the logits, **mean over the batch**):
``softmax_cross_entropy(logits (n, C), labels (n,))`` and
``sigmoid_bce(logits (n,) or (n, 1), targets same shape)``.

:class:`MLP` chains ``affine -> activation -> ... -> affine`` and back-propagates
through the same functions, so its gradients are exactly what the notebook derives.
"""

from __future__ import annotations

import numpy as np

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
    "init_weights", "MLP",
]


# ------------------------------------------------------------------------- helpers
def _dout(dout, out_shape, where):
    g = as_float_array(dout, "dout", where, allow_empty=True, finite=False)
    if g.shape != tuple(out_shape):
        raise ValueError(f"{where}: dout has shape {g.shape} but the layer's output had shape "
                         f"{tuple(out_shape)}; dout must be dL/d(output), shaped like the output")
    return g


def _cache(cache, n, where, forward):
    if not isinstance(cache, tuple) or len(cache) != n:
        raise TypeError(f"{where}: cache must be the tuple returned by {forward}, got {describe(cache)}")
    return cache


# ------------------------------------------------------------------------- affine
def affine_forward(x, W, b):
    r"""Fully connected layer :math:`\text{out} = xW + b`.

    Parameters
    ----------
    x : ``(n, d)`` inputs, one sample per row.
    W : ``(d, h)`` weights.
    b : ``(h,)`` biases (broadcast over the n rows).

    Returns ``out`` of shape ``(n, h)`` and ``cache = (x, W, b)``.
    """
    where = "affine_forward"
    x = as_float_array(x, "x", where, ndim=2)
    W = as_float_array(W, "W", where, ndim=2)
    b = as_float_array(b, "b", where, ndim=1)
    if W.shape[0] != x.shape[1]:
        raise ValueError(f"{where}: x has shape {x.shape} (d = {x.shape[1]} features) but W has shape "
                         f"{W.shape}; W must have shape (d, h) = ({x.shape[1]}, h)")
    if b.shape[0] != W.shape[1]:
        raise ValueError(f"{where}: W has shape {W.shape} (h = {W.shape[1]} units) but b has shape "
                         f"{b.shape}; b must have shape ({W.shape[1]},)")
    return x @ W + b, (x, W, b)


def affine_backward(dout, cache):
    r"""Backward pass of :func:`affine_forward`.

    With ``dout`` :math:`= \partial L/\partial\,\text{out}` of shape ``(n, h)``:

    * :math:`dx = \text{dout}\, W^\top` -- ``(n, h) @ (h, d) -> (n, d)``
    * :math:`dW = x^\top \text{dout}` -- ``(d, n) @ (n, h) -> (d, h)``
    * :math:`db = \sum_i \text{dout}_i` -- sum over the batch, ``(h,)``

    Returns ``(dx, dW, db)`` shaped like ``(x, W, b)``.
    """
    x, W, b = _cache(cache, 3, "affine_backward", "affine_forward")
    dout = _dout(dout, (x.shape[0], W.shape[1]), "affine_backward")
    return dout @ W.T, x.T @ dout, dout.sum(axis=0)


# ------------------------------------------------------------------------- activations
def linear_forward(x):
    """Identity activation: returns ``(x, cache)``, a copy of ``x`` and ``cache = x.shape``."""
    x = as_float_array(x, "x", "linear_forward", allow_empty=True)
    return x.copy(), x.shape


def linear_backward(dout, cache):
    """Backward of the identity: ``dx = dout`` (``cache``: the input's shape, from :func:`linear_forward`)."""
    if not (isinstance(cache, tuple) and all(isinstance(d, (int, np.integer)) for d in cache)):
        raise TypeError(f"linear_backward: cache must be the cache returned by linear_forward (the input's shape, "
                        f"a tuple of ints), got {describe(cache)}")
    return _dout(dout, cache, "linear_backward").copy()


def relu_forward(x):
    """ReLU (rectified linear unit) ``max(0, x)`` elementwise; cache: the input ``x``."""
    x = as_float_array(x, "x", "relu_forward", allow_empty=True)
    return np.maximum(x, 0.0), x


def relu_backward(dout, cache):
    """``dx = dout * (x > 0)``: the gradient passes where the input was positive (0 at x = 0)."""
    x = cache
    dout = _dout(dout, np.shape(x), "relu_backward")
    return dout * (x > 0)


def sigmoid_forward(x):
    r"""Logistic sigmoid :math:`\sigma(x) = 1/(1+e^{-x})`, overflow-free; cache: the output."""
    x = as_float_array(x, "x", "sigmoid_forward", allow_empty=True)
    e = np.exp(-np.abs(x))
    out = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return out, out


def sigmoid_backward(dout, cache):
    r""":math:`dx = \text{dout}\cdot\sigma(x)(1-\sigma(x))`, from the cached output."""
    s = cache
    dout = _dout(dout, np.shape(s), "sigmoid_backward")
    return dout * s * (1.0 - s)


def tanh_forward(x):
    """Hyperbolic tangent elementwise; cache: the output."""
    x = as_float_array(x, "x", "tanh_forward", allow_empty=True)
    out = np.tanh(x)
    return out, out


def tanh_backward(dout, cache):
    r""":math:`dx = \text{dout}\cdot(1 - \tanh^2 x)`, from the cached output."""
    t = cache
    dout = _dout(dout, np.shape(t), "tanh_backward")
    return dout * (1.0 - t * t)


def leaky_relu_forward(x, alpha: float = 0.01):
    """Leaky ReLU: ``x`` if ``x > 0`` else ``alpha * x``; cache: ``(x, alpha)``."""
    x = as_float_array(x, "x", "leaky_relu_forward", allow_empty=True)
    alpha = positive_number(alpha, "alpha", "leaky_relu_forward", allow_zero=True)
    return np.where(x > 0, x, alpha * x), (x, alpha)


def leaky_relu_backward(dout, cache):
    """``dx = dout`` where ``x > 0``, ``alpha * dout`` elsewhere."""
    x, alpha = _cache(cache, 2, "leaky_relu_backward", "leaky_relu_forward")
    dout = _dout(dout, x.shape, "leaky_relu_backward")
    return np.where(x > 0, dout, alpha * dout)


def elu_forward(x, alpha: float = 1.0):
    r"""ELU (exponential linear unit): :math:`x` if :math:`x>0`, else :math:`\alpha(e^x-1)`.

    The "exponential activation" of the seed article. Cache: ``(x, alpha, out)``.
    """
    x = as_float_array(x, "x", "elu_forward", allow_empty=True)
    alpha = positive_number(alpha, "alpha", "elu_forward", allow_zero=True)
    out = np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))
    return out, (x, alpha, out)


def elu_backward(dout, cache):
    r""":math:`dx = \text{dout}` where :math:`x>0`, else :math:`\text{dout}\cdot(f(x)+\alpha)`
    (:math:`= \alpha e^x`)."""
    x, alpha, out = _cache(cache, 3, "elu_backward", "elu_forward")
    dout = _dout(dout, x.shape, "elu_backward")
    return np.where(x > 0, dout, dout * (out + alpha))


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
    r"""Mean softmax cross-entropy and its gradient with respect to the logits.

    :math:`L = -\frac1n \sum_i \log \operatorname{softmax}(z_i)_{y_i}` and
    :math:`\partial L/\partial z = (\operatorname{softmax}(z) - Y)/n`, where ``Y`` is the
    one-hot ``(n, C)`` form of ``labels``. Stable for any finite logits (max subtracted).

    Parameters
    ----------
    logits : ``(n, C)`` raw scores.
    labels : ``(n,)`` integer class ids in ``[0, C)``.

    Returns ``(loss, dlogits)``: a float and an ``(n, C)`` array.
    """
    where = "softmax_cross_entropy"
    z = as_float_array(logits, "logits", where, ndim=2)
    n, c = z.shape
    y = class_labels(labels, n, c, where)
    shifted = z - z.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(n), y].mean()
    dz = np.exp(log_probs)
    dz[np.arange(n), y] -= 1.0
    return float(loss), dz / n


def sigmoid_bce(logits, targets):
    r"""Mean binary cross-entropy of :math:`\sigma(z)` against 0/1 targets, and its gradient.

    :math:`L = \frac1n\sum_i \big[\max(z_i,0) - y_i z_i + \log(1+e^{-|z_i|})\big]`
    (the stable form of :math:`-[y\log\sigma(z) + (1-y)\log(1-\sigma(z))]`), and
    :math:`\partial L/\partial z = (\sigma(z) - y)/n`.

    Parameters
    ----------
    logits : ``(n,)`` or ``(n, 1)`` raw scores.
    targets : the same shape, values in ``[0, 1]`` (usually 0 or 1).

    Returns ``(loss, dlogits)``: a float and an array shaped like ``logits``.
    """
    where = "sigmoid_bce"
    z = as_float_array(logits, "logits", where, ndim=(1, 2))
    if z.ndim == 2 and z.shape[1] != 1:
        raise ValueError(f"{where}: logits must have shape (n,) or (n, 1) (one score per sample), "
                         f"got {z.shape}; for C classes use softmax_cross_entropy")
    t = as_float_array(targets, "targets", where)
    same_shape(z, t, "logits", "targets", where)
    if np.any((t < 0) | (t > 1)):
        raise ValueError(f"{where}: targets must lie in [0, 1], got values from {t.min():g} to {t.max():g}")
    loss = np.maximum(z, 0.0) - t * z + np.log1p(np.exp(-np.abs(z)))
    s, _ = sigmoid_forward(z)
    return float(loss.mean()), (s - t) / z.shape[0]


# ------------------------------------------------------------------------- the MLP
INITS = ("zeros", "normal", "uniform", "xavier", "he")


def init_weights(fan_in: int, fan_out: int, init: str, rng: np.random.Generator) -> np.ndarray:
    r"""A ``(fan_in, fan_out)`` weight matrix.

    * ``"zeros"``: all 0 (every hidden unit stays identical: the symmetry problem);
    * ``"normal"``: :math:`\mathcal N(0, 0.01^2)` (small: signals shrink layer by layer);
    * ``"uniform"``: :math:`U(-1/\sqrt{d_{in}}, 1/\sqrt{d_{in}})` (PyTorch ``nn.Linear``'s default range);
    * ``"xavier"``: Glorot normal, std :math:`\sqrt{2/(d_{in}+d_{out})}` (for tanh/sigmoid);
    * ``"he"``: He/Kaiming normal, std :math:`\sqrt{2/d_{in}}` (for ReLU).

    ``rng``: a ``numpy.random.Generator`` (e.g. ``np.random.default_rng(0)``).
    """
    fan_in = positive_number(fan_in, "fan_in", "init_weights", integer=True)
    fan_out = positive_number(fan_out, "fan_out", "init_weights", integer=True)
    if not isinstance(init, str) or init not in INITS:
        raise ValueError(f"init_weights: init must be one of {INITS}, got {init!r}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"init_weights: rng must be a numpy.random.Generator (np.random.default_rng(seed)), "
                        f"got {describe(rng)}")
    if init == "zeros":
        return np.zeros((fan_in, fan_out))
    if init == "normal":
        return 0.01 * rng.standard_normal((fan_in, fan_out))
    if init == "uniform":
        bound = 1.0 / np.sqrt(fan_in)
        return rng.uniform(-bound, bound, size=(fan_in, fan_out))
    if init == "xavier":
        return np.sqrt(2.0 / (fan_in + fan_out)) * rng.standard_normal((fan_in, fan_out))
    if init == "he":
        return np.sqrt(2.0 / fan_in) * rng.standard_normal((fan_in, fan_out))
    raise ValueError(f"init_weights: init must be one of {INITS}, got {init!r}")


class MLP:
    """A fully connected network ``affine -> act -> ... -> affine`` with a loss head.

    Parameters
    ----------
    sizes : layer widths ``[d, h1, ..., C]`` (at least two entries; ``[d, C]`` is a linear model).
    activation : one of ``"relu"``, ``"sigmoid"``, ``"tanh"``, ``"leaky_relu"``, ``"elu"``, ``"linear"``
        (applied after every hidden affine layer, never after the last).
    init : one of ``"zeros"``, ``"normal"``, ``"uniform"``, ``"xavier"``, ``"he"`` (see
        :func:`init_weights`); biases start at 0.
    seed : int or ``numpy.random.Generator`` for the initial weights.
    head : ``"softmax"`` (softmax cross-entropy, labels ``(n,)`` int) or ``"bce"``
        (sigmoid binary cross-entropy; needs ``C = 1``, labels ``(n,)`` in {0, 1}).

    Attributes
    ----------
    params : dict ``{"W1": (d, h1), "b1": (h1,), ..., "WL": (h_{L-1}, C), "bL": (C,)}``.
        Optimizers update these arrays in place: ``opt.step(net.params, grads)``.
    """

    def __init__(self, sizes, activation: str = "relu", init: str = "he", seed=0, head: str = "softmax"):
        where = "MLP"
        sizes = list(sizes) if isinstance(sizes, (list, tuple)) else sizes
        if not isinstance(sizes, list) or len(sizes) < 2 or not all(
                isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1 for s in sizes):
            raise ValueError(f"{where}: sizes must be a list of at least two positive ints "
                             f"[d, h1, ..., C], got {sizes!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"{where}: activation must be one of {tuple(ACTIVATIONS)}, got {activation!r}")
        if init not in INITS:
            raise ValueError(f"{where}: init must be one of {INITS}, got {init!r}")
        if head not in ("softmax", "bce"):
            raise ValueError(f"{where}: head must be 'softmax' or 'bce', got {head!r}")
        if head == "bce" and sizes[-1] != 1:
            raise ValueError(f"{where}: head='bce' needs one output unit (sizes[-1] == 1), got sizes={sizes}")
        from .data import make_rng  # local import keeps the module's dependencies visible here
        rng = make_rng(seed)
        self.sizes = [int(s) for s in sizes]
        self.activation, self.init, self.head = activation, init, head
        self.num_layers = len(sizes) - 1
        self.params = {}
        for i in range(1, self.num_layers + 1):
            self.params[f"W{i}"] = init_weights(self.sizes[i - 1], self.sizes[i], init, rng)
            self.params[f"b{i}"] = np.zeros(self.sizes[i])
        self._caches = None

    def __repr__(self):
        return (f"MLP(sizes={self.sizes}, activation={self.activation!r}, init={self.init!r}, "
                f"head={self.head!r})")

    def forward(self, X) -> np.ndarray:
        """Logits ``(n, C)`` for inputs ``X`` of shape ``(n, d)``; keeps the caches for :meth:`backward`."""
        X = as_float_array(X, "X", "MLP.forward", ndim=2)
        if X.shape[1] != self.sizes[0]:
            raise ValueError(f"MLP.forward: X has shape {X.shape} but the network expects "
                             f"{self.sizes[0]} features per sample, shape (n, {self.sizes[0]})")
        act_f, _ = ACTIVATIONS[self.activation]
        caches, h = [], X
        for i in range(1, self.num_layers + 1):
            h, aff_cache = affine_forward(h, self.params[f"W{i}"], self.params[f"b{i}"])
            act_cache = None
            if i < self.num_layers:
                h, act_cache = act_f(h)
            caches.append((aff_cache, act_cache))
        self._caches = caches
        return h

    def backward(self, dlogits) -> dict:
        """Gradients of every parameter from ``dlogits`` = dL/dlogits ``(n, C)`` (after :meth:`forward`).

        Returns ``{"W1": dW1, "b1": db1, ...}`` with the shapes of :attr:`params`.
        """
        if self._caches is None:
            raise RuntimeError("MLP.backward: call forward(X) first; backward needs its caches")
        _, act_b = ACTIVATIONS[self.activation]
        grads, dh = {}, dlogits
        for i in range(self.num_layers, 0, -1):
            aff_cache, act_cache = self._caches[i - 1]
            if i < self.num_layers:
                dh = act_b(dh, act_cache)
            dh, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(dh, aff_cache)
        return {k: grads[k] for k in self.params}

    def loss_and_grads(self, X, y, weight_decay: float = 0.0):
        r"""Mean loss over the batch and the gradient of every parameter.

        ``X``: ``(n, d)``; ``y``: ``(n,)`` integer class ids (``head="softmax"``) or 0/1
        labels (``head="bce"``). ``weight_decay`` :math:`\lambda` adds
        :math:`\frac{\lambda}{2}\sum_l \lVert W_l\rVert^2` to the loss (weights only, not
        biases) and :math:`\lambda W_l` to each ``dW_l``.

        Returns ``(loss, grads)``, grads with the same keys and shapes as :attr:`params`.
        """
        weight_decay = positive_number(weight_decay, "weight_decay", "MLP.loss_and_grads", allow_zero=True)
        logits = self.forward(X)
        if self.head == "softmax":
            loss, dlogits = softmax_cross_entropy(logits, y)
        else:
            t = np.asarray(y)
            if t.ndim != 1 or t.shape[0] != logits.shape[0]:
                raise ValueError(f"MLP.loss_and_grads: y has shape {t.shape} but X has {logits.shape[0]} "
                                 f"samples; pass y as shape ({logits.shape[0]},) of 0/1 labels")
            loss, dz = sigmoid_bce(logits[:, 0], t)
            dlogits = dz[:, None]
        grads = self.backward(dlogits)
        if weight_decay:
            for i in range(1, self.num_layers + 1):
                W = self.params[f"W{i}"]
                loss += 0.5 * weight_decay * float(np.sum(W * W))
                grads[f"W{i}"] = grads[f"W{i}"] + weight_decay * W
        return loss, grads

    def predict(self, X) -> np.ndarray:
        """Predicted class ids ``(n,)`` (argmax of the logits, or logit > 0 for ``head="bce"``)."""
        logits = self.forward(X)
        if self.head == "bce":
            return (logits[:, 0] > 0).astype(np.int64)
        return logits.argmax(axis=1)
