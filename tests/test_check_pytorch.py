"""Checkers of notebook 06: accept the reference and alternative correct answers, name typical mistakes,
say "not implemented yet" to a stub."""

import numpy as np
import torch
import torch.nn as nn

from nblib import check
from nblib.check.pytorch import _ref_evaluate, _ref_train_step, _reference_affine_class


def _stub(*args, **kwargs):
    raise NotImplementedError()


# ------------------------------------------------------------------------ affine_module
def test_affine_accepts_reference_and_alternative():
    assert check.affine_module(_reference_affine_class()).passed

    class Alt(nn.Module):                       # another correct form: torch.addmm, uniform init
        def __init__(self, d, h):
            super().__init__()
            self.W = nn.Parameter(torch.empty(d, h).uniform_(-1, 1))
            self.b = nn.Parameter(torch.empty(h).uniform_(-1, 1))

        def forward(self, x):
            return torch.addmm(self.b, x, self.W)

    assert check.affine_module(Alt).passed


def test_affine_names_mistakes():
    class Plain(nn.Module):
        def __init__(self, d, h):
            super().__init__()
            self.W, self.b = torch.zeros(d, h), torch.zeros(h)

        def forward(self, x):
            return x @ self.W + self.b

    r = check.affine_module(Plain)
    assert r.status == "fail" and "nn.Parameter" in r.message

    class Transposed(nn.Module):
        def __init__(self, d, h):
            super().__init__()
            self.W, self.b = nn.Parameter(torch.zeros(h, d)), nn.Parameter(torch.zeros(h))

        def forward(self, x):
            return x @ self.W.T + self.b

    r = check.affine_module(Transposed)
    assert r.status == "fail" and "nn.Linear's layout" in r.message

    class NoBias(nn.Module):
        def __init__(self, d, h):
            super().__init__()
            self.W, self.b = nn.Parameter(torch.zeros(d, h)), nn.Parameter(torch.zeros(h))

        def forward(self, x):
            return x @ self.W

    r = check.affine_module(NoBias)
    assert r.status == "fail" and "ignores the bias" in r.message

    class Detached(nn.Module):
        def __init__(self, d, h):
            super().__init__()
            self.W, self.b = nn.Parameter(torch.zeros(d, h)), nn.Parameter(torch.zeros(h))

        def forward(self, x):
            return (x @ self.W.detach()) + self.b

    r = check.affine_module(Detached)
    assert r.status == "fail" and "autograd's gradients differ" in r.message
    assert check.affine_module(lambda d, h: None).status == "fail"


def test_affine_stub_is_todo():
    class Stub(nn.Module):
        def __init__(self, d, h):
            super().__init__()
            raise NotImplementedError()

    r = check.affine_module(Stub)
    assert r.status == "todo" and "not implemented yet" in r.message
    assert r.or_reference() is not Stub


# ---------------------------------------------------------------------------- train_step
def test_train_step_accepts_reference_and_alternative():
    assert check.train_step(_ref_train_step).passed

    def alt(model, optimizer, loss_fn, X, y):
        model.zero_grad(set_to_none=False)      # zeros instead of None, via the model
        loss = loss_fn(model(X), y)
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    assert check.train_step(alt).passed


def test_train_step_names_mistakes():
    def no_zero(model, optimizer, loss_fn, X, y):
        loss = loss_fn(model(X), y)
        loss.backward()
        optimizer.step()
        return loss.item()

    r = check.train_step(no_zero)
    assert r.status == "fail" and "never reset" in r.message

    def step_first(model, optimizer, loss_fn, X, y):
        optimizer.zero_grad()
        loss = loss_fn(model(X), y)
        optimizer.step()
        loss.backward()
        return loss.item()

    r = check.train_step(step_first)
    assert r.status == "fail" and "never changed" in r.message

    def returns_tensor(model, optimizer, loss_fn, X, y):
        optimizer.zero_grad()
        loss = loss_fn(model(X), y)
        loss.backward()
        optimizer.step()
        return loss

    r = check.train_step(returns_tensor)
    assert r.status == "fail" and "loss.item()" in r.message

    def double_step(model, optimizer, loss_fn, X, y):
        loss = _ref_train_step(model, optimizer, loss_fn, X, y)
        optimizer.step()
        return loss

    r = check.train_step(double_step)
    assert r.status == "fail" and "after step 1" in r.message


def test_train_step_stub_is_todo():
    r = check.train_step(_stub)
    assert r.status == "todo"
    assert r.or_reference() is _ref_train_step


# ---------------------------------------------------------------------- evaluate_accuracy
def test_evaluate_accepts_reference_and_alternative():
    assert check.evaluate_accuracy(_ref_evaluate).passed

    @torch.no_grad()
    def alt(model, X, y):
        model.train(False)
        return float(np.mean(model(X).numpy().argmax(1) == y.numpy()))

    assert check.evaluate_accuracy(alt).passed


def test_evaluate_names_mistakes():
    def no_eval(model, X, y):
        with torch.no_grad():
            return (model(X).argmax(1) == y).float().mean().item()

    assert "model.eval()" in check.evaluate_accuracy(no_eval).message

    def no_nograd(model, X, y):
        model.eval()
        return (model(X).argmax(1) == y).float().mean().detach().item()

    assert "torch.no_grad()" in check.evaluate_accuracy(no_nograd).message

    def percent(model, X, y):
        return 100 * _ref_evaluate(model, X, y)

    assert "fraction" in check.evaluate_accuracy(percent).message

    def wrong_axis(model, X, y):
        model.eval()
        with torch.no_grad():
            return (model(X).argmax(0)[: len(y)] == y[: 6]).float().mean().item()

    assert check.evaluate_accuracy(wrong_axis).status == "fail"
    assert check.evaluate_accuracy(_stub).status == "todo"
