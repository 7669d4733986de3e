"""Checkers for notebook 06 (the numpy MLP in PyTorch). PyTorch is imported inside each checker."""

from __future__ import annotations

import copy

import numpy as np

from .._validate import describe
from ._core import TODO_MESSAGE, CheckResult

__all__ = ["affine_module", "train_step", "evaluate_accuracy"]


def _run(fn, *args):
    """Call the learner's code; (value, None) or (None, (status, message))."""
    try:
        return fn(*args), None
    except NotImplementedError:
        return None, ("todo", TODO_MESSAGE)
    except Exception as exc:  # report kindly
        return None, ("fail", f"your code raised {type(exc).__name__}: {exc}")


# ------------------------------------------------------------------------ port a layer
def _reference_affine_class():
    import torch
    from torch import nn

    class Affine(nn.Module):
        """``x @ W + b`` with ``W: (d, h)`` and ``b: (h,)``, as nblib.layers.affine_forward."""

        def __init__(self, d, h):
            super().__init__()
            self.W = nn.Parameter(torch.randn(d, h) * (2.0 / d) ** 0.5)
            self.b = nn.Parameter(torch.zeros(h))

        def forward(self, x):
            return x @ self.W + self.b

    Affine.__module__, Affine.__qualname__ = __name__, "Affine"
    return Affine


def affine_module(cls) -> CheckResult:
    """Check ``cls(d, h)``: an ``nn.Module`` with parameters ``W`` (d, h) and ``b`` (h,)
    whose forward is ``x @ W + b`` (our ``affine_forward``), gradients by autograd.

    Verified in float64 against :func:`nblib.layers.affine_forward` / ``affine_backward``.
    Recognised mistakes: plain tensors instead of ``nn.Parameter`` (the optimizer would see
    nothing), ``W`` stored as (h, d), a missing bias.
    """
    import torch
    from torch import nn

    from .. import layers

    name = "affine_module"
    ref = _reference_affine_class()
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        return CheckResult(name, "fail", f"expected a class (a subclass of nn.Module), got {describe(cls)}. "
                           "Pass the class itself, without creating an instance: check.affine_module(Affine)",
                           cls, ref)
    d, h = 5, 3
    module, err = _run(cls, d, h)
    if err:
        return CheckResult(name, err[0], err[1], cls, ref)
    params = dict(module.named_parameters())
    if not params:
        return CheckResult(name, "fail", "your module has no parameters: model.parameters() is empty, so an "
                           "optimizer would never update anything. Wrap W and b in nn.Parameter(...)", cls, ref)
    for pname, shape in (("W", (d, h)), ("b", (h,))):
        t = getattr(module, pname, None)
        if t is None:
            return CheckResult(name, "fail", f"no attribute self.{pname}; store the weights as self.W (d, h) and "
                               f"the bias as self.b (h,)", cls, ref)
        if not isinstance(t, nn.Parameter):
            return CheckResult(name, "fail", f"self.{pname} is a plain tensor, not an nn.Parameter, so it is not "
                               f"in model.parameters() and the optimizer would skip it. Use "
                               f"nn.Parameter(torch.zeros(...))", cls, ref)
        if tuple(t.shape) != shape:
            hint = " (that is nn.Linear's layout; here we keep our numpy layout (d, h), so x @ W works)" \
                if tuple(t.shape) == shape[::-1] else ""
            return CheckResult(name, "fail", f"self.{pname} has shape {tuple(t.shape)}, expected {shape} for "
                               f"Affine({d}, {h}){hint}", cls, ref)
    rng = np.random.default_rng(3)
    x, W, b = rng.normal(size=(4, d)), rng.normal(size=(d, h)), rng.normal(size=h)
    dout = rng.normal(size=(4, h))
    module = module.double()
    with torch.no_grad():
        module.W.copy_(torch.as_tensor(W))
        module.b.copy_(torch.as_tensor(b))
    xt = torch.tensor(x, requires_grad=True)
    out, err = _run(module, xt)
    if err:
        return CheckResult(name, err[0], err[1], cls, ref)
    expected, cache = layers.affine_forward(x, W, b)
    got = out.detach().numpy()
    if got.shape != expected.shape:
        return CheckResult(name, "fail", f"forward returned shape {got.shape}, expected {expected.shape} for x of "
                           f"shape {x.shape}", cls, ref)
    if not np.allclose(got, expected, atol=1e-12):
        if np.allclose(got, x @ W, atol=1e-12):
            return CheckResult(name, "fail", "forward ignores the bias: return x @ self.W + self.b", cls, ref)
        return CheckResult(name, "fail", "forward does not compute x @ W + b (compare with affine_forward)", cls, ref)
    out.backward(torch.as_tensor(dout))
    dx, dW, db = layers.affine_backward(dout, cache)
    def agrees(t, ref):
        return t.grad is not None and np.allclose(t.grad.numpy(), ref, atol=1e-12)

    if not (agrees(xt, dx) and agrees(module.W, dW) and agrees(module.b, db)):
        return CheckResult(name, "fail", "the forward values are right but autograd's gradients differ from "
                           "affine_backward: did you detach or modify a tensor in place?", cls, ref)
    return CheckResult(name, "pass", "correct: two registered parameters, and autograd's dx, dW, db equal "
                       "affine_backward's to 1e-12. No backward to write: that is what autograd buys you.", cls, ref)


