"""Checkers for notebook 10 (convolutions by hand).

* ``conv_forward`` -- the loop convolution ``fn(x, W, b, stride, pad) -> out``;
* ``conv_backward`` -- its gradients ``fn(dout, x, W, stride, pad) -> (dx, dW, db)``;
* ``maxpool_backward`` -- ``fn(dout, x, size, stride) -> dx``, ties to the first maximum;
* ``flatten_size`` -- ``fn(in_shape, layers) -> int`` by shape reasoning.

The test cases use non-square kernels, strides that do not divide the padded size,
padding > 0, overlapping windows and tied maxima, so that the plausible wrong answers
(convolution instead of correlation, padding on one side, stride ignored in the output
size, pool gradient to every element or to every tied maximum, float division) give
numbers different from the right ones; each is recognised and named.
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import conv as _conv
from ._core import CheckResult, _call, _fmt_args, _to_array, low_precision, require_function, returned

__all__ = ["conv_forward", "conv_backward", "maxpool_backward", "flatten_size"]

#: no helper functions are exported by this module (every public name is a checker)
HELPERS: tuple = ()


# ------------------------------------------------------------------ shared machinery
def _same(a, b):
    return (a is not None and b is not None and a.shape == b.shape and bool(np.all(np.isfinite(a)))
            and np.allclose(a, b, atol=1e-8, rtol=1e-6))


def _crash_hint(text, crash_hints):
    for needle, steps in crash_hints:
        if needle in text:
            return steps
    return None



def _run(name, fn, reference, cases, diagnoses, *, parts=None, crash_hints=(), success="", shape_hint=None):
    """Run ``fn`` on every case; compare with ``reference``; name the first matching diagnosis.

    ``parts``: names of the components when the answer is a tuple (e.g. ``("dx", "dW", "db")``).
    ``diagnoses``: ``[(wrong_fn, (step1, step2, ...)), ...]``; a wrong_fn returns what that
    mistake would return (``None`` when it does not apply to the case).
    ``crash_hints``: ``[(text in the error, steps), ...]`` for crashes a typical mistake causes.
    """
    bad = require_function(name, fn, reference)
    if bad is not None:
        return bad
    for k, args in enumerate(cases, 1):
        copies = [np.copy(a) if isinstance(a, np.ndarray) else a for a in args]
        where = f"test case {k} (inputs: {_fmt_args(args)})"
        value, err = _call(fn, copies)
        if err:
            if err[0] == "todo":
                return CheckResult(name, "todo", err[1], fn, reference)
            steps = _crash_hint(err[1], crash_hints)
            if steps:
                return CheckResult(name, "fail", f"{err[1]} on {where}. {steps[0]}", fn, reference, hints=steps[1:])
            return CheckResult(name, "fail", f"{err[1]} on {where}.", fn, reference,
                               hints=("Run your function on this case yourself and print the shapes of the "
                                      "arrays in the failing line.",))
        for a, c in zip(args, copies):
            if isinstance(a, np.ndarray) and not np.array_equal(a, c):
                return CheckResult(name, "fail", "your function changed an input array in place; compute into a "
                                   "new array instead (np.pad and np.zeros make new ones).", fn, reference)
        expected = reference(*args)
        got = _split(value, parts)
        if isinstance(got, str):
            return CheckResult(name, "fail", f"{got} on {where}.", fn, reference)
        want = _split(expected, parts)
        ok = [_same(g, w) for g, w in zip(got, want)]
        if all(ok):
            continue
        for wrong_fn, steps in diagnoses:
            try:
                with np.errstate(all="ignore"):
                    wrong = wrong_fn(*args)
            except Exception:
                continue
            if wrong is None:
                continue
            wrong = _split(wrong, parts)
            if all(_same(g, w) for g, w in zip(got, wrong)):
                return CheckResult(name, "fail", f"{steps[0].rstrip('.')}. Seen on {where}.", fn, reference,
                                   hints=steps[1:])
        labels = parts or ("your result",)
        for label, g, w, good in zip(labels, got, want, ok):
            if good:
                continue
            steps = shape_hint(label, g.shape, w.shape) if shape_hint and g.shape != w.shape else None
            if steps:
                return CheckResult(name, "fail", f"{label} has shape {g.shape}, expected {w.shape} on {where}. "
                                   f"{steps[0]}", fn, reference, hints=steps[1:])
            if g.shape != w.shape:
                return CheckResult(name, "fail", f"{label} has shape {g.shape}, expected {w.shape} on {where}.",
                                   fn, reference,
                                   hints=("Write the shape of every array next to the formula: which axis has "
                                          "the wrong length, and which size formula gives it?",))
            if not np.all(np.isfinite(g)):
                return CheckResult(name, "fail", f"{label} contains inf or NaN on {where}.", fn, reference)
            right = [p for p, good2 in zip(labels, ok) if good2]
            also = f" ({', '.join(right)} {'is' if len(right) == 1 else 'are'} right)" if right else ""
            return CheckResult(name, "fail", f"{label} differs from the expected one by up to "
                               f"{float(np.max(np.abs(g - w))):.3g} on {where}{also}.", fn, reference,
                               hints=("Work through the smallest case by hand: one image, one channel, one "
                                      "filter, and compare element by element.",))
    return CheckResult(name, "pass", success or f"correct on all {len(cases)} test cases.", fn, reference)


def _split(value, parts):
    """The learner's answer as a list of arrays, or a sentence saying why it is not one."""
    if parts is None:
        if isinstance(value, tuple) and value and _to_array(value[0]) is not None and _to_array(value[0]).ndim >= 1:
            return (f"returned a tuple of {len(value)} (like CS231n's (out, cache)); this exercise returns only "
                    f"the array")
        a = _to_array(value) if value is not None else None
        if a is None or a.dtype == object:
            return f"returned {returned(value)}; expected an array of numbers"
        return [a]
    if not isinstance(value, (tuple, list)) or len(value) != len(parts):
        return (f"returned {returned(value)}; expected a tuple of {len(parts)} arrays "
                f"({', '.join(parts)})")
    out = []
    for label, v in zip(parts, value):
        a = _to_array(v)
        if a is None or a.dtype == object:
            return f"{label} is {returned(v)}; expected an array of numbers"
        out.append(a)
    return out


