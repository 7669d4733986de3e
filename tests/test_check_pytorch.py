"""Checkers of notebook 06: each accepts the reference and a correct answer written differently,
rejects plausible wrong answers with the right first hint (and a further step), and says
"not implemented yet" to a stub. Two misleading messages of the past are kept as tests: torch's
own NotImplementedError (swapped loss arguments) is not "not implemented yet", and a missing
``optimizer.step()`` is not reported as a zero_grad ordering problem."""

import math

import pytest
import torch
import torch.nn as nn

from nblib.check import pytorch as C
from nblib.check.pytorch import _ref_evaluate, _ref_fit, _ref_train_step, _reference_affine_class


@pytest.fixture(autouse=True)
def float64_default():
    """The notebook sets float64 as torch's default dtype; the checkers see what the notebook sees."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _stub(*args, **kwargs):
    raise NotImplementedError()


def _fails(r, first, later=None):
    assert r.status == "fail", r
    assert first in r.message, r.message
    if later is not None:
        assert any(later in h for h in r.hints), r.hints


# ------------------------------------------------------------------------ affine_module
def _affine(init="he", dtype=torch.float64, bias="zeros", forward="ok", param=True, layout="dh"):
    class Affine(nn.Module):
        def __init__(self, d, h):
            super().__init__()
            shape = (d, h) if layout == "dh" else (h, d)
            std = {"he": math.sqrt(2 / d), "one": 1.0, "lecun": math.sqrt(1 / d), "fan_h": math.sqrt(2 / h),
                   "variance": 2 / d, "glorot": math.sqrt(2 / (d + h))}[init]
            W = torch.randn(*shape, dtype=dtype) * std
            b = torch.zeros(h, dtype=dtype) if bias == "zeros" else torch.randn(h, dtype=dtype)
            if param:
                self.W, self.b = nn.Parameter(W), nn.Parameter(b)
            else:
                self.W, self.b = W, b

        def forward(self, x):
            if forward == "nobias":
                return x @ self.W
            if forward == "detached":
                return x @ self.W.detach() + self.b
            if forward == "transposed":
                return x @ self.W.T + self.b
            return x @ self.W + self.b
    return Affine


def test_affine_accepts_reference_and_alternatives():
    assert C.affine_module(_reference_affine_class()).passed

    class Kaiming(nn.Module):        # another correct form: nn.init with the right fan, torch.addmm
        def __init__(self, d, h):
            super().__init__()
            self.W = nn.Parameter(torch.empty(d, h, dtype=torch.float64))
            nn.init.kaiming_normal_(self.W, mode="fan_out", nonlinearity="relu")   # fan_out of (d, h) is d
            self.b = nn.Parameter(torch.zeros(h, dtype=torch.float64))

        def forward(self, x):
            return torch.addmm(self.b, x, self.W)
    r = C.affine_module(Kaiming)
    assert r.passed, r.message

    class Uniform(nn.Module):        # He with a uniform distribution: U(-√(6/d), √(6/d)) has std √(2/d)
        def __init__(self, d, h):
            super().__init__()
            bound = math.sqrt(6 / d)
            self.W = nn.Parameter(torch.empty(d, h).uniform_(-bound, bound))   # default dtype float64
            self.b = nn.Parameter(torch.zeros(h))

        def forward(self, x):
            return torch.einsum("nd,dh->nh", x, self.W) + self.b
    assert C.affine_module(Uniform).passed


@pytest.mark.parametrize("kwargs, first, later", [
    ({"dtype": torch.float32}, "self.W is float32", "dtype=torch.float64"),
    ({"init": "one"}, "std 1: torch.randn without the He factor", "(2.0 / d) ** 0.5"),
    ({"init": "lecun"}, "std √(1/d)", "(2.0 / d) ** 0.5"),
    ({"init": "fan_h"}, "the fan-in of W (d, h) is d", "(2.0 / d) ** 0.5"),
    ({"init": "variance"}, "that is He's variance", "(2.0 / d) ** 0.5"),
    ({"init": "glorot"}, "Glorot", None),
    ({"bias": "randn"}, "the bias should start at zeros", None),
    ({"param": False}, "no parameters", "nn.Parameter"),
    ({"layout": "hd", "forward": "transposed"}, "nn.Linear's layout", None),
    ({"forward": "nobias"}, "ignores the bias", None),
    ({"forward": "detached"}, "autograd's gradients differ", None),
])
def test_affine_names_mistakes(kwargs, first, later):
    _fails(C.affine_module(_affine(**kwargs)), first, later)


def test_affine_kaiming_normal_with_torchs_default_fan_is_named():
    class Kaiming(nn.Module):
        def __init__(self, d, h):
            super().__init__()
            self.W = nn.Parameter(torch.empty(d, h))
            nn.init.kaiming_normal_(self.W, nonlinearity="relu")       # fan_in = size(1) = h: wrong here
            self.b = nn.Parameter(torch.zeros(h))

        def forward(self, x):
            return x @ self.W + self.b
    _fails(C.affine_module(Kaiming), "kaiming_normal_ on a (d, h) tensor takes size(1) = h")


def test_affine_float32_default_dtype_is_caught():
    """A learner relying on torch's float32 default (a notebook without set_default_dtype)."""
    torch.set_default_dtype(torch.float32)

    class Default(nn.Module):
        def __init__(self, d, h):
            super().__init__()
            self.W = nn.Parameter(torch.randn(d, h) * (2 / d) ** 0.5)
            self.b = nn.Parameter(torch.zeros(h))

        def forward(self, x):
            return x @ self.W + self.b
    _fails(C.affine_module(Default), "is float32")


