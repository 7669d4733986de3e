"""Batch normalisation, gradient clipping and a deep MLP that uses them (notebook 07).

Batch normalisation（批量规范化）as forward/backward pairs in the style of ``nblib.layers``::

    out, cache = batchnorm_forward(x, gamma, beta, bn_param)   # bn_param holds mode and running stats
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)         # step by step through the graph
    dx, dgamma, dbeta = batchnorm_backward_compact(dout, cache) # the same numbers, one formula

Conventions (those of ``torch.nn.BatchNorm1d``, so the two agree to rounding in float64):

* training mode normalises with the batch mean and the **biased** variance
  σ²_B = (1/n) Σᵢ (xᵢ − μ_B)²; eps goes inside the square root;
* the running statistics are updated as ``running = (1 - momentum) * running + momentum * batch``
  with ``momentum = 0.1``, and the running variance uses the **unbiased** batch variance
  (divided by ``n - 1``); they start at mean 0 and variance 1;
* evaluation mode normalises with the running statistics and changes nothing.

Also here: ``clip_grad_norm()`` (gradient clipping by the global norm, as
``torch.nn.utils.clip_grad_norm_``), ``DeepMLP`` (affine → [batch norm] → activation,
repeated) and ``train_sgd()`` (full-batch gradient descent with optional clipping, which
reports divergence instead of returning NaN).
"""

from __future__ import annotations

import numbers

import numpy as np

from ._validate import as_float_array, class_labels, describe, positive_number
from .layers import ACTIVATIONS, _sizes, softmax_cross_entropy

__all__ = ["batchnorm_forward", "batchnorm_backward", "batchnorm_backward_compact", "new_bn_param",
           "clip_grad_norm", "DeepMLP", "train_sgd"]

_MODES = ("train", "eval")


# ----------------------------------------------------------------------------- batch norm
def new_bn_param(d: int, mode: str = "train", momentum: float = 0.1, eps: float = 1e-5) -> dict:
    """A fresh ``bn_param`` dict for a layer of ``d`` features: mode, momentum, eps and the
    running statistics (mean zeros ``(d,)``, variance ones ``(d,)``, as PyTorch starts them)."""
    d = positive_number(d, "d", "new_bn_param", integer=True)
    param = {"mode": mode, "momentum": momentum, "eps": eps,
             "running_mean": np.zeros(d), "running_var": np.ones(d)}
    _bn_param(param, d, "new_bn_param")
    return param


def _bn_param(bn_param, d, where):
    if not isinstance(bn_param, dict):
        raise TypeError(f"{where}: bn_param must be a dict with 'mode' ('train' or 'eval') and the running "
                        f"statistics (see new_bn_param), got {describe(bn_param)}")
    mode = bn_param.get("mode", "train")
    if mode not in _MODES:
        raise ValueError(f"{where}: bn_param['mode'] must be 'train' or 'eval', got {mode!r}")
    momentum = bn_param.get("momentum", 0.1)
    if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) or not 0 <= momentum <= 1:
        raise ValueError(f"{where}: bn_param['momentum'] must be a number in [0, 1] (the weight of the new "
                         f"batch, 0.1 in PyTorch), got {momentum!r}")
    eps = positive_number(bn_param.get("eps", 1e-5), "bn_param['eps']", where)
    for key, start in (("running_mean", np.zeros), ("running_var", np.ones)):
        if key not in bn_param:
            bn_param[key] = start(d)
        value = bn_param[key]
        if not isinstance(value, np.ndarray) or value.shape != (d,):
            raise ValueError(f"{where}: bn_param[{key!r}] must be an array of shape ({d},) (one entry per "
                             f"feature of x), got {describe(value)}")
    return mode, float(momentum), eps


