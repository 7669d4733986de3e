"""Diagnostics for the bugs of the bug zoo (notebook 11): call them on your own code.

Each function looks for the *signature* of one classic bug and returns a
``Finding``, which shows as ``⚠ name: what is wrong and how to fix it`` when the
signature is there and ``✓ name: ...`` when it is not. ``finding.found`` is the bool.

==========================  ===============================================  =================
function                    catches                                          in the article
==========================  ===============================================  =================
``check_grads``         per-sample gradients never averaged (wrong        《Python 梯度下降》
                            shape), sum instead of mean (wrong scale),
                            any gradient that disagrees with the numerical
                            gradient of the loss
``check_logits``        probabilities given to a cross-entropy            《数学基础》,
                            (double softmax); ReLU applied to the logits     《数学基础概览》,
                                                                             《一切皆是映射》
``explain_flatten``     flattening conv features with the wrong size      《一切皆是映射》
``trace_shapes``        (a tool) every layer's input and output shapes    《一切皆是映射》
``ZeroGradWatch``      gradients that accumulate because ``zero_grad``   (classic)
                            was forgotten
``check_fit_plot``      a "model" line that is really the true function   《Python 梯度下降》
==========================  ===============================================  =================

The articles are the course's source articles (see the README); their short names are the
README's.

PyTorch is imported only by the functions that need it.
"""

from __future__ import annotations

import math

import numpy as np

from ._validate import as_float_array, callable_arg, describe
from .gradcheck import numerical_gradient

__all__ = ["Finding", "check_grads", "check_logits", "looks_like_probabilities", "explain_flatten",
           "trace_shapes", "ZeroGradWatch", "check_fit_plot"]


class Finding:
    """The outcome of one diagnostic.

    Attributes: ``name`` (the diagnostic), ``found`` (True when the bug's signature is
    present), ``message`` (what was seen, why it matters, the fix) and ``details``
    (a dict of the numbers behind the message, for tests and plots).
    """

    def __init__(self, name: str, found: bool, message: str, details: dict | None = None):
        self.name, self.found, self.message = name, bool(found), message
        self.details = details or {}

    def __repr__(self):
        return f"{'⚠' if self.found else '✓'} {self.name}: {self.message}"

    def __bool__(self):  # avoid `if finding:` ambiguity: ask for .found explicitly
        raise TypeError("Finding: use `finding.found` (True when the bug's signature was seen)")


def _numpy(x):
    if hasattr(x, "detach") and hasattr(x, "numpy"):
        return x.detach().cpu().double().numpy()
    return x