# ------------------------------------------------------------------------ the training step
def _ref_train_step(model, optimizer, loss_fn, X, y):
    optimizer.zero_grad()
    loss = loss_fn(model(X), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def _wrong_steps():
    def no_zero_grad(model, optimizer, loss_fn, X, y):
        loss = loss_fn(model(X), y)
        loss.backward()
        optimizer.step()
        return loss.item()

    def zero_before_step(model, optimizer, loss_fn, X, y):
        loss = loss_fn(model(X), y)
        loss.backward()
        optimizer.zero_grad()
        optimizer.step()
        return loss.item()

    return [
        (no_zero_grad, "the gradients were never reset, so from the second step on each update used the sum of "
                       "all gradients so far. Start the step with optimizer.zero_grad()"),
        (zero_before_step, "the parameters never changed: step() found no gradients. Either zero_grad() ran "
                           "between backward() and step(), or step() came before backward(). The order is "
                           "zero_grad, forward, loss, backward, step"),
    ]


def train_step(fn) -> CheckResult:
    """Check ``fn(model, optimizer, loss_fn, X, y) -> float``: one training step, returning the loss.

    Runs three steps of the learner's function and of the reference on identical copies of a
    small float64 model (SGD with momentum) and compares the parameters after each step and
    the returned losses. Recognised mistakes: ``zero_grad`` missing; no update at all (``zero_grad`` between
    ``backward`` and ``step``, or ``step`` before ``backward``); returning the tensor.
    """
    import torch
    from torch import nn

    name = "train_step"
    if not callable(fn):
        return CheckResult(name, "fail", f"expected a function, got {describe(fn)}. Pass the function itself, "
                           "without calling it: check.train_step(my_train_step)",
                           fn, _ref_train_step)

    def trajectory(step_fn):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)).double()
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        g = torch.Generator().manual_seed(1)
        X, y = torch.randn(8, 3, generator=g, dtype=torch.float64), torch.randint(0, 2, (8,), generator=g)
        params, losses = [], []
        for _ in range(3):
            losses.append(step_fn(model, opt, nn.functional.cross_entropy, X, y))
            params.append([p.detach().clone() for p in model.parameters()])
        return params, losses

    result, err = _run(trajectory, fn)
    if err:
        return CheckResult(name, err[0], err[1], fn, _ref_train_step)
    params, losses = result
    ref_params, ref_losses = trajectory(_ref_train_step)

    def same(a, b):
        return all(torch.allclose(x, y, atol=1e-12) for x, y in zip(a, b))

    if all(same(p, q) for p, q in zip(params, ref_params)):
        if isinstance(losses[0], torch.Tensor):
            return CheckResult(name, "fail", "the updates are right, but return loss.item() (a float), not the "
                               "tensor: keeping tensors keeps their whole graph in memory", fn, _ref_train_step)
        if not np.allclose(np.asarray(losses, dtype=float), ref_losses, atol=1e-12):
            return CheckResult(name, "fail", "the updates are right, but return the loss of this step's forward "
                               "pass (loss.item())", fn, _ref_train_step)
        return CheckResult(name, "pass", "correct: zero_grad, forward, loss, backward, step, in this order, "
                           "three steps matching the reference to 1e-12.", fn, _ref_train_step)
    for wrong, hint in _wrong_steps():
        w_params, _ = trajectory(wrong)
        if all(same(p, q) for p, q in zip(params, w_params)):
            return CheckResult(name, "fail", hint, fn, _ref_train_step)
    first_bad = next(i for i, (p, q) in enumerate(zip(params, ref_params), 1) if not same(p, q))
    return CheckResult(name, "fail", f"after step {first_bad} the parameters differ from the reference. "
                       f"The five lines: optimizer.zero_grad(); out = model(X); loss = loss_fn(out, y); "
                       f"loss.backward(); optimizer.step()", fn, _ref_train_step)