# ------------------------------------------------------------------ convolution forward
def _conv_cases():
    rng = np.random.default_rng(10)
    scale = np.array([1.0, 100.0])[:, None, None, None]          # two images of very different scale
    return [
        (rng.normal(size=(1, 2, 4, 4)), rng.normal(size=(3, 2, 3, 3)), rng.normal(size=3), 1, 0),
        (rng.normal(size=(2, 3, 5, 7)) * scale, rng.normal(size=(4, 3, 3, 2)), rng.normal(size=4), 2, 1),
        (rng.normal(size=(2, 2, 9, 7)), rng.normal(size=(3, 2, 4, 3)), rng.normal(size=3), 3, 2),
    ]


def _ref_conv(x, W, b, stride, pad):
    return _conv.conv_forward_naive(x, W, b, stride, pad)


def _pad_sides(x, top, bottom):
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (top, bottom)))


def _conv_on_padded(xp, W, b, stride):
    return _conv.conv_forward_naive(xp, W, b, stride, 0)


def conv_forward(fn) -> CheckResult:
    """Check ``fn(x (N, C, H, W), W (F, C, HH, WW), b (F,), stride, pad) -> out (N, F, H', W')``,
    a cross-correlation of the zero-padded input (``pad`` on every side), as PyTorch's conv2d.

    Recognised mistakes: the kernel flipped (true convolution), padding on one side only,
    the stride ignored, a float or too-large output size, the bias forgotten, only the first
    channel used, the mean instead of the sum over the window.
    """
    def flipped(x, W, b, s, p):
        return _ref_conv(x, W[:, :, ::-1, ::-1], b, s, p)

    def one_side(x, W, b, s, p):
        return _conv_on_padded(_pad_sides(x, p, 0), W, b, s) if p else None

    def end_side(x, W, b, s, p):
        return _conv_on_padded(_pad_sides(x, 0, 2 * p), W, b, s) if p else None

    def no_stride(x, W, b, s, p):
        return _ref_conv(x, W, b, 1, p) if s > 1 else None

    def rows_only(x, W, b, s, p):
        return _ref_conv(x, W, b, 1, p)[:, :, ::s, :] if s > 1 else None

    def no_bias(x, W, b, s, p):
        return _ref_conv(x, W, b * 0, s, p)

    def first_channel(x, W, b, s, p):
        return _ref_conv(x[:, :1], W[:, :1], b, s, p)

    def mean(x, W, b, s, p):
        return _ref_conv(x, W, b * 0, s, p) / W[0].size + b[None, :, None, None]

    return _run("conv_forward", fn, _ref_conv, _conv_cases(), [
        (flipped, ("You flipped the kernel: that is the convolution of mathematics, not what deep-learning "
                   "libraries compute.",
                   "nn.Conv2d computes a cross-correlation: out[i, j] = sum of xp[i*s + k, j*s + l] * W[k, l], "
                   "with the same k, l on both sides; no W[::-1, ::-1].")),
        (one_side, ("Your padding is on one side only (top/left).",
                    "np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) adds pad zeros before AND after each "
                    "spatial axis.")),
        (end_side, ("Your padding is all on one side (bottom/right): the image is shifted.",
                    "pad zeros go on every side: (pad, pad) for each of the two spatial axes.")),
        (no_stride, ("You ignored the stride: your output is the stride-1 output.",
                     "With stride s the output has H' = (H + 2p - HH) // s + 1 rows, and output row i reads input "
                     "rows i*s ... i*s + HH - 1.")),
        (rows_only, ("The stride is applied to the rows but not to the columns.",
                     "Both spatial axes step by the stride: j*s for the columns as i*s for the rows.")),
        (no_bias, ("The bias is missing.", "Add b[f] to every output pixel of filter f.")),
        (first_channel, ("Only the first input channel is used.",
                         "Each filter W[f] has shape (C, HH, WW): sum the products over all C channels of the "
                         "window, not just channel 0.")),
        (mean, ("You averaged over the window instead of summing.",
                "out is the sum of C*HH*WW products, plus the bias; no division.")),
    ], crash_hints=[
        ("'float' object cannot be interpreted as an integer",
         ("Your output size is a float: (H + 2p - HH) / s is a float division.",
          "Use floor division //: H' = (H + 2*pad - HH) // stride + 1, an int.")),
        ("could not be broadcast",
         ("A window came out smaller than the kernel: your output has too many rows or columns.",
          "Did the output size use the stride? H' = (H + 2*pad - HH) // stride + 1; rounding up or leaving "
          "out the division by the stride makes windows run off the padded image.")),
    ], success="correct: a cross-correlation of the padded input, with stride, for every filter and image.",
        shape_hint=_out_size_hint)