# ------------------------------------------------------ gradients (《Python 梯度下降》)
def check_grads(loss_fn, params: dict, grads: dict, batch_size: int | None = None,
                eps: float = 1e-6) -> Finding:
    r"""Check hand-written gradients against the loss they claim to differentiate.

    Parameters
    ----------
    loss_fn : callable ``loss_fn(params) -> float``, the loss *as defined* (e.g. the mean
        squared error over the batch), evaluated at the parameters in the dict it receives.
    params : dict name -> array, the current parameters (not modified).
    grads : dict name -> array, your gradients, one per parameter (same keys).
    batch_size : the number of samples n, if known: lets the message recognise
        "one gradient per sample" shapes ``(n, ...)`` and a factor-n scale error (sum
        instead of mean).

    The numerical reference is the central difference of ``loss_fn``
    (``nblib.gradcheck.numerical_gradient``). Fires when a gradient's shape differs
    from its parameter's, or when its values differ (relative error > 1e-5); the message
    names the likely cause: per-sample gradients not averaged, a factor n (sum instead
    of mean), a sign error.
    """
    callable_arg(loss_fn, "loss_fn", "check_grads")
    if not isinstance(params, dict) or not isinstance(grads, dict):
        raise TypeError(f"check_grads: params and grads must be dicts name -> array, got "
                        f"{describe(params)} and {describe(grads)}")
    missing = [k for k in params if k not in grads]
    if missing:
        raise ValueError(f"check_grads: grads has no entry for {missing}; it needs one per parameter "
                         f"(keys {list(params)})")
    base = {k: as_float_array(v, f"params[{k!r}]", "check_grads").copy() for k, v in params.items()}
    problems, details = [], {}
    for name, p in base.items():
        g = as_float_array(_numpy(grads[name]), f"grads[{name!r}]", "check_grads", finite=False)
        if g.shape != p.shape:
            per_sample = batch_size is not None and g.ndim >= 1 and g.shape[0] == batch_size
            hint = (f"it holds one gradient per sample (first axis = {batch_size} samples); the loss is "
                    f"a mean over the batch, so average them: {name}_grad.mean(axis=0)"
                    if per_sample else "a gradient always has its parameter's shape")
            problems.append(f"the gradient of {name} has shape {g.shape} but {name} has shape {p.shape}: {hint}")
            details[name] = {"shape": g.shape, "expected_shape": p.shape}
            continue

        def f_of(value, _name=name):
            trial = {k: (value if k == _name else v) for k, v in base.items()}
            return loss_fn(trial)

        num = numerical_gradient(f_of, p, eps=eps)
        err = float(np.max(np.abs(g - num) / np.maximum(1e-8, np.abs(g) + np.abs(num))))
        denom = float(np.sum(num * num))
        ratio = float(np.sum(g * num) / denom) if denom > 0 else float("nan")
        details[name] = {"rel_error": err, "ratio": ratio}
        if np.allclose(g, num, rtol=1e-5, atol=1e-7):  # atol: near a minimum both are ~0 and
            continue                                    # their relative error is only noise
        if batch_size and np.isfinite(ratio) and abs(ratio - batch_size) < 1e-3 * batch_size:
            problems.append(f"the gradient of {name} is {batch_size}× the numerical one: you *summed* over "
                            f"the {batch_size} samples but the loss is their *mean*; divide by n "
                            f"(or use .mean()), otherwise the step is n times too large")
        elif np.isfinite(ratio) and abs(ratio + 1) < 1e-3:
            problems.append(f"the gradient of {name} has the wrong sign (it is minus the numerical one)")
        elif np.isfinite(ratio) and abs(ratio - round(ratio)) < 1e-3 and round(ratio) not in (0, 1):
            problems.append(f"the gradient of {name} is {round(ratio)}× the numerical one: a constant "
                            f"factor is off")
        else:
            problems.append(f"the gradient of {name} differs from the numerical one (relative error "
                            f"{err:.1e}); re-derive it term by term")
    if problems:
        return Finding("check_grads", True, "; ".join(problems) + ".", details)
    return Finding("check_grads", False, f"all {len(base)} gradients have their parameter's shape and match "
                   f"the numerical gradient of the loss.", details)


# ------------------------------------------------------ logits (double softmax, ReLU head)
def looks_like_probabilities(outputs, atol: float = 1e-6) -> bool:
    """True when every row of ``outputs`` (n, C) lies in [0, 1] and sums to 1 (within ``atol``)."""
    z = as_float_array(_numpy(outputs), "outputs", "looks_like_probabilities", ndim=2)
    return bool(np.all(z >= 0) and np.all(z <= 1) and np.allclose(z.sum(axis=1), 1.0, atol=atol, rtol=0))


