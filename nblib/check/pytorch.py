"""Checkers for notebook 06 (the numpy MLP in PyTorch). PyTorch is imported inside each checker.

* ``affine_module`` -- ``cls(d, h)``: our affine layer as an ``nn.Module`` (float64, He init);
* ``train_step`` -- ``fn(model, optimizer, loss_fn, X, y) -> float``: one training step;
* ``evaluate_accuracy`` -- ``fn(model, X, y) -> float``: accuracy in ``eval()`` mode, no graph;
* ``fit_loop`` -- ``fn(model, optimizer, loss_fn, loader, epochs, X_val, y_val) -> dict``: the
  training loop over a ``DataLoader``, returning the history.

Every call of the learner's code goes through ``_core._call`` (time limit, the learner's own line
on a crash, "not implemented yet" for a stub). A ``NotImplementedError`` raised *inside PyTorch*
(e.g. ``F.cross_entropy(y, logits)``: "not implemented for 'Long'") is not a stub: it is reported
as a crash, with what it usually means.
"""

from __future__ import annotations

import copy
import math
import traceback

import numpy as np

from .._validate import describe
from ._core import CheckResult, _call, _is_library, require_function, returned

__all__ = ["affine_module", "train_step", "evaluate_accuracy", "fit_loop"]


def _dot(text):
    """A sentence ends with a full stop (the tutor appends its next line after it)."""
    text = text.rstrip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _result(name, status, message, candidate=None, reference=None, hints=()):
    return CheckResult(name, status, _dot(message), candidate, reference, hints=tuple(_dot(h) for h in hints))


class PyTorchNotImplemented(RuntimeError):
    """A ``NotImplementedError`` raised inside PyTorch (not by the exercise's stub)."""


def _learner(fn):
    """``fn`` with a NotImplementedError from inside a library turned into a crash (keeping the
    traceback, so ``_call`` still quotes the learner's own line)."""
    def run(*args):
        try:
            return fn(*args)
        except NotImplementedError as exc:
            frames = traceback.extract_tb(exc.__traceback__)
            if frames and _is_library(frames[-1].filename):
                raise PyTorchNotImplemented(str(exc)).with_traceback(exc.__traceback__) from None
            raise
    return run


def _explain(text):
    """Add what a PyTorch error usually means in these exercises."""
    if "PyTorchNotImplemented" in text:
        text = text.replace("raised PyTorchNotImplemented:", "made PyTorch raise NotImplementedError:")
        if "'Long'" in text:
            text += (". This is not the exercise's stub: PyTorch got the integer labels where it expects the float "
                     "outputs. The order is loss_fn(output, target), e.g. F.cross_entropy(model(X), y)")
    elif "does not require grad" in text:
        text += (". The loss has no graph to back-propagate through: the forward pass ran under torch.no_grad() "
                 "(or on detached tensors); keep no_grad for evaluation only")
    elif "expected scalar type" in text or "same dtype" in text or "dtype" in text and "mat" in text:
        text += ". Tensors of different dtypes met (float32 vs float64): create parameters with dtype=torch.float64"
    return text


def _run(fn, *args):
    value, err = _call(_learner(fn), args)
    if err and err[0] == "fail":
        err = ("fail", _explain(err[1]))
    return value, err


# ------------------------------------------------------------------------ port a layer
def _reference_affine_class():
    import torch
    from torch import nn

    class Affine(nn.Module):
        """``x @ W + b`` with ``W: (d, h)`` He-initialised and ``b: (h,)`` zeros, float64, as
        nblib.layers.affine_forward."""

        def __init__(self, d, h):
            super().__init__()
            self.W = nn.Parameter(torch.randn(d, h, dtype=torch.float64) * (2.0 / d) ** 0.5)
            self.b = nn.Parameter(torch.zeros(h, dtype=torch.float64))

        def forward(self, x):
            return x @ self.W + self.b

    Affine.__module__, Affine.__qualname__ = __name__, "Affine"
    return Affine