def batchnorm_forward(x, gamma, beta, bn_param):
    r"""Batch normalisation of ``x`` over the batch (axis 0), then scale and shift.

    Training mode (``bn_param["mode"] == "train"``)::

        mu  = mean(x, axis=0)                       (d,)
        var = mean((x - mu)**2, axis=0)             (d,)   biased: divided by n
        std = sqrt(var + eps)                       (d,)
        xhat = (x - mu) / std                       (n, d)
        out = gamma * xhat + beta                   (n, d)

    and the running statistics in ``bn_param`` are updated **in place**:
    ``running_mean = (1-m) running_mean + m mu``, ``running_var = (1-m) running_var + m var·n/(n-1)``
    (the unbiased variance, as ``torch.nn.BatchNorm1d``; ``m = bn_param["momentum"]``, default 0.1).
    Evaluation mode (``"eval"``) uses ``running_mean`` and ``running_var`` instead of ``mu``
    and ``var`` and leaves ``bn_param`` unchanged.

    Parameters
    ----------
    x : ``(n, d)`` inputs (``n >= 2`` in training mode).
    gamma, beta : ``(d,)`` scale and shift.
    bn_param : dict with ``mode``, optional ``momentum`` (0.1), ``eps`` (1e-5),
        ``running_mean`` (d,) and ``running_var`` (d,) (created as 0 and 1 when missing).

    Returns ``out`` ``(n, d)`` and ``cache``: a dict with ``x``, ``mu``, ``var``, ``std``,
    ``xhat``, ``gamma``, ``eps`` and ``mode`` (in evaluation mode ``mu`` and ``var`` are the
    running statistics used).
    """
    where = "batchnorm_forward"
    x = as_float_array(x, "x", where, ndim=2)
    n, d = x.shape
    gamma = as_float_array(gamma, "gamma", where, ndim=1)
    beta = as_float_array(beta, "beta", where, ndim=1)
    for name, v in (("gamma", gamma), ("beta", beta)):
        if v.shape != (d,):
            raise ValueError(f"{where}: x has shape {x.shape} (d = {d} features) but {name} has shape "
                             f"{v.shape}; {name} must have shape ({d},)")
    mode, momentum, eps = _bn_param(bn_param, d, where)
    if mode == "train":
        if n < 2:
            raise ValueError(f"{where}: training mode needs a batch of at least 2 samples (the variance of "
                             f"one sample is 0), got x of shape {x.shape}; use mode 'eval' for single samples")
        mu = x.mean(axis=0)
        var = ((x - mu) ** 2).mean(axis=0)
        bn_param["running_mean"] = (1 - momentum) * bn_param["running_mean"] + momentum * mu
        bn_param["running_var"] = (1 - momentum) * bn_param["running_var"] + momentum * var * n / (n - 1)
    else:
        mu, var = bn_param["running_mean"].copy(), bn_param["running_var"].copy()
    std = np.sqrt(var + eps)
    xhat = (x - mu) / std
    out = gamma * xhat + beta
    return out, dict(x=x, mu=mu, var=var, std=std, xhat=xhat, gamma=gamma, eps=eps, mode=mode)


def _bn_cache(cache, where, keys):
    if not isinstance(cache, dict) or not all(k in cache for k in keys):
        raise TypeError(f"{where}: cache must be the dict returned by batchnorm_forward (keys "
                        f"{', '.join(keys)}), got {describe(cache)}")
    return cache