def _out_size_hint(label, got, want):
    """Steps for an output of the right rank with too many / too few rows or columns."""
    if len(got) != 4 or got[:2] != want[:2]:
        return None
    if got[2] >= want[2] and got[3] >= want[3]:
        return ("Your output has too many rows or columns: a window that does not fit entirely is not computed.",
                "H' = (H + 2*pad - HH) // stride + 1 rounds down; rounding up, or leaving out the division by "
                "the stride, adds windows that run off the padded image.")
    if got[2] <= want[2] and got[3] <= want[3]:
        return ("Your output has too few rows or columns.",
                "H' = (H + 2*pad - HH) // stride + 1: did you leave out the padding or the + 1?")
    return None


# ------------------------------------------------------------------ convolution backward
def _ref_conv_back(dout, x, W, stride, pad):
    return _conv.conv_backward_naive(dout, x, W, stride, pad)


def _back_cases():
    out = []
    rng = np.random.default_rng(11)
    for (N, C, H, Wd, F, HH, WW, s, p) in [(1, 1, 4, 4, 1, 2, 2, 1, 0), (2, 2, 5, 6, 3, 3, 3, 1, 1),
                                           (2, 3, 7, 5, 2, 3, 2, 2, 1)]:
        x, W = rng.normal(size=(N, C, H, Wd)), rng.normal(size=(F, C, HH, WW))
        Ho, Wo = _conv._out_hw(x.shape, (HH, WW), s, p)
        out.append((rng.normal(size=(N, F, Ho, Wo)), x, W, s, p))
    return out


