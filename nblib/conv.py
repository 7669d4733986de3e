r"""Convolution, pooling and flatten layers in numpy, forward and backward (notebook 10).

Everything is **NCHW**, batch first, as in PyTorch: ``x`` of shape ``(N, C, H, W)`` holds
``N`` images of ``C`` channels (通道) of ``H x W`` pixels. A convolution layer has weights
``W`` of shape ``(F, C, HH, WW)`` (``F`` filters, each ``C x HH x WW``) and biases ``b``
of shape ``(F,)``. What deep-learning libraries call a convolution is a
**cross-correlation** (互相关): the kernel is *not* flipped,

.. math::

    \text{out}[n, f, i, j] = b_f + \sum_{c, k, l} x_p[n, c, s i + k, s j + l]\; W[f, c, k, l],

where ``x_p`` is ``x`` zero-padded by ``pad`` pixels on *every* side and ``s`` is the
stride. The output has shape ``(N, F, H', W')`` with

.. math::  H' = \left\lfloor \frac{H + 2p - HH}{s} \right\rfloor + 1 \quad (\text{same for } W').

Two forms of every layer (the notebook derives both):

* plain functions, easy to read and to swap for a learner's own:
  ``conv2d(x, W, b, stride, pad) -> out`` and
  ``conv2d_backward(dout, x, W, stride, pad) -> (dx, dW, db)``;
  ``maxpool2d(x, size, stride) -> out`` and ``maxpool2d_backward(dout, x, size, stride) -> dx``;
  the loop versions ``conv_forward_naive``, ``conv_backward_naive``,
  ``maxpool_backward_naive`` are the references the notebook's exercises are checked against;
* CS231n-style pairs with a cache: ``out, cache = conv_forward(x, W, b, stride, pad)``,
  ``dx, dW, db = conv_backward(dout, cache)``; ``maxpool_forward`` / ``maxpool_backward``,
  ``avgpool_forward`` / ``avgpool_backward``, ``flatten_forward`` / ``flatten_backward``.

The fast versions use *im2col*: every receptive field (感受野) of the padded input becomes
one row of a matrix ``cols`` of shape ``(N H' W', C HH WW)`` (built with numpy's
``sliding_window_view``, no copy until the reshape), so the convolution is one matrix
product ``cols @ W.reshape(F, -1).T``. They are tested equal to the loop versions and to
``torch.nn.functional.conv2d`` / ``max_pool2d`` in float64.

Max-pooling ties: the gradient goes to the **first** maximum of the window in row-major
order (top row first, left to right), which is what PyTorch does on the CPU.

``SmallCNN`` is the source article's network, fixed (poolings added) and shrunk to
the 8x8 digits: conv 3x3 -> ReLU -> 2x2 max-pool -> conv 3x3 -> ReLU -> 2x2 max-pool ->
flatten -> affine -> ReLU -> affine.
"""

from __future__ import annotations

import numbers

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._validate import as_float_array, class_labels, describe
from .layers import affine_backward, affine_forward, relu_backward, relu_forward, softmax_cross_entropy

__all__ = [
    "output_size", "flatten_size",
    "conv_forward_naive", "conv_backward_naive", "conv2d", "conv2d_backward",
    "conv_forward", "conv_backward",
    "maxpool_forward_naive", "maxpool_backward_naive", "maxpool2d", "maxpool2d_backward",
    "maxpool_forward", "maxpool_backward",
    "avgpool_forward", "avgpool_backward",
    "flatten_forward", "flatten_backward",
    "SmallCNN", "to_torch",
]


# ------------------------------------------------------------------------- validation
def _int(x, name, where, *, minimum):
    if isinstance(x, bool) or not isinstance(x, numbers.Integral):
        raise TypeError(f"{where}: {name} must be an integer >= {minimum}, got {describe(x)}")
    if x < minimum:
        raise ValueError(f"{where}: {name} must be an integer >= {minimum}, got {x}")
    return int(x)