def check_logits(outputs, labels=None) -> Finding:
    r"""Check what you are about to give to a cross-entropy loss.

    ``F.cross_entropy``, ``nn.CrossEntropyLoss`` and ``nblib.losses.cross_entropy``
    expect **logits**: raw scores, any real numbers, shape (n, C). They apply
    log-softmax themselves. Fires when

    * every row lies in [0, 1] and sums to 1: these are already probabilities, so a
      softmax was applied twice (the loss can no longer reach 0 and learning slows);
    * every output is >= 0 and some are exactly 0: a ReLU sits on the logits, so a
      score clamped at 0 gets no gradient (a sample whose *true* class is clamped cannot
      raise it; the other scores cannot go below 0).

    ``labels`` (n,), optional, are only used to check the batch size.
    """
    z = as_float_array(_numpy(outputs), "outputs", "check_logits", ndim=2)
    n, c = z.shape
    if labels is not None:
        lab = np.asarray(_numpy(labels))
        if lab.ndim != 1 or lab.shape[0] != n:
            return Finding("check_logits", True, f"outputs have batch size {n} (shape {z.shape}) but labels "
                           f"have shape {lab.shape}; the loss needs one label per row", {"shape": z.shape})
    if c >= 2 and looks_like_probabilities(z):
        floor = -math.log(math.e / (math.e + c - 1))
        return Finding("check_logits", True,
                       f"every row is in [0, 1] and sums to 1: these are probabilities, not logits. The "
                       f"cross-entropy applies softmax again (double softmax), so even a perfect prediction "
                       f"costs at least -log(e/(e+{c - 1})) = {floor:.3f} instead of 0, and gradients shrink. "
                       f"Return the raw scores from forward(); apply softmax only to report probabilities.",
                       {"kind": "probabilities", "floor": floor})
    zeros = int(np.sum(z == 0))
    if np.all(z >= 0) and zeros > 0:
        frac = zeros / z.size
        return Finding("check_logits", True,
                       f"all outputs are >= 0 and {frac:.0%} of them are exactly 0: a ReLU was applied to the "
                       f"logits. A clamped score gets zero gradient: when the true class's score is clamped, "
                       f"nothing can raise it, and the other scores cannot be pushed below 0, so such samples "
                       f"learn slowly or not at all. Remove the activation after the last Linear layer.",
                       {"kind": "relu", "zero_fraction": frac})
    return Finding("check_logits", False, f"outputs of shape {z.shape} look like logits (real scores, "
                   f"range {z.min():.3g} to {z.max():.3g}).", {"kind": "logits"})


# ------------------------------------------------------ flatten size (《一切皆是映射》)
def _shape_of(features):
    if isinstance(features, (tuple, list)) and all(isinstance(s, (int, np.integer)) for s in features):
        return tuple(int(s) for s in features)
    if hasattr(features, "shape"):
        return tuple(int(s) for s in features.shape)
    raise TypeError(f"explain_flatten: features must be a tensor/array or a shape tuple, got {describe(features)}")