def _init_scale_verdict(W, b, d, h):
    """(message, hints) when the initialisation of a large layer is not He's, else None."""
    import torch

    std, mean = float(W.std()), float(W.mean())
    he = math.sqrt(2.0 / d)
    if abs(std / he - 1) < 0.05 and abs(mean) < 0.1 * he:
        if not torch.all(b == 0):
            return ("the weights are right, but the bias should start at zeros: b = nn.Parameter(torch.zeros(h, "
                    "dtype=torch.float64))", ())
        return None
    named = [(1.0, "std 1: torch.randn without the He factor"),
             (math.sqrt(1.0 / d), "std √(1/d) (LeCun/Xavier-style): He's factor for ReLU layers is √(2/d)"),
             (math.sqrt(2.0 / h), "std √(2/h): the fan-in of W (d, h) is d, the number of inputs. Note that "
                                  "nn.init.kaiming_normal_ on a (d, h) tensor takes size(1) = h as the fan-in "
                                  "(torch's (out, in) layout); here W is (in, out)"),
             (2.0 / d, "std 2/d: that is He's variance; the standard deviation is its square root √(2/d)"),
             (math.sqrt(2.0 / (d + h)), "std √(2/(d+h)) (Glorot/Xavier): He's is √(2/d)"),
             (1 / math.sqrt(3), "std 0.58, i.e. uniform(-1, 1): He's is a normal with std √(2/d)")]
    for value, text in named:
        if abs(std / value - 1) < 0.05:
            return (f"the initial weights of Affine({d}, {h}) have {text} (measured std {std:.4f}, He: {he:.4f}).",
                    ("He initialisation: W = torch.randn(d, h, dtype=torch.float64) * (2.0 / d) ** 0.5",))
    return (f"the initial weights of Affine({d}, {h}) have std {std:.4f} and mean {mean:.4f}; He initialisation "
            f"gives std √(2/d) = {he:.4f} and mean 0.",
            ("He initialisation: W = torch.randn(d, h, dtype=torch.float64) * (2.0 / d) ** 0.5",))