def batchnorm_backward(dout, cache):
    r"""Backward pass of ``batchnorm_forward()``, one node of the graph at a time.

    Training mode walks back through ``out = gamma*xhat + beta``, ``xhat = xc * istd``,
    ``istd = 1/std``, ``std = sqrt(var + eps)``, ``var = mean(xc**2)``, ``xc = x - mu``,
    ``mu = mean(x)``; every sum of the forward pass (over the batch) becomes a broadcast
    in the backward pass and every broadcast a sum. Evaluation mode: the statistics are
    constants, so ``dx = dout * gamma / std``.

    ``dout``: ``(n, d)``. Returns ``(dx (n, d), dgamma (d,), dbeta (d,))``.
    """
    where = "batchnorm_backward"
    c = _bn_cache(cache, where, ("x", "mu", "var", "xhat", "gamma", "eps", "mode"))
    x, mu, var, gamma, eps = c["x"], c["mu"], c["var"], c["gamma"], c["eps"]
    dout = as_float_array(dout, "dout", where, ndim=2, finite=False)
    if dout.shape != x.shape:
        raise ValueError(f"{where}: dout has shape {dout.shape} but the layer's output had shape {x.shape}")
    n = x.shape[0]
    xc = x - mu                                  # (n, d)
    std = np.sqrt(var + eps)                     # (d,)
    istd = 1.0 / std                             # (d,)
    xhat = xc * istd                             # (n, d)
    dbeta = dout.sum(axis=0)                     # beta was broadcast over n rows: sum back
    dgamma = (dout * xhat).sum(axis=0)           # the same for gamma
    dxhat = dout * gamma                         # (n, d)
    if c["mode"] == "eval":
        return dxhat * istd, dgamma, dbeta
    dxc = dxhat * istd                           # path 1 into xc (through xhat)
    distd = (dxhat * xc).sum(axis=0)             # istd was broadcast: sum, (d,)
    dstd = -distd / std ** 2                     # d(1/s) = -1/s^2
    dvar = dstd * 0.5 / std                      # d sqrt(v + eps) = 1/(2 sqrt(v + eps))
    dxc = dxc + 2.0 * xc * dvar / n              # path 2 into xc (through var = mean(xc^2)): broadcast
    dmu = -dxc.sum(axis=0)                       # mu was broadcast in xc = x - mu: sum
    dx = dxc + dmu / n                           # mu = mean(x): the mean's gradient is broadcast / n
    return dx, dgamma, dbeta


def batchnorm_backward_compact(dout, cache):
    r"""The backward pass of ``batchnorm_forward()`` in one formula (training mode):

    .. math:: dx = \frac{1}{n\,\text{std}}\Big(n\,d\hat x - \textstyle\sum_i d\hat x_i
              - \hat x \sum_i d\hat x_i \odot \hat x_i\Big),\qquad d\hat x = \text{dout}\odot\gamma,

    which needs only ``xhat``, ``std``, ``gamma`` and ``mode`` from the cache. Evaluation
    mode: ``dx = dout * gamma / std``. Returns ``(dx, dgamma, dbeta)`` like
    ``batchnorm_backward()`` (equal to it up to rounding).
    """
    where = "batchnorm_backward_compact"
    c = _bn_cache(cache, where, ("xhat", "std", "gamma", "mode"))
    xhat, std, gamma = c["xhat"], c["std"], c["gamma"]
    dout = as_float_array(dout, "dout", where, ndim=2, finite=False)
    if dout.shape != np.shape(xhat):
        raise ValueError(f"{where}: dout has shape {dout.shape} but the layer's output had shape "
                         f"{np.shape(xhat)}")
    n = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    if c["mode"] == "eval":
        return dxhat / std, dgamma, dbeta
    dx = (n * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0)) / (n * std)
    return dx, dgamma, dbeta


# ----------------------------------------------------------------------------- clipping
def clip_grad_norm(grads: dict, max_norm: float, eps: float = 1e-6):
    r"""Gradient clipping（梯度裁剪）by the global norm, as ``torch.nn.utils.clip_grad_norm_``.

    g = √(Σₖ ‖grads[k]‖²) over *all* arrays together; every
    array is multiplied by min(1, max_norm / (g + eps)), so the direction of
    the whole gradient is kept and only its length is capped.

    ``grads``: dict name -> array. Returns ``(clipped, g)``: a new dict (the input is not
    changed) and the norm before clipping (a float).
    """
    where = "clip_grad_norm"
    if not isinstance(grads, dict) or not grads:
        raise TypeError(f"{where}: grads must be a non-empty dict name -> array, got {describe(grads)}")
    max_norm = positive_number(max_norm, "max_norm", where)
    arrays = {k: as_float_array(v, f"grads[{k!r}]", where, allow_empty=True, finite=False)
              for k, v in grads.items()}
    total = float(np.sqrt(sum(float(np.sum(a * a)) for a in arrays.values())))
    coef = min(1.0, max_norm / (total + eps))
    return {k: a * coef for k, a in arrays.items()}, total