def explain_flatten(features, in_features: int) -> Finding:
    r"""Explain whether conv features of shape (N, C, H, W) fit a ``Linear(in_features, ...)``.

    ``features``: the tensor (or just its shape) that reaches the flatten step.
    A correct flatten keeps the batch: (N, C, H, W) -> (N, C·H·W), which requires
    ``in_features == C·H·W``. ``x.view(-1, in_features)`` with the wrong size does *not*
    always crash: when N·C·H·W happens to be a multiple of ``in_features`` it silently
    invents a bigger batch, and the error only appears at the loss. The message shows
    the numbers and, when the size matches after k 2×2 poolings, says so.
    """
    shape = _shape_of(features)
    if len(shape) < 2:
        raise ValueError(f"explain_flatten: features must have a batch axis and feature axes, e.g. "
                         f"(N, C, H, W), got shape {shape}")
    if isinstance(in_features, bool) or not isinstance(in_features, (int, np.integer)) or in_features < 1:
        raise TypeError(f"explain_flatten: in_features must be a positive int, got {describe(in_features)}")
    n, rest = shape[0], shape[1:]
    per_sample = int(np.prod(rest))
    product = "·".join(str(s) for s in rest)
    details = {"batch": n, "per_sample": per_sample, "in_features": int(in_features)}
    if per_sample == in_features:
        return Finding("explain_flatten", False, f"features {shape} flatten to ({n}, {product} = {per_sample}), "
                       f"which matches in_features = {in_features}. Use x.flatten(1) so the batch axis is kept.",
                       details)
    total = n * per_sample
    if total % in_features == 0:
        rows = total // in_features
        what = (f"x.view(-1, {in_features}) does not crash: it makes {rows} rows instead of {n} "
                f"({per_sample / in_features:g} rows per sample), and the mistake only surfaces at the loss "
                f"(\"batch size {rows} does not match {n} labels\")")
        details["rows"] = rows
    else:
        what = f"x.view(-1, {in_features}) fails: {total} values cannot be split into rows of {in_features}"
    hint = f"set in_features = {per_sample}"
    if len(rest) == 3:
        c, h, w = rest
        for k in range(1, 6):
            if h % 2 ** k == 0 and w % 2 ** k == 0 and c * (h // 2 ** k) * (w // 2 ** k) == in_features:
                hint = (f"the layer was sized for {('one', 'two', 'three', 'four', 'five')[k - 1]} 2×2 max-pooling "
                        f"step{'s' if k > 1 else ''} ({h}×{w} -> "
                        f"{h // 2 ** k}×{w // 2 ** k}), which {'are' if k > 1 else 'is'} missing: add nn.MaxPool2d(2) after "
                        f"{'each' if k > 1 else 'the'} conv block, or {hint}")
                details["missing_pools"] = k
                break
    return Finding("explain_flatten", True,
                   f"features {shape} hold {product} = {per_sample} values per sample, but the Linear layer "
                   f"expects in_features = {in_features}. {what}. Fix: {hint}; and flatten with x.flatten(1), "
                   f"which keeps the batch axis.", details)


def trace_shapes(model, x) -> str:
    """Run ``model(x)`` once (no gradients) and return each layer's input and output shapes.

    A PyTorch "shape reasoning" tool: every leaf module gets a forward hook that records
    its input and output shapes; an error stops the trace and is reported on the last
    line instead of raised. Returns the table as a string (print it).
    """
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"trace_shapes: model must be a torch.nn.Module, got {describe(model)}")
    rows, handles = [], []

    def hook(name):
        def record(module, inputs, output):
            shape_in = tuple(inputs[0].shape) if inputs and hasattr(inputs[0], "shape") else "?"
            shape_out = tuple(output.shape) if hasattr(output, "shape") else "?"
            rows.append((name, type(module).__name__, shape_in, shape_out))
        return record

    for name, module in model.named_modules():
        if name and not list(module.children()):
            handles.append(module.register_forward_hook(hook(name)))
    error = None
    try:
        with torch.no_grad():
            out = model(x)
    except Exception as exc:  # report, do not raise: this is a diagnostic
        error, out = f"{type(exc).__name__}: {exc}", None
    finally:
        for h in handles:
            h.remove()
    lines = [f"{'layer':<10} {'type':<10} {'input shape':<20} output shape",
             f"{'(input)':<10} {'':<10} {'':<20} {tuple(x.shape)}"]
    lines += [f"{n:<10} {t:<10} {str(i):<20} {o}" for n, t, i, o in rows]
    lines.append(f"stopped with {error}" if error else f"model output: {tuple(out.shape)}")
    return "\n".join(lines)