def affine_module(cls) -> CheckResult:
    """Check ``cls(d, h)``: an ``nn.Module`` with float64 parameters ``W`` (d, h), He-initialised
    (std √(2/d), mean 0), and ``b`` (h,) zeros, whose forward is ``x @ W + b`` (our
    ``affine_forward``); gradients by autograd.

    The forward and backward are verified in float64 against ``nblib.layers.affine_forward`` /
    ``affine_backward``; the initialisation by its statistics over a 1200 x 300 layer. Recognised
    mistakes: plain tensors instead of ``nn.Parameter``, ``W`` stored as (h, d), float32
    parameters, a missing bias, a detached weight, the wrong initialisation scale.
    """
    import torch
    from torch import nn

    from .. import layers

    name = "affine_module"
    ref = _reference_affine_class()
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        return _result(name, "fail", f"expected a class (a subclass of nn.Module), got {describe(cls)}. "
                           "Pass the class itself, without creating an instance: check.affine_module(Affine)",
                           cls, ref)
    d, h = 5, 3
    module, err = _run(cls, d, h)
    if err:
        return _result(name, err[0], err[1], cls, ref)
    params = dict(module.named_parameters())
    if not params:
        return _result(name, "fail", "your module has no parameters: model.parameters() is empty, so an "
                           "optimizer would never update anything.", cls, ref,
                           hints=("wrap W and b in nn.Parameter(...) and assign them to self.W and self.b",))
    for pname, shape in (("W", (d, h)), ("b", (h,))):
        t = getattr(module, pname, None)
        if t is None:
            return _result(name, "fail", f"no attribute self.{pname}; store the weights as self.W (d, h) and "
                               f"the bias as self.b (h,)", cls, ref)
        if not isinstance(t, nn.Parameter):
            return _result(name, "fail", f"self.{pname} is a plain tensor, not an nn.Parameter, so it is not "
                               f"in model.parameters() and the optimizer would skip it.", cls, ref,
                               hints=("use self.W = nn.Parameter(torch.randn(...)) (and the same for b)",))
        if tuple(t.shape) != shape:
            hint = " (that is nn.Linear's layout; here we keep our numpy layout (d, h), so x @ W works)" \
                if tuple(t.shape) == shape[::-1] else ""
            return _result(name, "fail", f"self.{pname} has shape {tuple(t.shape)}, expected {shape} for "
                               f"Affine({d}, {h}){hint}", cls, ref)
        if t.dtype != torch.float64:
            return _result(name, "fail", f"self.{pname} is {str(t.dtype).replace('torch.', '')}; this notebook "
                               f"computes in float64, and a float64 input times a {t.dtype} parameter raises "
                               f"'expected m1 and m2 to have the same dtype' in the next cell.", cls, ref,
                               hints=("create the tensors with dtype=torch.float64, e.g. torch.zeros(h, "
                                      "dtype=torch.float64) (no .float(), no float32 numpy arrays)",))
    big, err = _run(cls, 1200, 300)
    if err:
        return _result(name, err[0], f"{err[1]} (creating Affine(1200, 300))", cls, ref)
    verdict = _init_scale_verdict(big.W.detach(), big.b.detach(), 1200, 300)
    if verdict:
        return _result(name, "fail", verdict[0], cls, ref, hints=verdict[1])
    rng = np.random.default_rng(3)
    x, W, b = rng.normal(size=(4, d)), rng.normal(size=(d, h)), rng.normal(size=h)
    dout = rng.normal(size=(4, h))
    with torch.no_grad():
        module.W.copy_(torch.as_tensor(W))
        module.b.copy_(torch.as_tensor(b))
    xt = torch.tensor(x, requires_grad=True)
    out, err = _run(module, xt)
    if err:
        return _result(name, err[0], err[1], cls, ref)
    if not isinstance(out, torch.Tensor):
        return _result(name, "fail", f"forward returned {returned(out)}; return the tensor x @ self.W + self.b",
                           cls, ref)
    expected, cache = layers.affine_forward(x, W, b)
    got = out.detach().numpy()
    if got.shape != expected.shape:
        return _result(name, "fail", f"forward returned shape {got.shape}, expected {expected.shape} for x of "
                           f"shape {x.shape}", cls, ref)
    if not np.allclose(got, expected, atol=1e-12):
        if np.allclose(got, x @ W, atol=1e-12):
            return _result(name, "fail", "forward ignores the bias: return x @ self.W + self.b", cls, ref)
        return _result(name, "fail", "forward does not compute x @ W + b (compare with affine_forward)", cls, ref)
    if not out.requires_grad:
        return _result(name, "fail", "forward returns the right numbers, but a tensor that autograd cannot "
                           "differentiate (out.requires_grad is False): forward left the graph, through .detach(), "
                           ".numpy(), torch.tensor(...) or torch.no_grad().", cls, ref,
                           hints=("compute with the tensors themselves, return x @ self.W + self.b: autograd records "
                                  "every operation on them, and that record is the backward pass",))
    out.backward(torch.as_tensor(dout))
    dx, dW, db = layers.affine_backward(dout, cache)

    def agrees(t, expect):
        return t.grad is not None and np.allclose(t.grad.numpy(), expect, atol=1e-12)

    if not (agrees(xt, dx) and agrees(module.W, dW) and agrees(module.b, db)):
        return _result(name, "fail", "the forward values are right but autograd's gradients differ from "
                           "affine_backward: did you detach or modify a tensor in place?", cls, ref)
    return _result(name, "pass", "correct: two registered float64 parameters, He-initialised, and autograd's "
                       "dx, dW, db equal affine_backward's to 1e-12. No backward to write: that is what autograd "
                       "buys you.", cls, ref)


