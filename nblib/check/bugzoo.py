"""Checkers for notebook 11 (the bug zoo)."""

from __future__ import annotations

import numpy as np

from .._validate import describe
from ._core import CheckResult, Diagnosis, _call, check_function

__all__ = ["BUGS", "SNIPPETS", "which_bug", "averaged_gradients", "looks_like_probs", "flat_features"]

#: the bug labels a learner chooses from (exercise "which bug")
BUGS = {
    "no_average": "per-sample gradients never averaged over the batch",
    "double_softmax": "softmax output fed into a cross-entropy that applies softmax again",
    "relu_logits": "ReLU applied to the final logits",
    "flatten_size": "conv features flattened with the wrong size",
    "true_function_plot": "the true function plotted and called the model",
    "no_zero_grad": "zero_grad forgotten: gradients accumulate",
    "none": "no bug",
}

#: snippet id -> (code shown in the notebook, right answer, why)
SNIPPETS = {
    "A": ("for X, y in loader:\n"
          "    loss = F.cross_entropy(model(X), y)\n"
          "    loss.backward()\n"
          "    optimizer.step()",
          "no_zero_grad", "nothing resets p.grad, so every step adds the new gradient to all the old ones"),
    "B": ("def forward(self, x):\n"
          "    x = torch.relu(self.fc1(x))\n"
          "    return torch.softmax(self.fc2(x), dim=1)\n"
          "...\n"
          "loss = nn.CrossEntropyLoss()(model(X), y)",
          "double_softmax", "CrossEntropyLoss applies log-softmax itself; forward() must return the raw scores"),
    "C": ("err = X @ w - y                # X: (n, d), w: (d,), y: (n,)\n"
          "grad_w = 2 * X * err[:, None]  # (n, d)\n"
          "w -= lr * grad_w",
          "no_average", "grad_w holds one gradient per sample (n, d); the mean-loss gradient is its mean over axis 0"),
    "D": ("optimizer.zero_grad()\n"
          "loss = F.cross_entropy(model(X), y)\n"
          "loss.backward()\n"
          "optimizer.step()",
          "none", "this is the correct training step: zero_grad, forward, loss, backward, step"),
    "E": ("x = self.pool(torch.relu(self.conv1(x)))   # 28x28 -> 14x14\n"
          "x = torch.relu(self.conv2(x))              # no pooling: stays 14x14\n"
          "x = x.view(-1, 64 * 7 * 7)",
          "flatten_size", "after one pooling the features are 64x14x14 per image, four times 64*7*7"),
    "F": ("def forward(self, x):\n"
          "    x = torch.relu(self.fc1(x))\n"
          "    return torch.relu(self.fc2(x))   # fc2 is the output layer",
          "relu_logits", "the output layer's scores are clamped at 0, so wrong classes cannot be pushed below 0"),
    "G": ("W, b = train(X, Y)\n"
          "plt.plot(X, 2 + 3 * X, label='model')",
          "true_function_plot", "the line is the formula the data came from, not W * X + b"),
}


def which_bug(fn) -> CheckResult:
    """Check ``fn() -> {"A": label, "B": label, ...}`` for the snippets in ``SNIPPETS``.

    Labels are the keys of ``BUGS`` (``"none"`` for correct code). Each wrong answer is
    explained.
    """
    name = "which_bug"
    if not callable(fn):
        return CheckResult(name, "fail", f"expected a function, got {describe(fn)}. Pass the function itself, "
                           "without calling it: check.which_bug(my_answers)", fn, None)
    value, err = _call(fn, ())
    if err:
        return CheckResult(name, err[0], err[1], fn, None)
    if not isinstance(value, dict):
        return CheckResult(name, "fail", f"return a dict like {{'A': 'no_zero_grad', ...}}, got "
                           f"{type(value).__name__}", fn, None)
    missing = [k for k in SNIPPETS if k not in value]
    if missing:
        return CheckResult(name, "fail", f"no answer for snippet(s) {', '.join(missing)}; answer each with one "
                           f"of {', '.join(repr(b) for b in BUGS)}", fn, None)
    unknown = {k: v for k, v in value.items() if k in SNIPPETS and v not in BUGS}
    if unknown:
        k, v = next(iter(unknown.items()))
        return CheckResult(name, "fail", f"snippet {k}: {v!r} is not a bug label; use one of "
                           f"{', '.join(repr(b) for b in BUGS)}", fn, None)
    wrong = [f"{k}: it is {SNIPPETS[k][1]!r} ({SNIPPETS[k][2]})." for k in SNIPPETS if value[k] != SNIPPETS[k][1]]
    if wrong:
        return CheckResult(name, "fail", f"{len(wrong)} of {len(SNIPPETS)} wrong. " + " ".join(wrong), fn, None)
    return CheckResult(name, "pass", f"all {len(SNIPPETS)} snippets diagnosed, including the one without a bug.",
                       fn, None)


