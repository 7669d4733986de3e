"""Checkers of notebook 10: wrong answers a learner would write (each rejected with its hint),
correct answers written differently (accepted), stubs ("not implemented yet")."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nblib import conv as C
from nblib.check import conv as cc


def _stub(*args):
    raise NotImplementedError()


def _fails_with(result, *needles):
    assert result.status == "fail", f"accepted a wrong answer: {result!r}"
    for needle in needles:
        assert needle in result.message, f"{needle!r} not in: {result.message}"
    return result


# ------------------------------------------------------------------ conv forward
def _conv_loops(x, W, b, stride, pad, *, flip=False, pad_sides=None, out_size=None, bias=True,
                channels=None, mean=False, col_stride=None):
    N, Cc, H, Wd = x.shape
    F_, _, HH, WW = W.shape
    top, bottom = pad_sides or (pad, pad)
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (top, bottom)))
    Ho, Wo = out_size(H, Wd, HH, WW, stride, pad) if out_size else (
        (H + 2 * pad - HH) // stride + 1, (Wd + 2 * pad - WW) // stride + 1)
    cs = stride if col_stride is None else col_stride
    if col_stride is not None:
        Wo = (Wd + 2 * pad - WW) // cs + 1
    out = np.zeros((N, F_, Ho, Wo))
    K = W[:, :, ::-1, ::-1] if flip else W
    c = slice(None) if channels is None else slice(0, channels)
    for n in range(N):
        for f in range(F_):
            for i in range(Ho):
                for j in range(Wo):
                    win = xp[n, c, i * stride:i * stride + HH, j * cs:j * cs + WW]
                    v = np.sum(win * K[f, c])
                    if mean:
                        v = v / K[f].size
                    out[n, f, i, j] = v + (b[f] if bias else 0)
    return out


def test_conv_forward_accepts_correct_answers():
    assert cc.conv_forward(C.conv_forward_naive).passed
    assert cc.conv_forward(_conv_loops).passed

    def torch_version(x, W, b, stride, pad):
        return F.conv2d(torch.tensor(x), torch.tensor(W), torch.tensor(b), stride=stride, padding=pad).numpy()
    assert cc.conv_forward(torch_version).passed

    def vectorised_over_batch(x, W, b, stride, pad):            # another loop order, einsum per position
        xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        HH, WW = W.shape[2:]
        Ho, Wo = (xp.shape[2] - HH) // stride + 1, (xp.shape[3] - WW) // stride + 1
        return np.array([[[np.einsum("nckl,fckl->nf", xp[:, :, i * stride:i * stride + HH,
                                                         j * stride:j * stride + WW], W) + b
                           for j in range(Wo)] for i in range(Ho)]]).squeeze(0).transpose(2, 3, 0, 1)
    assert cc.conv_forward(vectorised_over_batch).passed
    assert cc.conv_forward(_stub).status == "todo"


def test_conv_forward_rejects_wrong_answers():
    _fails_with(cc.conv_forward(lambda *a: _conv_loops(*a, flip=True)), "flipped the kernel")
    _fails_with(cc.conv_forward(lambda x, W, b, s, p: _conv_loops(x, W, b, s, p, pad_sides=(p, 0),
                out_size=lambda H, Wd, HH, WW, s_, p_: ((H + p_ - HH) // s_ + 1, (Wd + p_ - WW) // s_ + 1))),
                "one side only")
    _fails_with(cc.conv_forward(lambda x, W, b, s, p: _conv_loops(x, W, b, s, p, pad_sides=(0, 2 * p))),
                "all on one side")
    # stride ignored in the output size (windows run off the image: numpy cannot broadcast)
    r = _fails_with(cc.conv_forward(lambda *a: _conv_loops(
        *a, out_size=lambda H, Wd, HH, WW, s, p: (H + 2 * p - HH + 1, Wd + 2 * p - WW + 1))), "too many rows")
    assert r.hints and "stride" in r.hints[0]
    # stride ignored everywhere
    _fails_with(cc.conv_forward(lambda x, W, b, s, p: _conv_loops(x, W, b, 1, p)), "ignored the stride")
    # float division in the output size
    _fails_with(cc.conv_forward(lambda *a: _conv_loops(
        *a, out_size=lambda H, Wd, HH, WW, s, p: ((H + 2 * p - HH) / s + 1, (Wd + 2 * p - WW) / s + 1))),
        "float division")
    # rounding the output size up
    _fails_with(cc.conv_forward(lambda *a: _conv_loops(
        *a, out_size=lambda H, Wd, HH, WW, s, p: (-(-(H + 2 * p - HH) // s) + 1, -(-(Wd + 2 * p - WW) // s) + 1))),
        "too many rows")
    _fails_with(cc.conv_forward(lambda *a: _conv_loops(
        *a, out_size=lambda H, Wd, HH, WW, s, p: ((H - HH) // s + 1, (Wd - WW) // s + 1))), "too few rows")
    _fails_with(cc.conv_forward(lambda *a: _conv_loops(*a, bias=False)), "bias is missing")
    _fails_with(cc.conv_forward(lambda *a: _conv_loops(*a, channels=1)), "first input channel")
    _fails_with(cc.conv_forward(lambda *a: _conv_loops(*a, mean=True)), "averaged")
    _fails_with(cc.conv_forward(lambda x, W, b, s, p: _conv_loops(x, W, b, s, p, col_stride=1)),
                "rows but not to the columns")
    _fails_with(cc.conv_forward(lambda x, W, b, s, p: None), "no `return`")
    _fails_with(cc.conv_forward(lambda x, W, b, s, p: (_conv_loops(x, W, b, s, p), (x, W))), "returns only the array")
    _fails_with(cc.maxpool_backward(lambda *a: (_pool_loops(*a),)), "returns only the array")
    _fails_with(cc.conv_forward(lambda x, W, b, s, p: _conv_loops(x, W, b, s, p)[0]), "shape")


def test_conv_forward_in_place_change_is_named():
    def sloppy(x, W, b, s, p):
        x -= 0.0
        x[...] = x * 1.0 + 1.0
        return C.conv_forward_naive(x - 1.0, W, b, s, p)
    _fails_with(cc.conv_forward(sloppy), "in place")


# ------------------------------------------------------------------ conv backward
def _back_loops(dout, x, W, stride, pad, *, keep_pad=False, flip_dx=False, flip_dw=False, assign=False,
                db="sum", dw_mean=False, win_stride=None):
    N, Cc, H, Wd = x.shape
    F_, _, HH, WW = W.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp, dW = np.zeros_like(xp), np.zeros_like(W)
    s = stride if win_stride is None else win_stride
    K = W[:, :, ::-1, ::-1] if flip_dx else W
    for n in range(N):
        for f in range(F_):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    r, c = slice(i * s, i * s + HH), slice(j * s, j * s + WW)
                    dW[f] += dout[n, f, i, j] * xp[n, :, r, c]
                    if assign:
                        dxp[n, :, r, c] = dout[n, f, i, j] * K[f]
                    else:
                        dxp[n, :, r, c] += dout[n, f, i, j] * K[f]
    dx = dxp if keep_pad else dxp[:, :, pad:pad + H, pad:pad + Wd]
    if flip_dw:
        dW = dW[:, :, ::-1, ::-1]
    if dw_mean:
        dW = dW / N
    dbv = {"sum": dout.sum(axis=(0, 2, 3)), "mean": dout.mean(axis=(0, 2, 3)), "per image": dout.sum(axis=(2, 3)),
           "spatial": dout.sum(axis=0)}[db]
    return dx, dW, dbv


def test_conv_backward_accepts_correct_answers():
    assert cc.conv_backward(C.conv_backward_naive).passed
    assert cc.conv_backward(_back_loops).passed

    def autograd(dout, x, W, stride, pad):
        xt, Wt = torch.tensor(x, requires_grad=True), torch.tensor(W, requires_grad=True)
        bt = torch.zeros(W.shape[0], dtype=torch.float64, requires_grad=True)
        F.conv2d(xt, Wt, bt, stride=stride, padding=pad).backward(torch.tensor(dout))
        return [xt.grad.numpy(), Wt.grad.numpy(), bt.grad.numpy()]      # a list is fine too
    assert cc.conv_backward(autograd).passed
    assert cc.conv_backward(C.conv2d_backward).passed
    assert cc.conv_backward(_stub).status == "todo"


def test_conv_backward_rejects_wrong_answers():
    _fails_with(cc.conv_backward(lambda *a: _back_loops(*a, keep_pad=True)), "still has the padding")
    _fails_with(cc.conv_backward(lambda *a: _back_loops(*a, flip_dx=True)), "dx uses the flipped kernel")
    _fails_with(cc.conv_backward(lambda *a: _back_loops(*a, flip_dw=True)), "dW is flipped")
    _fails_with(cc.conv_backward(lambda *a: _back_loops(*a, assign=True)), "keeps only the last")
    _fails_with(cc.conv_backward(lambda *a: _back_loops(*a, db="mean")), "db is a mean")
    _fails_with(cc.conv_backward(lambda *a: _back_loops(*a, db="per image")), "not summed over the batch")
    _fails_with(cc.conv_backward(lambda *a: _back_loops(*a, db="spatial")), "db has shape")
    _fails_with(cc.conv_backward(lambda *a: _back_loops(*a, dw_mean=True)), "averaged over the batch")
    _fails_with(cc.conv_backward(lambda *a: _back_loops(*a, win_stride=1)), "stride is missing")
    _fails_with(cc.conv_backward(lambda *a: _back_loops(*a)[:2]), "tuple of 3 arrays")
    r = _fails_with(cc.conv_backward(lambda *a: (_back_loops(*a)[0] * 2,) + _back_loops(*a)[1:]), "dx differs")
    assert "dW, db are right" in r.message


# ------------------------------------------------------------------ max-pool backward
def _pool_loops(dout, x, size, stride, *, rule="first", assign=False):
    dx = np.zeros_like(x)
    N, Cc, Ho, Wo = dout.shape
    for n in range(N):
        for c in range(Cc):
            for i in range(Ho):
                for j in range(Wo):
                    r0, c0 = i * stride, j * stride
                    win = x[n, c, r0:r0 + size, c0:c0 + size]
                    g = dout[n, c, i, j]
                    if rule == "first":
                        best, pos = -np.inf, None
                        for a in range(size):
                            for b in range(size):
                                if win[a, b] > best:
                                    best, pos = win[a, b], (a, b)
                        positions = [pos]
                    elif rule == "last":
                        best, pos = -np.inf, None
                        for a in range(size):
                            for b in range(size):
                                if win[a, b] >= best:
                                    best, pos = win[a, b], (a, b)
                        positions = [pos]
                    elif rule == "all ties":
                        positions = list(zip(*np.nonzero(win == win.max())))
                    elif rule == "every":
                        positions = [(a, b) for a in range(size) for b in range(size)]
                    for a, b in positions:
                        if assign:
                            dx[n, c, r0 + a, c0 + b] = g
                        else:
                            dx[n, c, r0 + a, c0 + b] += g
    return dx


def test_maxpool_backward_accepts_correct_answers():
    assert cc.maxpool_backward(C.maxpool_backward_naive).passed
    assert cc.maxpool_backward(_pool_loops).passed

    def autograd(dout, x, size, stride):
        xt = torch.tensor(x, requires_grad=True)
        F.max_pool2d(xt, size, stride).backward(torch.tensor(dout))
        return xt.grad
    assert cc.maxpool_backward(autograd).passed                 # a tensor is accepted too
    assert cc.maxpool_backward(C.maxpool2d_backward).passed
    assert cc.maxpool_backward(_stub).status == "todo"


def test_maxpool_backward_rejects_wrong_answers():
    _fails_with(cc.maxpool_backward(lambda *a: _pool_loops(*a, rule="every")), "every element")
    _fails_with(cc.maxpool_backward(lambda d, x, k, s: _pool_loops(d / (k * k), x, k, s, rule="every")),
                "average pooling")
    _fails_with(cc.maxpool_backward(lambda *a: _pool_loops(*a, rule="all ties")), "all of them")
    _fails_with(cc.maxpool_backward(lambda *a: _pool_loops(*a, rule="last")), "last maximum")
    _fails_with(cc.maxpool_backward(lambda *a: _pool_loops(*a, assign=True)), "keeps only one window")

    def split(d, x, k, s):
        dx = np.zeros_like(x)
        for i in range(d.shape[2]):
            for j in range(d.shape[3]):
                win = x[:, :, i * s:i * s + k, j * s:j * s + k]
                mask = win == win.max(axis=(2, 3), keepdims=True)
                dx[:, :, i * s:i * s + k, j * s:j * s + k] += mask / mask.sum(axis=(2, 3), keepdims=True) * \
                    d[:, :, i:i + 1, j:j + 1]
        return dx
    _fails_with(cc.maxpool_backward(split), "split dout")
    _fails_with(cc.maxpool_backward(lambda d, x, k, s: np.repeat(np.repeat(d, k, 2), k, 3)), "shape")

    def wrong_unravel(d, x, k, s):                       # divmod by the stride, not the window width
        dx = np.zeros_like(x)
        for n in range(d.shape[0]):
            for c in range(d.shape[1]):
                for i in range(d.shape[2]):
                    for j in range(d.shape[3]):
                        a, b = divmod(int(np.argmax(x[n, c, i * s:i * s + k, j * s:j * s + k])), s)
                        dx[n, c, min(i * s + a, x.shape[2] - 1), min(j * s + b, x.shape[3] - 1)] += d[n, c, i, j]
        return dx
    _fails_with(cc.maxpool_backward(wrong_unravel))


# ------------------------------------------------------------------ flatten size
def _flat(in_shape, layers, size=lambda n, k, s, p: (n + 2 * p - k) // s + 1, channels="last"):
    c, h, w = in_shape
    for layer in layers:
        if layer[0] == "conv":
            _, f, k, s, p = layer
            c = f if channels == "last" else c
        else:
            (_, k, s), p = layer, 0
        h, w = size(h, k, s, p), size(w, k, s, p)
    return (1 if channels == "none" else c) * h * w


def test_flatten_size_accepts_correct_answers():
    assert cc.flatten_size(C.flatten_size).passed
    assert cc.flatten_size(_flat).passed

    def by_torch(in_shape, layers):                     # build the layers and run a zero image through them
        x = torch.zeros(1, *in_shape)
        for layer in layers:
            if layer[0] == "conv":
                x = torch.nn.Conv2d(x.shape[1], layer[1], layer[2], layer[3], layer[4])(x)
            else:
                x = torch.nn.MaxPool2d(layer[1], layer[2])(x)
        return x[0].numel()
    assert cc.flatten_size(by_torch).passed
    assert cc.flatten_size(lambda s, L: np.int64(_flat(s, L))).passed
    assert cc.flatten_size(_stub).status == "todo"


def test_flatten_size_rejects_wrong_answers():
    _fails_with(cc.flatten_size(lambda s, L: _flat(s, L, size=lambda n, k, st, p: (n + 2 * p - k) / st + 1)),
                "float division")
    _fails_with(cc.flatten_size(lambda s, L: int(_flat(s, L, size=lambda n, k, st, p: (n + 2 * p - k) / st + 1))),
                "float division")
    import math
    _fails_with(cc.flatten_size(lambda s, L: _flat(s, L, size=lambda n, k, st, p: math.ceil((n + 2 * p - k) / st) + 1)),
                "rounded up")
    _fails_with(cc.flatten_size(lambda s, L: _flat(s, L, size=lambda n, k, st, p: round((n + 2 * p - k) / st) + 1)),
                "nearest")
    _fails_with(cc.flatten_size(lambda s, L: _flat(s, L, size=lambda n, k, st, p: (n - k) // st + 1)), "padding")
    _fails_with(cc.flatten_size(lambda s, L: _flat(s, L, size=lambda n, k, st, p: n + 2 * p - k + 1)), "stride")
    _fails_with(cc.flatten_size(lambda s, L: _flat(s, L, channels="none")), "left out the channels")
    _fails_with(cc.flatten_size(lambda s, L: _flat(s, L, channels="input")), "input's channels")
    _fails_with(cc.flatten_size(lambda s, L: float(_flat(s, L))), "must be an int", "float division")
    _fails_with(cc.flatten_size(lambda s, L: (64, 7, 7)), "expected one int")


@pytest.mark.parametrize("checker", [cc.conv_forward, cc.conv_backward, cc.maxpool_backward, cc.flatten_size])
def test_checkers_never_raise_and_say_what_came(checker):
    r = checker(42)
    assert r.status == "fail" and "int 42" in r.message
    r = checker(lambda *a: 1 / 0)
    assert r.status == "fail" and "ZeroDivisionError" in r.message


def test_hints_come_in_steps_through_the_wrapper():
    from nblib import check
    wrong = lambda *a: _pool_loops(*a, rule="every")            # noqa: E731
    first = check.maxpool_backward(wrong)
    second = check.maxpool_backward(wrong)
    assert "every element" in first.message
    assert first.message != second.message and "Only the maximum" in repr(second)