# ------------------------------------------------------------------------ the training step
def _ref_train_step(model, optimizer, loss_fn, X, y):
    optimizer.zero_grad()
    loss = loss_fn(model(X), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def _instrument(model, optimizer, loss_fn, log):
    """Record ``zero_grad``, ``forward``, ``loss``, ``backward`` and ``step`` into ``log[-1]`` (the
    current step's list); returns the recording loss function."""
    def wrap(obj, method, label):
        original = getattr(obj, method)

        def recorded(*args, **kwargs):
            log[-1].append(label)
            return original(*args, **kwargs)
        object.__setattr__(obj, method, recorded)

    wrap(optimizer, "zero_grad", "zero_grad")
    wrap(optimizer, "step", "step")
    wrap(model, "zero_grad", "zero_grad")
    model.register_forward_hook(lambda m, i, o: log[-1].append("forward"))

    def recorded_loss(*args, **kwargs):
        log[-1].append("loss")
        out = loss_fn(*args, **kwargs)
        if hasattr(out, "register_hook") and getattr(out, "requires_grad", False):
            out.register_hook(lambda g: log[-1].append("backward"))
        return out
    return recorded_loss


def _step_order_verdict(events):
    """(message, hints) naming what is missing or out of order in one step's events, or None."""
    if "backward" not in events:
        return ("loss.backward() never ran, so no gradients were computed and step() had nothing to use.",
                ("after loss = loss_fn(model(X), y), call loss.backward()",))
    if "step" not in events:
        return ("the gradients were computed but the parameters never changed: optimizer.step() is missing.",
                ("the last line before return is optimizer.step(): it applies p -= lr * p.grad (for SGD) to every "
                 "parameter",))
    first_back, last_step = events.index("backward"), len(events) - 1 - events[::-1].index("step")
    if last_step < first_back:
        return ("optimizer.step() ran before loss.backward(), so it used the gradients of the previous step "
                "(or none at all).", ("the order is zero_grad, forward, loss, backward, step",))
    between = events[first_back:last_step]
    if "zero_grad" in between:
        return ("zero_grad() ran between backward() and step(): it wiped the fresh gradients, so step() found none "
                "and the parameters never changed.", ("the order is zero_grad, forward, loss, backward, step",))
    if "zero_grad" not in events:
        return ("the gradients were never reset, so each update used the sum of all gradients so far (also those "
                "left in p.grad before the call).", ("start the step with optimizer.zero_grad(): PyTorch adds every "
                                                     "backward into p.grad",))
    if "zero_grad" not in events[:first_back]:
        return ("zero_grad() ran only after the update, so this step's backward() added to whatever was left in "
                "p.grad before the call (here: gradients from an earlier backward, as after a cell that inspected "
                "them).", ("reset first: optimizer.zero_grad() is the first of the five lines, so that a step never "
                           "depends on what happened before it",))
    if events.count("step") > 1 or events.count("backward") > 1:
        return (f"one call made {events.count('backward')} backward passes and {events.count('step')} updates; a "
                f"training step is one of each.", ("the five lines: zero_grad, forward, loss, backward, step",))
    return None


def train_step(fn) -> CheckResult:
    """Check ``fn(model, optimizer, loss_fn, X, y) -> float``: one training step, returning the loss.

    Runs three steps of the learner's function and of the reference on identical copies of a
    small float64 model (SGD with momentum) whose p.grad holds leftover gradients before the
    first step (so a zero_grad() only after the update shows), and compares the parameters
    after each step and the returned losses. When they differ, the recorded calls (``zero_grad``, forward, loss,
    ``backward``, ``step``) name what is missing or out of order.
    """
    import torch
    from torch import nn

    name = "train_step"
    guard = require_function(name, fn, _ref_train_step)
    if guard is not None:
        return guard

    def trajectory(step_fn, log=None):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)).double()
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        loss_fn = nn.functional.cross_entropy
        g = torch.Generator().manual_seed(1)
        X, y = torch.randn(8, 3, generator=g, dtype=torch.float64), torch.randint(0, 2, (8,), generator=g)
        params, losses = [], []
        # gradients left over from before the first step (an earlier cell's backward): a step must reset them
        sum(p.sum() for p in model.parameters()).backward()
        if log is not None:
            loss_fn = _instrument(model, opt, loss_fn, log)
        for _ in range(3):
            if log is not None:
                log.append([])
            losses.append(step_fn(model, opt, loss_fn, X, y))
            params.append([p.detach().clone() for p in model.parameters()])
        return params, losses

    state = torch.get_rng_state()
    log = []
    try:
        result, err = _run(lambda: trajectory(fn, log))
        ref_params, ref_losses = trajectory(_ref_train_step)
    finally:
        torch.set_rng_state(state)
    if err:
        return _result(name, err[0], err[1], fn, _ref_train_step)
    params, losses = result

    def same(a, b):
        return all(torch.allclose(x, y, atol=1e-12) for x, y in zip(a, b))

    if all(same(p, q) for p, q in zip(params, ref_params)):
        if losses[0] is None:
            return _result(name, "fail", f"the updates are right, but your function returned "
                               f"{returned(None)}: return loss.item()", fn, _ref_train_step)
        if isinstance(losses[0], torch.Tensor):
            return _result(name, "fail", "the updates are right, but return loss.item() (a Python float), not "
                               "the tensor: keeping tensors keeps their whole graph in memory", fn, _ref_train_step)
        try:
            got = np.asarray(losses, dtype=float)
        except (TypeError, ValueError):
            got = None
        if got is None or got.shape != (3,):
            return _result(name, "fail", f"the updates are right, but return the loss as a float; got "
                               f"{returned(losses[0])}", fn, _ref_train_step)
        if not np.allclose(got, ref_losses, atol=1e-12):
            return _result(name, "fail", "the updates are right, but return the loss of this step's forward "
                               "pass (loss.item(), before the update)", fn, _ref_train_step)
        return _result(name, "pass", "correct: zero_grad, forward, loss, backward, step, three steps matching "
                           "the reference to 1e-12.", fn, _ref_train_step)
    first_bad = next(i for i, (p, q) in enumerate(zip(params, ref_params), 1) if not same(p, q))
    events = log[first_bad - 1] if len(log) >= first_bad else []
    verdict = _step_order_verdict(events) or _step_order_verdict(log[1] if len(log) > 1 else [])
    if verdict:
        return _result(name, "fail", f"{verdict[0]} (step {first_bad}: calls seen {events})", fn,
                           _ref_train_step, hints=verdict[1])
    return _result(name, "fail", f"after step {first_bad} the parameters differ from the reference, although "
                       f"the calls came in a plausible order ({events}).", fn, _ref_train_step,
                       hints=("the five lines: optimizer.zero_grad(); out = model(X); loss = loss_fn(out, y); "
                              "loss.backward(); optimizer.step(); use the X, y and loss_fn you were given",))