def _loop_back(dout, x, W, stride, pad, *, assign=False, stride_in_windows=True, keep_pad=False):
    """Variants of the loop backward pass (for the wrong answers)."""
    N, C, H, Wd = x.shape
    F, _, HH, WW = W.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp, dW = np.zeros_like(xp), np.zeros_like(W)
    s = stride if stride_in_windows else 1
    for n in range(N):
        for f in range(F):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    r, c = slice(i * s, i * s + HH), slice(j * s, j * s + WW)
                    dW[f] += dout[n, f, i, j] * xp[n, :, r, c]
                    if assign:
                        dxp[n, :, r, c] = dout[n, f, i, j] * W[f]
                    else:
                        dxp[n, :, r, c] += dout[n, f, i, j] * W[f]
    dx = dxp if keep_pad else dxp[:, :, pad:pad + H, pad:pad + Wd]
    return dx, dW, dout.sum(axis=(0, 2, 3))


def conv_backward(fn) -> CheckResult:
    """Check ``fn(dout (N, F, H', W'), x (N, C, H, W), W (F, C, HH, WW), stride, pad) -> (dx, dW, db)``.

    Recognised mistakes: dx still padded; the kernel flipped in dx or dW; windows overwritten
    (``=`` instead of ``+=``) where they overlap; db as a mean or not summed over the batch;
    dW averaged over the batch; the stride left out of the window positions.
    """
    def padded(dout, x, W, s, p):
        return _loop_back(dout, x, W, s, p, keep_pad=True) if p else None

    def flip_dx(dout, x, W, s, p):
        dx, dW, db = _ref_conv_back(dout, x, W[:, :, ::-1, ::-1], s, p)
        return dx, _ref_conv_back(dout, x, W, s, p)[1], db

    def flip_dw(dout, x, W, s, p):
        dx, dW, db = _ref_conv_back(dout, x, W, s, p)
        return dx, dW[:, :, ::-1, ::-1], db

    def overwrite(dout, x, W, s, p):
        return _loop_back(dout, x, W, s, p, assign=True)

    def db_mean(dout, x, W, s, p):
        dx, dW, _ = _ref_conv_back(dout, x, W, s, p)
        return dx, dW, dout.mean(axis=(0, 2, 3))

    def db_per_image(dout, x, W, s, p):
        dx, dW, _ = _ref_conv_back(dout, x, W, s, p)
        return dx, dW, dout.sum(axis=(2, 3))

    def dw_mean(dout, x, W, s, p):
        if x.shape[0] == 1:
            return None
        dx, dW, db = _ref_conv_back(dout, x, W, s, p)
        return dx, dW / x.shape[0], db

    def no_stride(dout, x, W, s, p):
        return _loop_back(dout, x, W, s, p, stride_in_windows=False) if s > 1 else None

    return _run("conv_backward", fn, _ref_conv_back, _back_cases(), [
        (padded, ("dx still has the padding: it is the gradient of the padded input.",
                  "Cut the pad rows and columns off every side: dx = dxp[:, :, pad:pad + H, pad:pad + W].")),
        (flip_dx, ("dx uses the flipped kernel inside the loop.",
                   "In the loop form, each output pixel sends dout[n, f, i, j] * W[f] back to its own window, "
                   "unflipped; the flip only appears when you write dx as one full convolution of dout.")),
        (flip_dw, ("dW is flipped.",
                   "dW[f] collects dout[n, f, i, j] times the window that produced out[n, f, i, j], at the same "
                   "offsets (k, l) as W[f, :, k, l].")),
        (overwrite, ("Where windows overlap, your dx keeps only the last contribution.",
                     "A pixel that lies in several windows receives gradient from each: add (+=), do not "
                     "assign (=).")),
        (db_mean, ("db is a mean; the loss sums over every output pixel, so db sums.",
                   "db[f] = dout[:, f].sum(): over the batch and both spatial axes, no division.")),
        (db_per_image, ("db was not summed over the batch: it has one row per image.",
                        "The same bias is used by every image, so its gradient sums over axis 0 too: "
                        "dout.sum(axis=(0, 2, 3)).")),
        (dw_mean, ("dW is averaged over the batch.",
                   "dout already carries the 1/N of a mean loss; here dW is a plain sum over the images.")),
        (no_stride, ("The stride is missing from your window positions: output (i, j) read rows i*s ... in "
                     "the forward pass.",
                     "Use the same windows as the forward pass: xp[n, :, i*s:i*s + HH, j*s:j*s + WW].")),
    ], parts=("dx", "dW", "db"), crash_hints=[
        ("could not be broadcast",
         ("Two arrays in one line have different shapes: usually a window of the wrong size or dx without "
          "padding.",
          "Accumulate into dxp, shaped like the padded input, and cut the padding off at the end.")),
    ], success="correct: dx, dW and db, with padding, stride and overlapping windows.")