def output_size(size, kernel, stride=1, pad=0) -> int:
    r"""Output length of a convolution or pooling along one axis:
    ⌊(size + 2·pad − kernel) / stride⌋ + 1.

    All arguments are integers (``size``, ``kernel``, ``stride`` >= 1, ``pad`` >= 0); the
    division is an integer (floor) division, as PyTorch's default ``ceil_mode=False``.
    Raises ``ValueError`` when the kernel does not fit in the padded input.
    """
    where = "output_size"
    size = _int(size, "size", where, minimum=1)
    kernel = _int(kernel, "kernel", where, minimum=1)
    stride = _int(stride, "stride", where, minimum=1)
    pad = _int(pad, "pad", where, minimum=0)
    if kernel > size + 2 * pad:
        raise ValueError(f"{where}: kernel {kernel} does not fit in an input of size {size} padded by {pad} "
                         f"on each side ({size + 2 * pad} in all); use a smaller kernel or more padding")
    return (size + 2 * pad - kernel) // stride + 1


def flatten_size(in_shape, layers) -> int:
    """Number of features after flattening, by shape reasoning alone.

    ``in_shape``: ``(C, H, W)`` of one image. ``layers``: a list of
    ``("conv", out_channels, kernel, stride, pad)`` and ``("pool", kernel, stride)`` tuples,
    in order. Each layer changes ``H`` and ``W`` by ``output_size()``; a conv sets the
    channels to ``out_channels``; a pool keeps them. Returns ``C * H * W`` at the end (an int).

    >>> flatten_size((1, 28, 28), [("conv", 32, 3, 1, 1), ("conv", 64, 3, 1, 1)])   # the article, as printed
    50176
    """
    where = "flatten_size"
    if not (isinstance(in_shape, (tuple, list)) and len(in_shape) == 3):
        raise TypeError(f"{where}: in_shape must be a tuple (C, H, W), got {describe(in_shape)}")
    c, h, w = (_int(v, "in_shape", where, minimum=1) for v in in_shape)
    if not isinstance(layers, (list, tuple)):
        raise TypeError(f"{where}: layers must be a list of ('conv', F, k, s, p) / ('pool', k, s) tuples, "
                        f"got {describe(layers)}")
    for i, layer in enumerate(layers):
        if isinstance(layer, tuple) and len(layer) == 5 and layer[0] == "conv":
            _, c, k, s, p = layer
            c = _int(c, f"layers[{i}] out_channels", where, minimum=1)
            h, w = output_size(h, k, s, p), output_size(w, k, s, p)
        elif isinstance(layer, tuple) and len(layer) == 3 and layer[0] == "pool":
            _, k, s = layer
            h, w = output_size(h, k, s, 0), output_size(w, k, s, 0)
        else:
            raise ValueError(f"{where}: layers[{i}] must be ('conv', out_channels, kernel, stride, pad) or "
                             f"('pool', kernel, stride), got {layer!r}")
    return c * h * w


def _check_conv(x, W, b, stride, pad, where):
    x = as_float_array(x, "x", where, ndim=4)
    W = as_float_array(W, "W", where, ndim=4)
    b = as_float_array(b, "b", where, ndim=1)
    stride = _int(stride, "stride", where, minimum=1)
    pad = _int(pad, "pad", where, minimum=0)
    if W.shape[1] != x.shape[1]:
        raise ValueError(f"{where}: x has shape {x.shape} (C = {x.shape[1]} channels) but W has shape {W.shape}; "
                         f"W must have shape (F, C, HH, WW) = (F, {x.shape[1]}, HH, WW)")
    if b.shape[0] != W.shape[0]:
        raise ValueError(f"{where}: W has shape {W.shape} (F = {W.shape[0]} filters) but b has shape {b.shape}; "
                         f"b must have shape ({W.shape[0]},)")
    H, Wd = x.shape[2:]
    HH, WW = W.shape[2:]
    if HH > H + 2 * pad or WW > Wd + 2 * pad:
        raise ValueError(f"{where}: the kernel ({HH}, {WW}) does not fit in the input ({H}, {Wd}) padded by {pad}; "
                         f"use a smaller kernel or more padding")
    return x, W, b, stride, pad