# ------------------------------------------------------------------------ evaluation
def _ref_evaluate(model, X, y):
    import torch

    model.eval()
    with torch.no_grad():
        pred = model(X).argmax(dim=1)
    return (pred == y).double().mean().item()


def evaluate_accuracy(fn) -> CheckResult:
    """Check ``fn(model, X, y) -> float``: accuracy of ``model`` on ``(X, y)``, computed in
    ``eval()`` mode under ``torch.no_grad()``.

    A forward hook records whether gradients were being tracked and whether the model was in
    training mode while the learner's function ran it.
    """
    import torch
    from torch import nn

    name = "evaluate_accuracy"
    guard = require_function(name, fn, _ref_evaluate)
    if guard is not None:
        return guard
    state = torch.get_rng_state()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Dropout(0.5), nn.Linear(6, 3)).double()
    X, y = torch.randn(50, 4, dtype=torch.float64), torch.randint(0, 3, (50,))
    seen = []
    hook = model.register_forward_hook(lambda m, i, o: seen.append((torch.is_grad_enabled(), m.training)))
    model.train()
    try:
        value, err = _run(fn, model, X, y)
    finally:
        hook.remove()
        torch.set_rng_state(state)
    if err:
        return _result(name, err[0], err[1], fn, _ref_evaluate)
    if not seen:
        return _result(name, "fail", "your function never called the model", fn, _ref_evaluate)
    if any(grad for grad, _ in seen):
        return _result(name, "fail", "the model ran with gradient tracking on.", fn, _ref_evaluate,
                           hints=("wrap the forward pass in `with torch.no_grad():` (no graph is built: less memory, "
                                  "faster)",))
    if any(training for _, training in seen):
        return _result(name, "fail", "the model was still in training mode, so dropout was active and the "
                           "accuracy is random.", fn, _ref_evaluate, hints=("call model.eval() before evaluating",))
    if isinstance(value, (torch.Tensor, np.ndarray)):
        # the exercise asks for a Python float: a tensor would end up in fit's history lists
        return _result(name, "fail", f"return the accuracy as a Python float, got {returned(value)}.", fn,
                       _ref_evaluate, hints=("turn a one-number tensor into a float with `.item()`, e.g. "
                                             "`(pred == y).float().mean().item()`",))
    try:
        value = float(value)
    except (TypeError, ValueError):
        return _result(name, "fail", f"return the accuracy as a float, got {returned(value)}", fn, _ref_evaluate)
    expected = _ref_evaluate(copy.deepcopy(model), X, y)
    if abs(value - expected * len(y)) < 1e-6 and expected:
        return _result(name, "fail", f"returned {value:g}, the number of correct predictions; the accuracy is the "
                       f"fraction of them, expected {expected:.4f}.", fn, _ref_evaluate,
                       hints=("divide the count by the number of samples, len(y), or take the mean of the matches "
                              "as floats: (pred == y).float().mean()",))
    if abs(value - 100 * expected) < 1e-6 and expected:
        return _result(name, "fail", "return a fraction in [0, 1], not a percentage", fn, _ref_evaluate)
    if abs(value - expected) > 1e-6:
        return _result(name, "fail", f"returned {value:.4f}, expected {expected:.4f}.", fn, _ref_evaluate,
                           hints=("the prediction is the argmax over the class axis (dim=1), compared with y; the "
                                  "accuracy is the mean of those matches",))
    return _result(name, "pass", "correct: eval() mode, no graph built, argmax over classes.", fn, _ref_evaluate)