# ------------------------------------------------------------------ max-pool backward
def _ref_pool_back(dout, x, size, stride):
    return _conv.maxpool_backward_naive(dout, x, size, stride)


def _pool_cases():
    rng = np.random.default_rng(12)
    out = []
    for (N, C, H, Wd, k, s) in [(1, 1, 4, 4, 2, 2), (2, 2, 7, 9, 2, 2), (2, 2, 7, 8, 3, 2)]:
        x = rng.integers(0, 3, size=(N, C, H, Wd)).astype(float)         # small integers: many ties
        Ho, Wo = (H - k) // s + 1, (Wd - k) // s + 1
        out.append((rng.normal(size=(N, C, Ho, Wo)), x, k, s))
    return out


def _pool_windows(dout, x, size, stride, rule, assign=False):
    dx = np.zeros_like(x)
    N, C, Ho, Wo = dout.shape
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    r, q = slice(i * stride, i * stride + size), slice(j * stride, j * stride + size)
                    share = rule(x[n, c, r, q]) * dout[n, c, i, j]
                    if assign:
                        dx[n, c, r, q] = np.where(share != 0, share, dx[n, c, r, q])
                    else:
                        dx[n, c, r, q] += share
    return dx


def _first_max(w):
    m = np.zeros_like(w)
    m.flat[np.argmax(w)] = 1.0
    return m


def _last_max(w):
    m = np.zeros_like(w)
    flat = w.ravel()
    m.flat[flat.size - 1 - np.argmax(flat[::-1])] = 1.0
    return m


def maxpool_backward(fn) -> CheckResult:
    """Check ``fn(dout (N, C, H', W'), x (N, C, H, W), size, stride) -> dx (N, C, H, W)``.

    Each ``dout`` element goes whole to the first maximum (row-major) of its window of ``x``;
    overlapping windows add. Recognised mistakes: gradient to every element of the window,
    shared as in average pooling, to all tied maxima, to the last tied maximum, overlapping
    windows overwritten.
    """
    def every(d, x, k, s):
        return _pool_windows(d, x, k, s, np.ones_like)

    def average(d, x, k, s):
        return _pool_windows(d, x, k, s, lambda w: np.ones_like(w) / w.size)

    def all_ties(d, x, k, s):
        return _pool_windows(d, x, k, s, lambda w: (w == w.max()).astype(float))

    def split_ties(d, x, k, s):
        return _pool_windows(d, x, k, s, lambda w: (w == w.max()) / np.sum(w == w.max()))

    def last_tie(d, x, k, s):
        return _pool_windows(d, x, k, s, _last_max)

    def overwrite(d, x, k, s):
        return _pool_windows(d, x, k, s, _first_max, assign=True) if s < k else None

    if callable(fn):
        low = low_precision("maxpool_backward", fn, _ref_pool_back, _pool_cases()[1])
        if low is not None:
            return low
    return _run("maxpool_backward", fn, _ref_pool_back, _pool_cases(), [
        (every, ("You sent the gradient to every element of the window.",
                 "Only the maximum influenced the output, so only it gets dout; the others get 0.")),
        (average, ("You shared the gradient equally over the window: that is average pooling's backward pass.",
                   "Max-pooling passes dout whole to the position of the maximum, nothing to the rest.")),
        (all_ties, ("Where several elements tie for the maximum you sent dout to all of them: the total "
                    "gradient is then counted twice.",
                    "Pick one: np.argmax(window) (the first maximum, row-major) as PyTorch does on the CPU.")),
        (split_ties, ("Where elements tie you split dout among them; PyTorch gives it all to one.",
                      "Use np.argmax(window): the first maximum in row-major order gets all of dout.")),
        (last_tie, ("Ties go to the last maximum in your version; the convention (and PyTorch's) is the first.",
                    "np.argmax returns the first maximum; a `>=` comparison in a loop keeps the last one, use `>`.")),
        (overwrite, ("Where windows overlap (stride < size), your dx keeps only one window's gradient.",
                     "Add (+=): a pixel that is the maximum of two windows receives both gradients.")),
    ], crash_hints=[
        ("could not be broadcast",
         ("Two arrays in one line have different shapes: check the window's slice and the output size.",
          "Window (i, j) is x[n, c, i*stride:i*stride + size, j*stride:j*stride + size]; "
          "dout has (H - size) // stride + 1 rows.")),
    ], success="correct: each gradient goes to its window's first maximum, overlapping windows add up.")