def test_affine_stub_is_todo_and_a_function_is_refused():
    class Stub(nn.Module):
        def __init__(self, d, h):
            super().__init__()
            raise NotImplementedError()
    r = C.affine_module(Stub)
    assert r.status == "todo" and "not implemented yet" in r.message
    assert C.affine_module(lambda d, h: None).status == "fail"


# ---------------------------------------------------------------------------- train_step
def test_train_step_accepts_reference_and_alternative():
    assert C.train_step(_ref_train_step).passed

    def alt(model, optimizer, loss_fn, X, y):        # model.zero_grad and float(): also correct
        model.zero_grad()
        loss = loss_fn(model(X), y)
        loss.backward()
        optimizer.step()
        return float(loss.detach())
    r = C.train_step(alt)
    assert r.passed, r.message


def test_train_step_zero_grad_only_at_the_end_depends_on_leftover_gradients():
    def at_the_end(model, optimizer, loss_fn, X, y):   # the exercise: reset first
        loss = loss_fn(model(X), y)
        loss.backward()
        optimizer.step()
        value = float(loss.detach())
        model.zero_grad()
        return value
    r = C.train_step(at_the_end)
    assert r.status == "fail" and "only after the update" in r.message, r.message


def _no_zero(model, optimizer, loss_fn, X, y):
    loss = loss_fn(model(X), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def _zero_between(model, optimizer, loss_fn, X, y):
    loss = loss_fn(model(X), y)
    loss.backward()
    optimizer.zero_grad()
    optimizer.step()
    return loss.item()


def _step_first(model, optimizer, loss_fn, X, y):
    optimizer.zero_grad()
    loss = loss_fn(model(X), y)
    optimizer.step()
    loss.backward()
    return loss.item()


def _no_step(model, optimizer, loss_fn, X, y):
    optimizer.zero_grad()
    loss = loss_fn(model(X), y)
    loss.backward()
    return loss.item()


def _no_backward(model, optimizer, loss_fn, X, y):
    optimizer.zero_grad()
    loss = loss_fn(model(X), y)
    optimizer.step()
    return loss.item()


def _returns_tensor(model, optimizer, loss_fn, X, y):
    optimizer.zero_grad()
    loss = loss_fn(model(X), y)
    loss.backward()
    optimizer.step()
    return loss


def _double_step(model, optimizer, loss_fn, X, y):
    loss = _ref_train_step(model, optimizer, loss_fn, X, y)
    optimizer.step()
    return loss


def _swapped(model, optimizer, loss_fn, X, y):
    optimizer.zero_grad()
    loss = loss_fn(y, model(X))
    loss.backward()
    optimizer.step()
    return loss.item()


def _loss_after(model, optimizer, loss_fn, X, y):
    _ref_train_step(model, optimizer, loss_fn, X, y)
    with torch.no_grad():
        return loss_fn(model(X), y).item()


@pytest.mark.parametrize("fn, first, later", [
    (_no_zero, "the gradients were never reset", "optimizer.zero_grad()"),
    (_zero_between, "zero_grad() ran between backward() and step()", "zero_grad, forward, loss, backward, step"),
    (_step_first, "optimizer.step() ran before loss.backward()", "zero_grad, forward, loss, backward, step"),
    (_no_step, "optimizer.step() is missing", "optimizer.step()"),
    (_no_backward, "loss.backward() never ran", "loss.backward()"),
    (_double_step, "2 updates", None),
    (_returns_tensor, "return loss.item()", None),
    (_loss_after, "before the update", None),
])
def test_train_step_names_mistakes(fn, first, later):
    _fails(C.train_step(fn), first, later)


def _forward_without_graph(model, optimizer, loss_fn, X, y):
    optimizer.zero_grad()
    with torch.no_grad():
        loss = loss_fn(model(X), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def test_train_step_forward_under_no_grad_is_explained():
    r = C.train_step(_forward_without_graph)
    _fails(r, "has no graph to back-propagate through")
    assert "(line: `loss.backward()`)" in r.message


def test_missing_step_is_not_reported_as_a_zero_grad_ordering_problem():
    r = C.train_step(_no_step)
    assert "zero_grad() ran between" not in r.message and "step() is missing" in r.message


def test_torchs_not_implemented_error_is_not_reported_as_a_stub():
    """F.cross_entropy(y, logits) raises torch's NotImplementedError ("not implemented for 'Long'")."""
    r = C.train_step(_swapped)
    assert r.status == "fail", r
    assert "not implemented yet" not in r.message
    assert "loss_fn(output, target)" in r.message
    assert "(line: `loss = loss_fn(y, model(X))`)" in r.message


def test_train_step_stub_is_todo():
    r = C.train_step(_stub)
    assert r.status == "todo" and "not implemented yet" in r.message
    assert r.or_reference() is _ref_train_step


# ---------------------------------------------------------------------- evaluate_accuracy
def test_evaluate_accepts_reference_and_alternative():
    assert C.evaluate_accuracy(_ref_evaluate).passed

    def alt(model, X, y):
        model.eval()
        with torch.inference_mode():
            correct = sum(int(row.argmax()) == int(t) for row, t in zip(model(X), y))
        return correct / len(y)
    assert C.evaluate_accuracy(alt).passed


def test_evaluate_names_mistakes():
    def no_eval(model, X, y):
        with torch.no_grad():
            return (model(X).argmax(1) == y).double().mean().item()
    _fails(C.evaluate_accuracy(no_eval), "still in training mode", "model.eval()")

    def no_nograd(model, X, y):
        model.eval()
        return (model(X).argmax(1) == y).double().mean().item()
    _fails(C.evaluate_accuracy(no_nograd), "gradient tracking on", "torch.no_grad()")

    def percent(model, X, y):
        return 100 * _ref_evaluate(model, X, y)
    _fails(C.evaluate_accuracy(percent), "fraction")

    def max_values(model, X, y):          # torch.max(out, 1)[0] is the largest logit, not the class
        model.eval()
        with torch.no_grad():
            predicted = torch.max(model(X), 1)[0]
        return (predicted == y).double().mean().item()
    _fails(C.evaluate_accuracy(max_values), "expected", "argmax over the class axis")
    assert C.evaluate_accuracy(_stub).status == "todo"


# ---------------------------------------------------------------------------- fit_loop
def _fit_variant(kind):
    def fit(model, optimizer, loss_fn, loader, epochs, X_val, y_val):
        history = {"train_loss": [], "val_acc": []}
        batches = iter(loader) if kind == "iter_once" else None
        running = [0.0, 0]
        for epoch in range(epochs - 1 if kind == "off_by_one" else epochs):
            if kind != "no_train" or epoch == 0:
                model.train()
            total, count, losses = 0.0, 0, []
            source = batches if kind == "iter_once" else loader
            for Xb, yb in source:
                loss = _ref_train_step(model, optimizer, loss_fn, Xb, yb)
                losses.append(loss)
                total += loss * len(yb)
                count += len(yb)
            if kind == "running":
                running[0] += total
                running[1] += count
            value = {"plain_mean": sum(losses) / max(len(losses), 1), "sum": sum(losses),
                     "last": losses[-1] if losses else 0.0, "full_batches": total / (len(loader) * 16),
                     "running": running[0] / max(running[1], 1)}.get(kind, total / max(count, 1))
            history["train_loss"].append(torch.tensor(value) if kind == "tensor" else value)
            if kind == "train_acc":
                history["val_acc"].append(_ref_evaluate(model, loader.dataset.tensors[0], loader.dataset.tensors[1]))
            else:
                history["val_acc"].append(_ref_evaluate(model, X_val, y_val))
        if kind == "list":
            return list(zip(history["train_loss"], history["val_acc"]))
        return history
    return fit


def test_fit_loop_accepts_reference_and_alternative():
    assert C.fit_loop(_ref_fit).passed

    def alt(model, optimizer, loss_fn, loader, epochs, X_val, y_val):     # sums per sample, then divides
        train_loss, val_acc = [], []
        for _ in range(epochs):
            model.train()
            sample_losses = torch.zeros(0)
            for Xb, yb in loader:
                optimizer.zero_grad()
                loss = loss_fn(model(Xb), yb)
                loss.backward()
                optimizer.step()
                sample_losses = torch.cat([sample_losses, loss.detach().repeat(len(yb))])
            train_loss.append(sample_losses.mean().item())
            model.eval()
            with torch.no_grad():                                            # accuracy in float32: also fine
                val_acc.append((model(X_val).argmax(1) == y_val).float().mean().item())
        return {"val_acc": val_acc, "train_loss": train_loss}
    r = C.fit_loop(alt)
    assert r.passed, r.message


@pytest.mark.parametrize("kind, first, later", [
    ("plain_mean", "the plain mean of the batch losses", "loss * len(yb)"),
    ("sum", "the sum of the batch losses", "loss * len(yb)"),
    ("last", "the last batch's loss", "loss * len(yb)"),
    ("full_batches", "counts the short last batch as full", "loss * len(yb)"),
    ("running", "a running mean over all epochs so far", "loss * len(yb)"),
    ("no_train", "some training batches ran in eval mode", "model.train()"),
    ("iter_once", "trained on 4 batches", "an iterator made once is used up"),
    ("off_by_one", "2 entries for 3 epochs", None),
    ("tensor", "holds tensors", None),
    ("list", "return the history as a dict", None),
    ("train_acc", "history['val_acc']", "validation data"),
])
def test_fit_loop_names_mistakes(kind, first, later):
    _fails(C.fit_loop(_fit_variant(kind)), first, later)


def test_fit_loop_with_a_broken_step_points_at_train_step():
    def fit(model, optimizer, loss_fn, loader, epochs, X_val, y_val):
        history = {"train_loss": [], "val_acc": []}
        for _ in range(epochs):
            model.train()
            total = 0.0
            for Xb, yb in loader:
                total += _no_zero(model, optimizer, loss_fn, Xb, yb) * len(yb)
            history["train_loss"].append(total / len(loader.dataset))
            history["val_acc"].append(_ref_evaluate(model, X_val, y_val))
        return history
    _fails(C.fit_loop(fit), "parameters differ", "check.train_step")


def test_fit_loop_stub_is_todo_and_leaves_torchs_random_state_alone():
    state = torch.get_rng_state()
    assert C.fit_loop(_stub).status == "todo"
    assert C.fit_loop(_ref_fit).passed
    assert torch.equal(torch.get_rng_state(), state)


def test_fit_loop_reference_is_the_one_or_reference_hands_out():
    assert C.fit_loop(_stub).or_reference() is _ref_fit