# ------------------------------------------------------------- averaged gradients (seed 001)
def _ref_averaged(X, Y, W, b):
    err = X * W + b - Y
    return np.array([np.mean(2 * err * X)]), np.array([np.mean(2 * err)])


def _grad_cases():
    rng = np.random.default_rng(21)
    x = np.linspace(-3, 3, 100)
    return [
        (x, 2 + 3 * x + 0.5 * rng.standard_normal(100), np.array([0.5]), np.array([0.1])),
        (x[:7], rng.normal(size=7), np.array([-1.0]), np.array([2.0])),
        (rng.normal(size=30), rng.normal(size=30), np.array([3.0]), np.array([-0.5])),
    ]


def averaged_gradients(fn) -> CheckResult:
    """Check ``fn(X (n,), Y (n,), W (1,), b (1,)) -> (dW (1,), db (1,))`` for the *mean* squared error.

    Recognised mistakes: per-sample gradients (shape (n,)), the sum instead of the mean,
    the missing 2, the sign (target minus prediction).
    """
    name = "averaged_gradients"
    if not callable(fn):
        return CheckResult(name, "fail", f"expected a function, got {describe(fn)}. Pass the function itself, "
                           "without calling it: check.averaged_gradients(my_fn)",
                           fn, _ref_averaged)
    X, Y, W, b = _grad_cases()[0]
    value, err = _call(fn, (X.copy(), Y.copy(), W.copy(), b.copy()))
    if err:
        return CheckResult(name, err[0], err[1], fn, _ref_averaged)
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        return CheckResult(name, "fail", "return a pair (dW, db)", fn, _ref_averaged)
    for label, g in zip(("dW", "db"), value):
        shape = np.shape(g)
        if shape != (1,) and np.size(g) == X.size:
            return CheckResult(name, "fail", f"{label} has shape {shape}: one gradient per sample. The loss is "
                               f"the mean over the {X.size} samples, so its gradient is the mean of these: "
                               f"take .mean() (and keep the shape (1,) of the parameter)", fn, _ref_averaged)

    def stacked(f):
        def g(*args):
            dW, db = f(*args)
            return np.concatenate([np.ravel(dW), np.ravel(db)])
        return g

    def ref(*a):
        return stacked(_ref_averaged)(*a)

    result = check_function(
        name, stacked(fn), reference=ref, cases=_grad_cases(),
        diagnoses=[
            Diagnosis("sum", lambda X, Y, W, b: len(X) * ref(X, Y, W, b),
                      "your gradient is n times too large: you summed over the samples, but the loss is their "
                      "mean; use .mean() (with a sum, lr = 0.01 diverges on 100 points)"),
            Diagnosis("no 2", lambda X, Y, W, b: ref(X, Y, W, b) / 2,
                      "the factor 2 from differentiating the square is missing"),
            Diagnosis("sign", lambda X, Y, W, b: -ref(X, Y, W, b),
                      "sign error: use the prediction minus the target, (X*W + b - Y)"),
        ],
        success="correct: dW = mean(2(XW + b - Y)X), db = mean(2(XW + b - Y)), both of shape (1,).")
    result.candidate, result.reference = fn, _ref_averaged
    return result


# --------------------------------------------------------- looks like probabilities (seeds 000/002)
def _ref_looks_like_probs(outputs):
    z = np.asarray(outputs, dtype=float)
    return bool(np.all(z >= 0) and np.all(z <= 1) and np.allclose(z.sum(axis=1), 1.0, atol=1e-6, rtol=0))