# ------------------------------------------------------------------ flatten size
def _ref_flatten(in_shape, layers):
    return _conv.flatten_size(in_shape, layers)


_ARTICLE = [("conv", 32, 3, 1, 1), ("conv", 64, 3, 1, 1)]
_FIXED = [("conv", 32, 3, 1, 1), ("pool", 2, 2), ("conv", 64, 3, 1, 1), ("pool", 2, 2)]


def _flat_cases():
    return [
        ((1, 28, 28), list(_FIXED)),
        ((1, 28, 28), list(_ARTICLE)),
        ((3, 7, 9), [("conv", 5, 3, 2, 1), ("pool", 2, 2)]),                      # 7 -> 4 -> 2, 9 -> 5 -> 2
        ((1, 13, 13), [("conv", 2, 3, 3, 0), ("pool", 2, 2)]),                    # 13 -> 4 -> 2 (10/3 rounds down)
        ((1, 28, 28), list(_FIXED) + [("pool", 2, 2)]),                          # 7 -> 3
        ((2, 11, 10), [("conv", 4, 5, 3, 0), ("conv", 6, 1, 1, 2)]),              # 11 -> 3 -> 7, 10 -> 2 -> 6
        ((4, 12, 10), [("conv", 6, 3, 1, 1), ("pool", 3, 2)]),                    # a pool whose stride is not its
                                                                                  # kernel: 12 -> 5, 10 -> 4
    ]


def _pool_by_kernel(in_shape, layers):
    """The slip "pooling divides by its kernel" (H // k), right only when stride == kernel."""
    c, h, w = in_shape
    for layer in layers:
        if layer[0] == "conv":
            _, c, k, s, p = layer
            h, w = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
        else:
            h, w = h // layer[1], w // layer[1]
    return c * h * w


def _walk(in_shape, layers, size_fn, *, channels=True):
    c, h, w = in_shape
    for layer in layers:
        if layer[0] == "conv":
            _, f, k, s, p = layer
            c = f if channels else c
            h, w = size_fn(h, k, s, p), size_fn(w, k, s, p)
        else:
            _, k, s = layer
            h, w = size_fn(h, k, s, 0), size_fn(w, k, s, 0)
    return c * h * w