def _out_hw(x_shape, k_shape, stride, pad):
    H, Wd = x_shape[2:]
    HH, WW = k_shape
    return (H + 2 * pad - HH) // stride + 1, (Wd + 2 * pad - WW) // stride + 1


def _pad(x, pad):
    if pad == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))


def _dout(dout, shape, where):
    g = as_float_array(dout, "dout", where, ndim=4, finite=False)
    if g.shape != tuple(shape):
        raise ValueError(f"{where}: dout has shape {g.shape} but the layer's output had shape {tuple(shape)}; "
                         f"dout must be dL/d(output), shaped like the output")
    return g


# ------------------------------------------------------------------------- convolution, loops
def conv_forward_naive(x, W, b, stride=1, pad=0):
    """Convolution (cross-correlation) with explicit loops: the exercise's reference.

    ``x`` ``(N, C, H, W)``, ``W`` ``(F, C, HH, WW)``, ``b`` ``(F,)``, ``stride`` and ``pad``
    ints (``pad`` zeros on every side). Returns ``out`` ``(N, F, H', W')``, float64.
    """
    x, W, b, stride, pad = _check_conv(x, W, b, stride, pad, "conv_forward_naive")
    N, F = x.shape[0], W.shape[0]
    HH, WW = W.shape[2:]
    Ho, Wo = _out_hw(x.shape, (HH, WW), stride, pad)
    xp = _pad(x, pad)
    out = np.zeros((N, F, Ho, Wo))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    window = xp[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                    out[n, f, i, j] = np.sum(window * W[f]) + b[f]
    return out


def conv_backward_naive(dout, x, W, stride=1, pad=0):
    """Gradients of the convolution with explicit loops: the exercise's reference.

    ``dout`` ``(N, F, H', W')`` is dL/d(out). Every output element ``out[n, f, i, j]`` used
    the window ``xp[n, :, i s : i s + HH, j s : j s + WW]`` and the filter ``W[f]``, so it
    sends ``dout[n, f, i, j] * W[f]`` back to that window of ``dxp`` and
    ``dout[n, f, i, j] * window`` to ``dW[f]`` (both **added**: windows overlap).
    ``dx`` is ``dxp`` without its padding; ``db[f]`` sums ``dout[:, f]``.
    Returns ``(dx, dW, db)`` shaped like ``(x, W, b)``.
    """
    where = "conv_backward_naive"
    x, W, _, stride, pad = _check_conv(x, W, np.zeros(np.shape(W)[0] if np.ndim(W) == 4 else 1), stride, pad,
                                       where)
    N, C, H, Wd = x.shape
    F, _, HH, WW = W.shape
    Ho, Wo = _out_hw(x.shape, (HH, WW), stride, pad)
    dout = _dout(dout, (N, F, Ho, Wo), where)
    xp = _pad(x, pad)
    dxp, dW = np.zeros_like(xp), np.zeros_like(W)
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    rows, cols = slice(i * stride, i * stride + HH), slice(j * stride, j * stride + WW)
                    dW[f] += dout[n, f, i, j] * xp[n, :, rows, cols]
                    dxp[n, :, rows, cols] += dout[n, f, i, j] * W[f]
    db = dout.sum(axis=(0, 2, 3))
    return dxp[:, :, pad:pad + H, pad:pad + Wd], dW, db


# ------------------------------------------------------------------------- convolution, im2col
def _im2col(xp, HH, WW, stride):
    """``(N H' W', C HH WW)`` rows: one receptive field of the padded input per output pixel."""
    N, C = xp.shape[:2]
    win = sliding_window_view(xp, (HH, WW), axis=(2, 3))[:, :, ::stride, ::stride]   # (N, C, H', W', HH, WW)
    Ho, Wo = win.shape[2:4]
    return win.transpose(0, 2, 3, 1, 4, 5).reshape(N * Ho * Wo, C * HH * WW), Ho, Wo


def conv_forward(x, W, b, stride=1, pad=0):
    """Fast convolution (im2col + one matrix product); returns ``(out, cache)``.

    Shapes as ``conv_forward_naive()``. ``cache = (x, W, stride, pad, cols)`` with
    ``cols`` the ``(N H' W', C HH WW)`` im2col matrix.
    """
    x, W, b, stride, pad = _check_conv(x, W, b, stride, pad, "conv_forward")
    N, F = x.shape[0], W.shape[0]
    cols, Ho, Wo = _im2col(_pad(x, pad), W.shape[2], W.shape[3], stride)
    out = cols @ W.reshape(F, -1).T + b                                  # (N H' W', F)
    return out.reshape(N, Ho, Wo, F).transpose(0, 3, 1, 2), (x, W, stride, pad, cols)


def conv_backward(dout, cache):
    r"""Backward pass of ``conv_forward()``: ``(dx, dW, db)`` shaped like ``(x, W, b)``.

    With ``D`` = ``dout`` as an ``(N H' W', F)`` matrix: dW = Dᵀ cols
    (a correlation of the input with ``dout``), db = Σ D over rows, and
    dcols = D W_mat, whose rows are added back onto the windows
    they came from (col2im). For stride 1 this ``dx`` equals the *full convolution* of
    ``dout`` with the flipped kernel (notebook 10 checks it).
    """
    if not isinstance(cache, tuple) or len(cache) != 5:
        raise TypeError(f"conv_backward: cache must be the tuple returned by conv_forward, got {describe(cache)}")
    x, W, stride, pad, cols = cache
    N, C, H, Wd = x.shape
    F, _, HH, WW = W.shape
    Ho, Wo = _out_hw(x.shape, (HH, WW), stride, pad)
    dout = _dout(dout, (N, F, Ho, Wo), "conv_backward")
    D = dout.transpose(0, 2, 3, 1).reshape(-1, F)
    dW = (D.T @ cols).reshape(W.shape)
    db = D.sum(axis=0)
    dcols = (D @ W.reshape(F, -1)).reshape(N, Ho, Wo, C, HH, WW)
    dxp = np.zeros((N, C, H + 2 * pad, Wd + 2 * pad))
    for k in range(HH):                      # col2im: HH * WW strided additions
        for l in range(WW):
            dxp[:, :, k:k + stride * Ho:stride, l:l + stride * Wo:stride] += dcols[:, :, :, :, k, l].transpose(0, 3, 1, 2)
    return dxp[:, :, pad:pad + H, pad:pad + Wd], dW, db


def conv2d(x, W, b, stride=1, pad=0):
    """``out`` of ``conv_forward()`` (same arguments), without the cache."""
    return conv_forward(x, W, b, stride, pad)[0]


def conv2d_backward(dout, x, W, stride=1, pad=0):
    """``(dx, dW, db)`` of the convolution, from the layer's input (same signature as
    ``conv_backward_naive()``, fast)."""
    where = "conv2d_backward"
    x = as_float_array(x, "x", where, ndim=4)
    W = as_float_array(W, "W", where, ndim=4)
    _, cache = conv_forward(x, W, np.zeros(W.shape[0]), stride, pad)
    return conv_backward(dout, cache)


# ------------------------------------------------------------------------- pooling
def _check_pool(x, size, stride, where):
    x = as_float_array(x, "x", where, ndim=4)
    size = _int(size, "size", where, minimum=1)
    stride = size if stride is None else _int(stride, "stride", where, minimum=1)
    if size > x.shape[2] or size > x.shape[3]:
        raise ValueError(f"{where}: a {size}x{size} window does not fit in an input of {x.shape[2]}x{x.shape[3]} "
                         f"pixels (x has shape {x.shape})")
    return x, size, stride


def _windows(x, size, stride):
    """``(N, C, H', W', size * size)``: every pooling window, flattened row-major."""
    win = sliding_window_view(x, (size, size), axis=(2, 3))[:, :, ::stride, ::stride]
    return win.reshape(*win.shape[:4], size * size)


def _scatter(dwin, x_shape, size, stride):
    """Add each window's gradient ``(N, C, H', W', size * size)`` back onto an array shaped ``x_shape``."""
    N, C, Ho, Wo, _ = dwin.shape
    dx = np.zeros(x_shape)
    for k in range(size):
        for l in range(size):
            dx[:, :, k:k + stride * Ho:stride, l:l + stride * Wo:stride] += dwin[..., k * size + l]
    return dx


def maxpool_forward_naive(x, size=2, stride=None):
    """Max-pooling with loops: ``x`` ``(N, C, H, W)`` -> ``(N, C, H', W')``, windows ``size x size``
    every ``stride`` pixels (default: ``stride = size``, no padding, floor)."""
    x, size, stride = _check_pool(x, size, stride, "maxpool_forward_naive")
    N, C, H, Wd = x.shape
    Ho, Wo = (H - size) // stride + 1, (Wd - size) // stride + 1
    out = np.zeros((N, C, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            out[:, :, i, j] = x[:, :, i * stride:i * stride + size, j * stride:j * stride + size].max(axis=(2, 3))
    return out


def maxpool_backward_naive(dout, x, size=2, stride=None):
    """Max-pooling's backward pass with loops: the exercise's reference.

    Each ``dout[n, c, i, j]`` goes, whole, to the position of the maximum of its window of
    ``x``; ties go to the **first** maximum in row-major order (as PyTorch on the CPU), and
    overlapping windows (``stride < size``) **add** their contributions. Returns ``dx`` shaped like ``x``.
    """
    where = "maxpool_backward_naive"
    x, size, stride = _check_pool(x, size, stride, where)
    N, C, H, Wd = x.shape
    Ho, Wo = (H - size) // stride + 1, (Wd - size) // stride + 1
    dout = _dout(dout, (N, C, Ho, Wo), where)
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    window = x[n, c, i * stride:i * stride + size, j * stride:j * stride + size]
                    k, l = np.unravel_index(np.argmax(window), window.shape)   # first maximum
                    dx[n, c, i * stride + k, j * stride + l] += dout[n, c, i, j]
    return dx


def maxpool_forward(x, size=2, stride=None):
    """Fast max-pooling; returns ``(out, cache)``, ``cache = (x.shape, size, stride, argmax)`` with
    ``argmax`` ``(N, C, H', W')`` the row-major index of each window's first maximum."""
    x, size, stride = _check_pool(x, size, stride, "maxpool_forward")
    win = _windows(x, size, stride)
    arg = win.argmax(axis=-1)
    out = np.take_along_axis(win, arg[..., None], axis=-1)[..., 0]
    return out, (x.shape, size, stride, arg)


def maxpool_backward(dout, cache):
    """Backward pass of ``maxpool_forward()``: ``dx`` shaped like the input; each ``dout``
    element goes to its window's (first) maximum, overlapping windows add up."""
    if not isinstance(cache, tuple) or len(cache) != 4:
        raise TypeError(f"maxpool_backward: cache must be the tuple returned by maxpool_forward, "
                        f"got {describe(cache)}")
    shape, size, stride, arg = cache
    dout = _dout(dout, arg.shape, "maxpool_backward")
    dwin = (np.arange(size * size) == arg[..., None]) * dout[..., None]
    return _scatter(dwin, shape, size, stride)


def maxpool2d(x, size=2, stride=None):
    """``out`` of ``maxpool_forward()``, without the cache."""
    return maxpool_forward(x, size, stride)[0]


def maxpool2d_backward(dout, x, size=2, stride=None):
    """``dx`` of max-pooling from the layer's input (same signature as ``maxpool_backward_naive()``, fast)."""
    return maxpool_backward(dout, maxpool_forward(x, size, stride)[1])


def avgpool_forward(x, size=2, stride=None):
    """Average pooling: the mean of each ``size x size`` window; returns ``(out, cache)``,
    ``cache = (x.shape, size, stride)``."""
    x, size, stride = _check_pool(x, size, stride, "avgpool_forward")
    return _windows(x, size, stride).mean(axis=-1), (x.shape, size, stride)


def avgpool_backward(dout, cache):
    """Backward of ``avgpool_forward()``: each ``dout`` element is shared equally,
    ``dout / size**2``, by every pixel of its window."""
    if not isinstance(cache, tuple) or len(cache) != 3:
        raise TypeError(f"avgpool_backward: cache must be the tuple returned by avgpool_forward, "
                        f"got {describe(cache)}")
    shape, size, stride = cache
    N, C, H, Wd = shape
    dout = _dout(dout, (N, C, (H - size) // stride + 1, (Wd - size) // stride + 1), "avgpool_backward")
    dwin = np.repeat(dout[..., None] / (size * size), size * size, axis=-1)
    return _scatter(dwin, shape, size, stride)


# ------------------------------------------------------------------------- flatten
def flatten_forward(x):
    """``(N, C, H, W)`` -> ``(N, C*H*W)``, channel-major (as ``torch.flatten(x, 1)`` and
    ``x.view(N, -1)``); cache: the input shape. The batch axis is never merged."""
    x = as_float_array(x, "x", "flatten_forward", ndim=(2, 3, 4, 5))
    return x.reshape(x.shape[0], -1), x.shape


def flatten_backward(dout, cache):
    """``dout`` ``(N, C*H*W)`` reshaped back to the input shape ``cache``."""
    if not (isinstance(cache, tuple) and all(isinstance(d, (int, np.integer)) for d in cache)):
        raise TypeError(f"flatten_backward: cache must be the input shape returned by flatten_forward, "
                        f"got {describe(cache)}")
    g = as_float_array(dout, "dout", "flatten_backward", ndim=2, finite=False)
    if g.shape != (cache[0], int(np.prod(cache[1:]))):
        raise ValueError(f"flatten_backward: dout has shape {g.shape} but the flattened output had shape "
                         f"{(cache[0], int(np.prod(cache[1:])))}")
    return g.reshape(cache)


# ------------------------------------------------------------------------- the network
class SmallCNN:
    """The source article's CNN, fixed and sized for 8x8 digits (NCHW, float64).

    ``conv(1 -> c1, 3x3, pad 1) -> ReLU -> maxpool 2x2 -> conv(c1 -> c2, 3x3, pad 1) -> ReLU
    -> maxpool 2x2 -> flatten (c2 * 2 * 2) -> affine(hidden) -> ReLU -> affine(10)``, softmax
    cross-entropy (mean over the batch). For ``H x W`` inputs the flatten has
    ``c2 * (H // 4) * (W // 4)`` features.

    Parameters
    ----------
    channels : ``(c1, c2)``; the article has (32, 64).
    hidden : width of the hidden affine layer (the article: 128).
    image_size : ``(H, W)`` of the input images (8x8 digits; MNIST: 28x28).
    seed : int or ``numpy.random.Generator`` for the He-normal initial weights (biases 0).
    conv, conv_backward, pool_backward : the layer functions to use, with the signatures of
        ``conv2d()``, ``conv2d_backward()`` and ``maxpool2d_backward()`` (the fast
        ones by default); pass a learner's loop versions to run the network on them.

    ``params``: ``{"W1": (c1, 1, 3, 3), "b1": (c1,), "W2": (c2, c1, 3, 3), "b2": (c2,),
    "W3": (c2*h*w, hidden), "b3": (hidden,), "W4": (hidden, 10), "b4": (10,)}``; ``W3``
    and ``W4`` are ``(d_in, d_out)`` as in ``nblib.layers`` (PyTorch's ``Linear`` stores the transpose).
    """

    def __init__(self, channels=(8, 16), hidden=64, image_size=(8, 8), seed=0,
                 conv=None, conv_backward=None, pool_backward=None):
        from .data import make_rng
        where = "SmallCNN"
        if not (isinstance(channels, (tuple, list)) and len(channels) == 2):
            raise TypeError(f"{where}: channels must be a pair (c1, c2), got {describe(channels)}")
        c1, c2 = (_int(c, "channels", where, minimum=1) for c in channels)
        hidden = _int(hidden, "hidden", where, minimum=1)
        if not (isinstance(image_size, (tuple, list)) and len(image_size) == 2):
            raise TypeError(f"{where}: image_size must be a pair (H, W), got {describe(image_size)}")
        H, Wd = (_int(s, "image_size", where, minimum=4) for s in image_size)
        for name, f in (("conv", conv), ("conv_backward", conv_backward), ("pool_backward", pool_backward)):
            if f is not None and not callable(f):
                raise TypeError(f"{where}: {name} must be a function, got {describe(f)}")
        self.conv = conv or conv2d
        self.conv_backward = conv_backward or conv2d_backward
        self.pool_backward = pool_backward or maxpool2d_backward
        self._fast = conv is None and conv_backward is None and pool_backward is None
        self.channels, self.hidden, self.image_size = (c1, c2), hidden, (H, Wd)
        self.flat = c2 * (H // 4) * (Wd // 4)
        rng = make_rng(seed)

        def he(shape, fan_in):
            return np.sqrt(2.0 / fan_in) * rng.standard_normal(shape)

        self.params = {
            "W1": he((c1, 1, 3, 3), 9), "b1": np.zeros(c1),
            "W2": he((c2, c1, 3, 3), 9 * c1), "b2": np.zeros(c2),
            "W3": he((self.flat, hidden), self.flat), "b3": np.zeros(hidden),
            "W4": he((hidden, 10), hidden), "b4": np.zeros(10),
        }
        self._cache = None

    def __repr__(self):
        c1, c2 = self.channels
        return (f"SmallCNN(conv 1->{c1} 3x3 pad 1, relu, maxpool 2, conv {c1}->{c2} 3x3 pad 1, relu, maxpool 2, "
                f"flatten {self.flat}, affine {self.flat}->{self.hidden}, relu, affine {self.hidden}->10)")

    def _images(self, X, where):
        X = as_float_array(X, "X", where, ndim=(2, 3, 4))
        H, Wd = self.image_size
        if X.ndim == 2 and X.shape[1] == H * Wd:
            X = X.reshape(-1, 1, H, Wd)
        elif X.ndim == 3:
            X = X[:, None]
        if X.shape[1:] != (1, H, Wd):
            raise ValueError(f"{where}: X must hold {H}x{Wd} one-channel images, shape (N, 1, {H}, {Wd}), "
                             f"(N, {H}, {Wd}) or (N, {H * Wd}); got {X.shape}")
        return X

    def forward(self, X, keep=None) -> np.ndarray:
        """Logits ``(N, 10)`` for images ``X`` ``(N, 1, H, W)`` (or ``(N, H, W)``, ``(N, H*W)``).

        Keeps what ``backward()`` needs. ``keep``: an optional dict that receives the
        intermediate feature maps (``"conv1"``, ``"pool1"``, ``"conv2"``, ``"pool2"``, ``"flat"``).
        """
        p = self.params
        x0 = self._images(X, "SmallCNN.forward")
        fast = self._fast
        if fast:                                   # the library's layers: keep their caches
            a1, k1 = conv_forward(x0, p["W1"], p["b1"], 1, 1)
        else:
            a1, k1 = self.conv(x0, p["W1"], p["b1"], 1, 1), None
        r1, _ = relu_forward(a1)
        m1, q1 = maxpool_forward(r1, 2, 2)
        if fast:
            a2, k2 = conv_forward(m1, p["W2"], p["b2"], 1, 1)
        else:
            a2, k2 = self.conv(m1, p["W2"], p["b2"], 1, 1), None
        r2, _ = relu_forward(a2)
        m2, q2 = maxpool_forward(r2, 2, 2)
        flat, _ = flatten_forward(m2)
        h, c3 = affine_forward(flat, p["W3"], p["b3"])
        hr, _ = relu_forward(h)
        logits, c4 = affine_forward(hr, p["W4"], p["b4"])
        self._cache = (x0, a1, r1, m1, a2, r2, m2, c3, h, c4, k1, k2, q1, q2)
        if keep is not None:
            keep.update(conv1=r1, pool1=m1, conv2=r2, pool2=m2, flat=flat)
        return logits

    def backward(self, dlogits) -> dict:
        """Gradients ``{"W1": ..., "b4": ...}`` (shapes of ``params``) from dL/dlogits ``(N, 10)``."""
        if self._cache is None:
            raise RuntimeError("SmallCNN.backward: call forward(X) first; backward needs its caches")
        x0, a1, r1, m1, a2, r2, m2, c3, h, c4, k1, k2, q1, q2 = self._cache
        p, g = self.params, {}
        dhr, g["W4"], g["b4"] = affine_backward(dlogits, c4)
        dflat, g["W3"], g["b3"] = affine_backward(relu_backward(dhr, h), c3)
        dm2 = flatten_backward(dflat, m2.shape)
        if self._fast:
            dr2 = maxpool_backward(dm2, q2)
            dm1, g["W2"], g["b2"] = conv_backward(relu_backward(dr2, a2), k2)
            dr1 = maxpool_backward(dm1, q1)
            _, g["W1"], g["b1"] = conv_backward(relu_backward(dr1, a1), k1)
        else:
            dr2 = self.pool_backward(dm2, r2, 2, 2)
            dm1, g["W2"], g["b2"] = self.conv_backward(relu_backward(dr2, a2), m1, p["W2"], 1, 1)
            dr1 = self.pool_backward(dm1, r1, 2, 2)
            _, g["W1"], g["b1"] = self.conv_backward(relu_backward(dr1, a1), x0, p["W1"], 1, 1)
        return {k: np.asarray(g[k], dtype=float) for k in p}

    def loss_and_grads(self, X, y):
        """Mean softmax cross-entropy over the batch and the gradient of every parameter: ``(loss, grads)``."""
        logits = self.forward(X)
        y = class_labels(y, logits.shape[0], 10, "SmallCNN.loss_and_grads", name="y", batch_name="X")
        loss, dlogits = softmax_cross_entropy(logits, y)
        return loss, self.backward(dlogits)

    def predict(self, X, batch_size: int = 512) -> np.ndarray:
        """Predicted classes ``(N,)`` (argmax of the logits), in batches."""
        X = self._images(X, "SmallCNN.predict")
        return np.concatenate([self.forward(X[i:i + batch_size]).argmax(axis=1)
                               for i in range(0, len(X), batch_size)])


def to_torch(net: SmallCNN, dtype=None):
    """A ``torch.nn.Sequential`` twin of ``net`` with a copy of its current weights.

    The layers are the article's ``nn.Conv2d(1, c1, 3, padding=1)``, ``nn.ReLU``,
    ``nn.MaxPool2d(2)``, ..., ``nn.Flatten``, ``nn.Linear``; ``Linear`` weights are the
    transposes of ``W3`` / ``W4``. ``dtype``: ``torch.float64`` (default, to compare number
    for number) or ``torch.float32``. Imports torch only when called.
    """
    import torch
    from torch import nn

    if not isinstance(net, SmallCNN):
        raise TypeError(f"to_torch: net must be a SmallCNN, got {describe(net)}")
    dtype = torch.float64 if dtype is None else dtype
    c1, c2 = net.channels
    model = nn.Sequential(
        nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(net.flat, net.hidden), nn.ReLU(), nn.Linear(net.hidden, 10)).to(dtype)
    p = net.params
    with torch.no_grad():
        for layer, (w, b, t) in zip((model[0], model[3], model[7], model[9]),
                                    (("W1", "b1", False), ("W2", "b2", False), ("W3", "b3", True), ("W4", "b4", True))):
            layer.weight.copy_(torch.as_tensor(p[w].T if t else p[w]))
            layer.bias.copy_(torch.as_tensor(p[b]))
    return model