# ------------------------------------------------------------------------ the training loop
def _ref_fit(model, optimizer, loss_fn, loader, epochs, X_val, y_val):
    history = {"train_loss": [], "val_acc": []}
    for _ in range(epochs):
        model.train()
        total, count = 0.0, 0
        for Xb, yb in loader:
            total += _ref_train_step(model, optimizer, loss_fn, Xb, yb) * len(yb)
            count += len(yb)
        history["train_loss"].append(total / count)
        history["val_acc"].append(_ref_evaluate(model, X_val, y_val))
    return history


_FIT_EPOCHS, _FIT_N, _FIT_BATCH = 3, 50, 16           # 50 = 16 + 16 + 16 + 2: the last batch is small


def _fit_problem():
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Dropout(0.25), nn.Linear(8, 3)).double()
    opt = torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.5)
    g = torch.Generator().manual_seed(1)
    X = torch.randn(_FIT_N, 3, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (_FIT_N,), generator=g)
    X_val = torch.randn(20, 3, generator=g, dtype=torch.float64)
    y_val = torch.randint(0, 3, (20,), generator=g)
    loader = DataLoader(TensorDataset(X, y), batch_size=_FIT_BATCH, shuffle=True,
                        generator=torch.Generator().manual_seed(2))
    return model, opt, loader, X_val, y_val


def _fit_alternatives(steps):
    """Histories a plausible wrong loop would return, from the reference run's batch losses."""
    per_epoch = len(steps) // _FIT_EPOCHS
    alt = {}
    epochs = [steps[e * per_epoch:(e + 1) * per_epoch] for e in range(_FIT_EPOCHS)]
    alt["the plain mean of the batch losses"] = [sum(l for l, _ in ep) / len(ep) for ep in epochs]
    alt["the sum of the batch losses"] = [sum(l for l, _ in ep) for ep in epochs]
    alt["the sum of loss x batch size (not divided by the number of samples)"] = [sum(l * n for l, n in ep)
                                                                                   for ep in epochs]
    alt["the last batch's loss"] = [ep[-1][0] for ep in epochs]
    alt["divided by (number of batches) x batch size, which counts the short last batch as full"] = [
        sum(l * n for l, n in ep) / (len(ep) * _FIT_BATCH) for ep in epochs]
    alt["a running mean over all epochs so far (the sums were not reset at the start of each epoch)"] = [
        sum(l * n for ep in epochs[:e + 1] for l, n in ep) / sum(n for ep in epochs[:e + 1] for _, n in ep)
        for e in range(len(epochs))]
    return alt