# ---------------------------------------------------------------------- zero_grad forgotten
class ZeroGradWatch:
    """Watch a PyTorch model for gradients that accumulate across steps.

    PyTorch *adds* each ``loss.backward()`` into ``p.grad``; ``optimizer.zero_grad()``
    resets it. The watch puts a hook on every parameter: the hook runs just before the
    new gradient is added, so if ``p.grad`` still holds a non-zero gradient from the
    previous backward, ``zero_grad`` was not called in between. ::

        watch = ZeroGradWatch(model)
        ... your training loop ...
        watch.report()      # a Finding; watch.grad_norms: ‖p.grad‖ after each backward
        watch.remove()      # take the hooks off

    (Accumulating on purpose over several mini-batches is legitimate; the report says
    how many backward passes found stale gradients, so you can tell.)
    """

    def __init__(self, model):
        import torch

        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"ZeroGradWatch: model must be a torch.nn.Module, got {describe(model)}")
        self.params = [p for p in model.parameters() if p.requires_grad]
        if not self.params:
            raise ValueError("ZeroGradWatch: the model has no trainable parameters")
        self.backward_passes = 0
        self.stale = 0
        self.grad_norms: list[float] = []
        self._pending = {}
        self._handles = [p.register_hook(self._make_hook(i)) for i, p in enumerate(self.params)]

    def _make_hook(self, i):
        def hook(grad):
            if i in self._pending:  # a new backward pass began before the last one was complete
                self._finish()
            old = self.params[i].grad
            stale = old is not None and bool((old != 0).any())
            total = grad if old is None else old + grad
            self._pending[i] = (stale, float(total.detach().double().pow(2).sum()))
            if len(self._pending) == len(self.params):
                self._finish()
            return grad
        return hook

    def _finish(self):
        if not self._pending:
            return
        self.backward_passes += 1
        self.stale += int(any(s for s, _ in self._pending.values()))
        self.grad_norms.append(math.sqrt(sum(q for _, q in self._pending.values())))
        self._pending = {}

    def report(self) -> Finding:
        """A ``Finding``: fires when any backward pass added to a non-zero ``.grad``."""
        self._finish()
        details = {"backward_passes": self.backward_passes, "stale": self.stale, "grad_norms": list(self.grad_norms)}
        if self.backward_passes == 0:
            return Finding("ZeroGradWatch", False, "no backward pass seen yet: call this after training steps.",
                           details)
        if self.stale:
            norms = ", ".join(f"{g:.3g}" for g in self.grad_norms[:5])
            return Finding("ZeroGradWatch", True,
                           f"{self.stale} of {self.backward_passes} backward passes added their gradient to an "
                           f"old, non-zero .grad: zero_grad() is missing, so each step uses the sum of all past "
                           f"gradients (gradient norm per step: {norms}{', ...' if len(self.grad_norms) > 5 else ''}). "
                           f"Call optimizer.zero_grad() at the start of every step.", details)
        return Finding("ZeroGradWatch", False, f"{self.backward_passes} backward passes, each started from "
                       f"zeroed gradients.", details)

    def remove(self):
        """Remove the hooks from the model."""
        for h in self._handles:
            h.remove()
        self._handles = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


# ------------------------------------------------------ fit plot (《Python 梯度下降》)
def check_fit_plot(ax, true_fn, label: str = "model", atol: float = 1e-9) -> Finding:
    """Check that the line labelled ``label`` in ``ax`` is not simply the true function.

    ``ax``: a matplotlib Axes after plotting; ``true_fn``: the function the data were made
    from, e.g. ``lambda x: 2 + 3 * x``. A fitted model never equals the true function to
    the last digit (it sees only noisy data), so a "model" line that matches ``true_fn``
    within ``atol`` everywhere was drawn from the formula, not from the learned parameters:
    the plot would look just as good with an untrained model.
    """
    callable_arg(true_fn, "true_fn", "check_fit_plot")
    if not hasattr(ax, "get_lines"):
        raise TypeError(f"check_fit_plot: ax must be a matplotlib Axes, got {describe(ax)}")
    lines = [ln for ln in ax.get_lines() if label.lower() in str(ln.get_label()).lower()]
    if not lines:
        labels = [str(ln.get_label()) for ln in ax.get_lines()]
        return Finding("check_fit_plot", False, f"no line labelled {label!r} found (line labels: {labels}); "
                       f"pass label= to choose the line to check.")
    for ln in lines:
        x = np.asarray(ln.get_xdata(), dtype=float)
        y = np.asarray(ln.get_ydata(), dtype=float)
        truth = np.asarray(true_fn(x), dtype=float)
        if truth.shape == y.shape and np.allclose(y, truth, atol=atol, rtol=0):
            return Finding("check_fit_plot", True,
                           f"the line {ln.get_label()!r} is exactly the true function at all {x.size} points: it "
                           f"was drawn from the formula, not from the trained parameters, so it says nothing about "
                           f"the model (an untrained model would look as good). Plot the prediction, e.g. "
                           f"X * W + b with the learned W and b.", {"max_abs_diff": float(np.max(np.abs(y - truth)))})
    diff = max(float(np.max(np.abs(np.asarray(ln.get_ydata(), float) - np.asarray(true_fn(np.asarray(ln.get_xdata(), float)), float))))
               for ln in lines)
    return Finding("check_fit_plot", False, f"the {label!r} line differs from the true function (by up to "
                   f"{diff:.3g}), as a fitted model should.", {"max_abs_diff": diff})