# ----------------------------------------------------------------------------- a deep MLP
class DeepMLP:
    r"""``affine → [batch norm] → activation`` repeated, then a last affine layer and softmax CE.

    Parameters
    ----------
    sizes : ``[d, h1, ..., C]``.
    activation : a name of ``nblib.layers.ACTIVATIONS`` (default ``"relu"``).
    batchnorm : put a batch norm after every hidden affine layer. The affine bias is then
        left out (the normalisation subtracts it again; ``beta`` plays its role).
    gain : the weights are He-initialised, N(0, 2/d_in), times ``gain``
        (``gain > 1`` makes a deep ReLU stack explode, ``gain < 1`` vanish).
    seed : int or ``numpy.random.Generator``.
    bn_forward, bn_backward : the batch-norm pair to use (default the functions of this
        module; notebook 07 passes the learner's own).

    Attributes: ``params`` (``W1``, [``b1``], [``gamma1``, ``beta1``], ...), ``bn_params``
    (one ``bn_param`` dict per hidden layer), and after ``forward()`` ``hidden``, the list
    of hidden activations ``(n, h_l)``.
    """

    def __init__(self, sizes, activation="relu", batchnorm=False, gain=1.0, seed=0,
                 bn_forward=None, bn_backward=None):
        where = "DeepMLP"
        sizes = _sizes(sizes, where)
        if activation not in ACTIVATIONS:
            raise ValueError(f"{where}: activation must be one of {tuple(ACTIVATIONS)}, got {activation!r}")
        if not isinstance(batchnorm, (bool, np.bool_)):
            raise TypeError(f"{where}: batchnorm must be True or False, got {describe(batchnorm)}")
        gain = positive_number(gain, "gain", where)
        from .data import make_rng
        rng = make_rng(seed, where)
        self.sizes, self.activation, self.batchnorm = sizes, activation, bool(batchnorm)
        self.L = len(sizes) - 1
        self.bn_forward = bn_forward or batchnorm_forward
        self.bn_backward = bn_backward or batchnorm_backward
        self.params, self.bn_params = {}, {}
        for i in range(1, self.L + 1):
            fan_in, fan_out = self.sizes[i - 1], self.sizes[i]
            self.params[f"W{i}"] = gain * np.sqrt(2.0 / fan_in) * rng.standard_normal((fan_in, fan_out))
            if self.batchnorm and i < self.L:
                self.params[f"gamma{i}"] = np.ones(fan_out)
                self.params[f"beta{i}"] = np.zeros(fan_out)
                self.bn_params[i] = new_bn_param(fan_out)
            else:
                self.params[f"b{i}"] = np.zeros(fan_out)
        self._caches, self.hidden = None, []

    def __repr__(self):
        return (f"DeepMLP(sizes={self.sizes}, activation={self.activation!r}, batchnorm={self.batchnorm})")

    def forward(self, X, training: bool = True) -> np.ndarray:
        """Logits ``(n, C)`` of ``X`` ``(n, d)``; batch norm in training or evaluation mode."""
        X = as_float_array(X, "X", "DeepMLP.forward", ndim=2)
        if X.shape[1] != self.sizes[0]:
            raise ValueError(f"DeepMLP.forward: X has shape {X.shape} but the network expects "
                             f"{self.sizes[0]} features, shape (n, {self.sizes[0]})")
        act_f, _ = ACTIVATIONS[self.activation]
        h, caches, self.hidden = X, [], []
        with np.errstate(over="ignore", invalid="ignore"):
            for i in range(1, self.L + 1):
                W = self.params[f"W{i}"]
                z = h @ W
                bn_cache = act_cache = None
                if f"b{i}" in self.params:
                    z = z + self.params[f"b{i}"]
                if not np.all(np.isfinite(z)):          # the signal overflowed: report, do not crash
                    self._caches = None
                    return np.full((X.shape[0], self.sizes[-1]), np.nan)
                if i < self.L:
                    if self.batchnorm:
                        self.bn_params[i]["mode"] = "train" if training else "eval"
                        z, bn_cache = self.bn_forward(z, self.params[f"gamma{i}"], self.params[f"beta{i}"],
                                                      self.bn_params[i])
                    z, act_cache = act_f(z)
                    self.hidden.append(z)
                caches.append((h, bn_cache, act_cache))
                h = z
        self._caches = caches
        return h

    def backward(self, dlogits) -> dict:
        """Gradients of every parameter from ``dlogits`` ``(n, C)`` (after ``forward()``)."""
        if self._caches is None:
            raise RuntimeError("DeepMLP.backward: call forward(X) first; backward needs its caches")
        _, act_b = ACTIVATIONS[self.activation]
        grads = {}
        dh = as_float_array(dlogits, "dlogits", "DeepMLP.backward", ndim=2, finite=False)
        expected = (self._caches[0][0].shape[0], self.sizes[-1])
        if dh.shape != expected:
            raise ValueError(f"DeepMLP.backward: dlogits must be dL/d(logits), shaped like the last forward's "
                             f"logits {expected}, got shape {dh.shape}")
        with np.errstate(over="ignore", invalid="ignore"):
            for i in range(self.L, 0, -1):
                h_in, bn_cache, act_cache = self._caches[i - 1]
                if i < self.L:
                    dh = act_b(dh, act_cache)
                    if self.batchnorm:
                        dh, grads[f"gamma{i}"], grads[f"beta{i}"] = self.bn_backward(dh, bn_cache)
                if f"b{i}" in self.params:
                    grads[f"b{i}"] = dh.sum(axis=0)
                grads[f"W{i}"] = h_in.T @ dh
                dh = dh @ self.params[f"W{i}"].T
        return {k: grads[k] for k in self.params}

    def loss_and_grads(self, X, y, training: bool = True):
        """Mean softmax cross-entropy of ``X`` ``(n, d)`` against labels ``y`` ``(n,)`` and all gradients."""
        logits = self.forward(X, training=training)
        y = class_labels(y, logits.shape[0], logits.shape[1], "DeepMLP.loss_and_grads", batch_name="X")
        if not np.all(np.isfinite(logits)):
            return float("inf"), None
        loss, dlogits = softmax_cross_entropy(logits, y)
        return loss, self.backward(dlogits)

    def accuracy(self, X, y, training: bool = False) -> float:
        """Share of samples whose argmax logit is the label (evaluation mode by default)."""
        return float(np.mean(np.argmax(self.forward(X, training=training), axis=1) == np.asarray(y)))