def flatten_size(fn) -> CheckResult:
    """Check ``fn(in_shape (C, H, W), layers) -> int``: the number of features after flatten.

    ``layers``: ``("conv", out_channels, kernel, stride, pad)`` and ``("pool", kernel, stride)``.
    The answer must be an int. Recognised mistakes: float division, rounding up or to the nearest
    instead of down, padding or stride ignored, a pool divided by its kernel (right only when
    its stride equals it), the channels forgotten or kept from the input.
    """
    name = "flatten_size"
    bad = require_function(name, fn, _ref_flatten)
    if bad is not None:
        return bad
    wrongs = [
        (lambda s, L: _walk(s, L, lambda n, k, st, p: (n + 2 * p - k) / st + 1),
         ("Your sizes are not whole numbers: (H + 2p - k) / s is a float division.",
          "A window that does not fit is dropped: use floor division //, (H + 2p - k) // s + 1.")),
        (lambda s, L: _walk(s, L, lambda n, k, st, p: -(-(n + 2 * p - k) // st) + 1),
         ("You rounded up where the size does not divide evenly; PyTorch rounds down (a partial window is "
          "dropped).",
          "Use (H + 2p - k) // s + 1: floor, not ceil.")),
        (lambda s, L: _walk(s, L, lambda n, k, st, p: int(round((n + 2 * p - k) / st)) + 1),
         ("You rounded to the nearest integer; the size formula rounds down.",
          "(H + 2p - k) // s + 1 with integer floor division.")),
        (lambda s, L: _walk(s, L, lambda n, k, st, p: (n - k) // st + 1),
         ("The padding is missing from your size formula.",
          "A conv with pad p sees H + 2p rows: (H + 2p - k) // s + 1.")),
        (lambda s, L: _walk(s, L, lambda n, k, st, p: n + 2 * p - k + 1),
         ("The stride is missing from your size formula (pooling with stride 2 halves the size).",
          "Divide by the stride: (H + 2p - k) // s + 1.")),
        (lambda s, L: _walk(s, L, lambda n, k, st, p: n // st),
         ("You divided the size by the stride only: the kernel and padding change it too.",
          "(H + 2p - k) // s + 1: a 3x3 conv without padding takes 28 to 26.")),
        (_pool_by_kernel,
         ("Your pooling divides the size by its kernel: that is right only when the stride equals the kernel.",
          "A pool is a sliding window too: (H - k) // s + 1 with its own stride s (a 3x3 pool with stride 2 "
          "takes 12 to 5, not 4).")),
        (lambda s, L: _walk((1,) + tuple(s[1:]), L, lambda n, k, st, p: (n + 2 * p - k) // st + 1, channels=False),
         ("You left out the channels: flatten keeps every channel, C * H * W features.",
          "Multiply by the out_channels of the last conv.")),
        (lambda s, L: _walk(s, L, lambda n, k, st, p: (n + 2 * p - k) // st + 1, channels=False),
         ("You kept the input's channels: each conv sets the channel count to its out_channels.",
          "Multiply by the out_channels of the last conv, not by in_shape[0].")),
    ]
    cases, values, first_bad = _flat_cases(), [], None
    for k, (shape, layers) in enumerate(cases, 1):
        where = f"test case {k} (in_shape={shape}, layers={layers})"
        value, err = _call(fn, (tuple(shape), [tuple(layer) for layer in layers]))
        if err:
            if err[0] == "todo":
                return CheckResult(name, "todo", err[1], fn, _ref_flatten)
            return CheckResult(name, "fail", f"{err[1]} on {where}.", fn, _ref_flatten)
        if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.ndarray)) or np.ndim(value) != 0:
            return CheckResult(name, "fail", f"returned {returned(value)}; expected one int on {where}.",
                               fn, _ref_flatten)
        values.append(float(value))
        expected = _ref_flatten(shape, layers)
        right = float(value) == expected and isinstance(value, (numbers.Integral, np.integer))
        if not right and first_bad is None:
            first_bad = (k, where, value, expected)
    if first_bad is None:
        return CheckResult(name, "pass", "correct: floor division at every layer, channels from the last conv.",
                           fn, _ref_flatten)
    k, where, value, expected = first_bad
    # the mistake that explains the answers of *every* case (several agree with floor on some cases)
    for wrong_fn, steps in wrongs:
        predicted = [wrong_fn(shape, layers) for shape, layers in cases]
        # int(...) or round(...) of a float-division result counts as that same mistake
        if all(np.isclose(v, w) or v in (int(w), round(w)) for v, w in zip(values, predicted)) and not np.isclose(predicted[k - 1], expected):
            return CheckResult(name, "fail", f"{steps[0].rstrip('.')}. Seen on {where}: you returned "
                               f"{value!r}.", fn, _ref_flatten, hints=steps[1:])
    if float(value) == expected:
        return CheckResult(name, "fail", f"returned {value!r} ({type(value).__name__}): the number is right but "
                           f"a size must be an int (nn.Linear(in_features, ...) needs one); a float comes "
                           f"from a float division / on {where}.", fn, _ref_flatten,
                           hints=("Integer floor division // keeps ints, and it is also what drops a "
                                  "partial window when a size does not divide evenly.",))
    return CheckResult(name, "fail", f"returned {value!r}, which is not the right size on {where}.",
                       fn, _ref_flatten,
                       hints=("Follow (C, H, W) layer by layer and write it down after each one; "
                              "which layer first gives a different size?",))