# ------------------------------------------------------------------------ evaluation
def _ref_evaluate(model, X, y):
    import torch

    model.eval()
    with torch.no_grad():
        pred = model(X).argmax(dim=1)
    return (pred == y).float().mean().item()


def evaluate_accuracy(fn) -> CheckResult:
    """Check ``fn(model, X, y) -> float``: accuracy of ``model`` on ``(X, y)``, computed in
    ``eval()`` mode under ``torch.no_grad()``.

    A forward hook records whether gradients were being tracked and whether the model was in
    training mode while the learner's function ran it.
    """
    import torch
    from torch import nn

    name = "evaluate_accuracy"
    if not callable(fn):
        return CheckResult(name, "fail", f"expected a function, got {describe(fn)}. Pass the function itself, "
                           "without calling it: check.evaluate_accuracy(my_evaluate)",
                           fn, _ref_evaluate)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Dropout(0.5), nn.Linear(6, 3))
    X, y = torch.randn(50, 4), torch.randint(0, 3, (50,))
    seen = []
    hook = model.register_forward_hook(lambda m, i, o: seen.append((torch.is_grad_enabled(), m.training)))
    model.train()
    try:
        value, err = _run(fn, model, X, y)
    finally:
        hook.remove()
    if err:
        return CheckResult(name, err[0], err[1], fn, _ref_evaluate)
    if not seen:
        return CheckResult(name, "fail", "your function never called the model", fn, _ref_evaluate)
    if any(grad for grad, _ in seen):
        return CheckResult(name, "fail", "the model ran with gradient tracking on: wrap the forward pass in "
                           "`with torch.no_grad():` (no graph is built, less memory, faster)", fn, _ref_evaluate)
    if any(training for _, training in seen):
        return CheckResult(name, "fail", "the model was still in training mode, so dropout was active and the "
                           "accuracy is random. Call model.eval() before evaluating", fn, _ref_evaluate)
    if isinstance(value, torch.Tensor):
        value = value.item() if value.numel() == 1 else value
    try:
        value = float(value)
    except (TypeError, ValueError):
        return CheckResult(name, "fail", f"return the accuracy as a float, got {type(value).__name__}",
                           fn, _ref_evaluate)
    expected = _ref_evaluate(copy.deepcopy(model), X, y)
    if abs(value - 100 * expected) < 1e-6 and expected:
        return CheckResult(name, "fail", "return a fraction in [0, 1], not a percentage", fn, _ref_evaluate)
    if abs(value - expected) > 1e-6:
        return CheckResult(name, "fail", f"returned {value:.4f}, expected {expected:.4f}: the prediction is the "
                           f"argmax over the class axis (dim=1), compared with y", fn, _ref_evaluate)
    return CheckResult(name, "pass", "correct: eval() mode, no graph built, argmax over classes.", fn, _ref_evaluate)