def train_sgd(net: DeepMLP, X, y, lr: float = 0.1, steps: int = 100, max_norm=None, clip_fn=None) -> dict:
    """Full-batch gradient descent on ``net`` (updated in place), clipping by ``max_norm`` if given.

    ``clip_fn(grads, max_norm) -> (clipped, norm)``: the clipping function (default
    ``clip_grad_norm()``; notebook 07 passes the learner's).

    Returns a dict: ``losses`` (one per step, before the step), ``grad_norms`` (the global
    gradient norm before clipping), ``clipped`` (how many steps were clipped) and
    ``diverged_at`` (the step whose loss or gradient was not finite, else ``None``; the
    parameters are then put back to where they were before the step that led there, the
    last state with a finite loss).
    """
    if not isinstance(net, DeepMLP):
        raise TypeError(f"train_sgd: net must be a DeepMLP, got {describe(net)}")
    X = as_float_array(X, "X", "train_sgd", ndim=2)
    y = class_labels(y, X.shape[0], net.sizes[-1], "train_sgd", batch_name="X")
    lr = positive_number(lr, "lr", "train_sgd")
    steps = positive_number(steps, "steps", "train_sgd", integer=True)
    if max_norm is not None:
        max_norm = positive_number(max_norm, "max_norm", "train_sgd")
    losses, norms, clipped, diverged_at = [], [], 0, None
    previous = dict(net.params)            # the updates make new arrays, so references are enough
    for step in range(steps):
        loss, grads = net.loss_and_grads(X, y)
        g = np.inf if grads is None else float(np.sqrt(sum(float(np.sum(v * v)) for v in grads.values())))
        if not (np.isfinite(loss) and np.isfinite(g)):
            diverged_at = step
            net.params = previous
            break
        previous = dict(net.params)
        losses.append(loss)
        norms.append(g)
        if max_norm is not None:
            grads, _ = (clip_fn or clip_grad_norm)(grads, max_norm)
            clipped += g > max_norm
        for k in net.params:
            net.params[k] = net.params[k] - lr * grads[k]
    return dict(losses=np.array(losses), grad_norms=np.array(norms), clipped=int(clipped),
                diverged_at=diverged_at)