def fit_loop(fn) -> CheckResult:
    """Check ``fn(model, optimizer, loss_fn, loader, epochs, X_val, y_val) -> dict``: the training loop.

    For each of ``epochs`` epochs: ``model.train()``; one training step (zero_grad, forward,
    loss, backward, step) per batch ``(Xb, yb)`` of ``loader``; then the accuracy on
    ``(X_val, y_val)`` in eval mode without a graph. Returns ``{"train_loss": [...],
    "val_acc": [...]}``, one Python float per epoch each: ``train_loss[e]`` is the mean loss
    per *sample* over epoch ``e`` (each batch's loss, computed before its update, weighted by
    the batch size), ``val_acc[e]`` the validation accuracy after epoch ``e``.

    The test: 50 samples in batches of 16 (so the last batch holds 2), a model with dropout
    (so a forgotten ``model.train()`` after evaluation shows), three epochs; parameters and
    history compared with the reference loop to 1e-10.
    """
    import torch

    name = "fit_loop"
    guard = require_function(name, fn, _ref_fit)
    if guard is not None:
        return guard
    state = torch.get_rng_state()
    try:
        model, opt, loader, X_val, y_val = _fit_problem()
        seen = []
        model.register_forward_hook(lambda m, i, o: seen.append((torch.is_grad_enabled(), m.training)))
        value, err = _run(fn, model, opt, torch.nn.functional.cross_entropy, loader, _FIT_EPOCHS, X_val, y_val)
        ref_model, ref_opt, ref_loader, Xv, yv = _fit_problem()
        steps = []

        def logged_loss(out, target):
            loss = torch.nn.functional.cross_entropy(out, target)
            steps.append((loss.item(), len(target)))
            return loss
        ref = _ref_fit(ref_model, ref_opt, logged_loss, ref_loader, _FIT_EPOCHS, Xv, yv)
    finally:
        torch.set_rng_state(state)
    if err:
        return _result(name, err[0], err[1], fn, _ref_fit)
    if not isinstance(value, dict) or not {"train_loss", "val_acc"} <= set(value):
        return _result(name, "fail", f"return the history as a dict {{'train_loss': [...], 'val_acc': [...]}}; "
                           f"got {returned(value)}", fn, _ref_fit)
    for key in ("train_loss", "val_acc"):
        entries = value[key]
        if not hasattr(entries, "__len__") or len(entries) != _FIT_EPOCHS:
            got = len(entries) if hasattr(entries, "__len__") else describe(entries)
            return _result(name, "fail", f"history['{key}'] has {got} entries for {_FIT_EPOCHS} epochs: append "
                               f"one value per epoch (after the epoch's last batch).", fn, _ref_fit)
        if any(isinstance(v, torch.Tensor) for v in entries):
            return _result(name, "fail", f"history['{key}'] holds tensors; store Python floats (loss.item(), "
                               f"or the float my_evaluate returns)", fn, _ref_fit)
    train_forwards = [training for grad, training in seen if grad]
    n_batches = len(steps)
    if any(not training for training in train_forwards):
        return _result(name, "fail", "some training batches ran in eval mode: after the first epoch's "
                           "evaluation the model stayed in eval() mode, so dropout was off while training.", fn,
                           _ref_fit, hints=("call model.train() at the start of every epoch (my_evaluate switches "
                                            "the model to eval mode)",))
    if len(train_forwards) != n_batches:
        return _result(name, "fail", f"the model was trained on {len(train_forwards)} batches; {_FIT_EPOCHS} epochs "
                           f"of {n_batches // _FIT_EPOCHS} batches are {n_batches}.", fn, _ref_fit,
                           hints=("loop `for Xb, yb in loader:` inside the epoch loop: each pass over the loader "
                                  "is one epoch (a new shuffle each time); an iterator made once is used up after "
                                  "the first epoch",))
    same_params = all(torch.allclose(p, q, atol=1e-10) for p, q in zip(model.parameters(), ref_model.parameters()))
    if not same_params:
        return _result(name, "fail", "after training, the parameters differ from the reference loop's.", fn,
                           _ref_fit, hints=("does check.train_step(my_train_step) pass? Call it once per batch with "
                                            "the batch (Xb, yb), the optimizer and loss_fn you were given",))
    got = [float(v) for v in value["train_loss"]]
    if not _allclose(got, ref["train_loss"]):
        for label, alt in _fit_alternatives(steps).items():
            if _allclose(got, alt):
                return _result(name, "fail", f"history['train_loss'] is {label}, not each epoch's mean "
                                   f"loss per sample.", fn, _ref_fit,
                                   hints=("the last batch holds 2 samples, the others 16: add loss * len(yb) for "
                                          "each batch and divide by the number of samples at the end of the epoch",))
        return _result(name, "fail", f"history['train_loss'] is {[round(v, 5) for v in got]}, expected "
                           f"{[round(v, 5) for v in ref['train_loss']]}.", fn, _ref_fit,
                           hints=("use the loss each training step returned (before its update), weighted by the "
                                  "batch size, divided by the number of samples",))
    got = [float(v) for v in value["val_acc"]]
    if not _allclose(got, ref["val_acc"], tol=1e-6):         # an accuracy k/m computed in float32 is fine
        return _result(name, "fail", f"history['val_acc'] is {[round(v, 4) for v in got]}, expected "
                           f"{[round(v, 4) for v in ref['val_acc']]}.", fn, _ref_fit,
                           hints=("after each epoch's last batch: my_evaluate(model, X_val, y_val), on the "
                                  "validation data (not the training batches)",))
    return _result(name, "pass", f"correct: {_FIT_EPOCHS} epochs of {n_batches // _FIT_EPOCHS} batches (the last "
                       f"one smaller), model.train() each epoch, the per-sample mean loss and the validation "
                       f"accuracy match the reference loop.", fn, _ref_fit)


def _allclose(a, b, tol=1e-10):
    return len(a) == len(b) and all(abs(x - y) <= tol * max(1.0, abs(y)) for x, y in zip(a, b))