def _prob_cases():
    rng = np.random.default_rng(5)
    logits = rng.normal(size=(6, 4))
    e = np.exp(logits)
    probs = e / e.sum(axis=1, keepdims=True)
    probs3 = np.array([[0.7, 0.2, 0.1], [0.6, 0.3, 0.1]])   # each row sums to 0.9999999999999999 in floats
    return [
        (probs,),                                   # softmax output -> True
        (logits,),                                  # real logits -> False
        (np.maximum(logits, 0),),                   # ReLU output: non-negative, rows do not sum to 1 -> False
        (1 / (1 + np.exp(-logits)),),               # sigmoid output: in (0, 1), rows do not sum to 1 -> False
        (np.array([[2.0, -1.0], [0.5, 0.5]]),),     # rows sum to 1 but hold a negative number -> False
        (probs3,),                                  # probabilities whose row sums round to 0.9999999999999999
    ]


def looks_like_probs(fn) -> CheckResult:
    """Check ``fn(outputs (n, C)) -> bool``: True when every row is in [0, 1] and sums to 1.

    Cases: softmax output, logits, ReLU output, sigmoid output, rows summing to 1 with a
    negative entry, and probabilities whose row sums are 1 only up to rounding.
    """
    def only_sum(z):
        return bool(np.allclose(z.sum(axis=1), 1.0))

    def only_range(z):
        return bool(np.all(z >= 0) and np.all(z <= 1))

    def exact(z):
        return bool(np.all(z >= 0) and np.all(z <= 1) and np.all(z.sum(axis=1) == 1.0))

    return check_function(
        "looks_like_probs", fn, reference=_ref_looks_like_probs, cases=_prob_cases(), scalar=True,
        diagnoses=[
            Diagnosis("only sum", only_sum, "checking that rows sum to 1 is not enough: [2, -1] sums to 1 too. "
                      "Also require every entry to lie in [0, 1]"),
            Diagnosis("only range", only_range, "values in [0, 1] alone are not enough: sigmoid outputs are in "
                      "(0, 1) too. Also require each row to sum to 1"),
            Diagnosis("exact", exact, "comparing a float sum with == 1.0 fails by rounding (0.7 + 0.2 + 0.1 "
                      "is 0.9999999999999999 in floats). Compare with a tolerance: np.allclose(rows, 1.0)"),
        ],
        success="correct: a cheap test that catches a softmax before a cross-entropy.")


# ------------------------------------------------------------------- flatten size (seed 004)
def _ref_flat_features(channels, height, width, n_pools):
    return channels * (height // 2 ** n_pools) * (width // 2 ** n_pools)


def flat_features(fn) -> CheckResult:
    """Check ``fn(channels, height, width, n_pools) -> int``: the length of one flattened sample
    after ``n_pools`` 2×2 max-pooling steps (convolutions with padding keep the size)."""
    return check_function(
        "flat_features", fn, reference=_ref_flat_features, scalar=True,
        cases=[(32, 28, 28, 1), (64, 28, 28, 2), (64, 28, 28, 0), (16, 32, 24, 3), (8, 10, 10, 1)],
        diagnoses=[
            Diagnosis("no pools", lambda c, h, w, k: c * h * w,
                      "you ignored the pooling: each 2×2 max-pooling halves height and width"),
            Diagnosis("no channels", lambda c, h, w, k: (h // 2 ** k) * (w // 2 ** k),
                      "you forgot the channels: every one of the C feature maps is flattened"),
            Diagnosis("one pool", lambda c, h, w, k: c * (h // 2) * (w // 2),
                      "you halved only once: each of the n_pools steps halves the size again (÷2**n_pools)"),
            Diagnosis("divide area", lambda c, h, w, k: c * h * w // 2 ** k,
                      "one 2×2 pooling divides the *area* by 4 (height and width by 2 each), not by 2"),
        ],
        success="correct: C · (H / 2^k) · (W / 2^k); for seed 004's net with two poolings, 64·7·7 = 3136.")


