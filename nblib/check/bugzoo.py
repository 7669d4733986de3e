"""Checkers for notebook 11 (the bug zoo)."""

from __future__ import annotations

import math

import numpy as np

from .._validate import describe
from ._core import CheckResult, Diagnosis, _call, check_function, require_function, returned

__all__ = ["BUGS", "SNIPPETS", "which_bug", "first_divergence", "looks_like_probs", "flat_features"]

#: exported names that are data, not checkers
HELPERS = ("BUGS", "SNIPPETS")

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


#: snippet id -> what to look at, without the answer (the second hint step of which_bug)
NUDGES = {
    "A": "follow p.grad from one loop iteration to the next: what sets it back to zero?",
    "B": "what does nn.CrossEntropyLoss do to the scores it is given, and what does forward() give it?",
    "C": "compare the shape of grad_w with the shape of w: how many gradients does it hold?",
    "D": "read it line by line against the five steps of a training step (section 6).",
    "E": "count the poolings and follow height and width through each line: how many values per image reach view()?",
    "F": "which layer is the output layer, and what may its scores be after the last line?",
    "G": "which numbers does the plotted line come from: the trained W and b, or something else?",
}


def which_bug(fn) -> CheckResult:
    """Check ``fn() -> {"A": label, "B": label, ...}`` for the snippets in ``SNIPPETS``.

    Labels are the keys of ``BUGS`` (``"none"`` for correct code). A wrong answer is
    explained in steps: which snippets are wrong, then what to look at in each
    (``NUDGES``), then why (the answer).
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
                           f"{describe(value)}", fn, None)
    missing = [k for k in SNIPPETS if k not in value]
    if missing:
        return CheckResult(name, "fail", f"no answer for snippet(s) {', '.join(missing)}; answer each with one "
                           f"of {', '.join(repr(b) for b in BUGS)}", fn, None)
    unknown = {k: v for k, v in value.items() if k in SNIPPETS and v not in BUGS}
    if unknown:
        k, v = next(iter(unknown.items()))
        return CheckResult(name, "fail", f"snippet {k}: {v!r} is not a bug label; use one of "
                           f"{', '.join(repr(b) for b in BUGS)} (exactly as written, lower case)", fn, None)
    wrong = [k for k in SNIPPETS if value[k] != SNIPPETS[k][1]]
    if wrong:
        first = (f"{len(wrong)} of {len(SNIPPETS)} wrong: snippet{'s' if len(wrong) > 1 else ''} "
                 f"{', '.join(wrong)}. Read {'them' if len(wrong) > 1 else 'it'} again line by line"
                 + ("; note that one snippet has no bug at all" if all(value[k] != "none" for k in SNIPPETS) else "")
                 + ".")
        second = " ".join(f"{k}: {NUDGES[k]}" for k in wrong)
        third = " ".join(f"{k}: it is {SNIPPETS[k][1]!r} ({SNIPPETS[k][2]})." for k in wrong)
        return CheckResult(name, "fail", first, fn, None, hints=(second, third))
    return CheckResult(name, "pass", f"all {len(SNIPPETS)} snippets diagnosed, including the one without a bug.",
                       fn, None)


# ------------------------------------------------ first divergence: bisect against a reference
def _ref_first_divergence(reference, mine, rtol=1e-4, atol=1e-6):
    for (name, ref), (_, out) in zip(reference, mine):
        ref, out = np.asarray(ref, dtype=float), np.asarray(out, dtype=float)
        if ref.shape != out.shape or not np.allclose(out, ref, rtol=rtol, atol=atol):
            return name
    return None


def _divergence_cases():
    """``(reference trace, my trace, why this case)``; the expected answer is the reference's."""
    rng = np.random.default_rng(11)
    x = rng.normal(size=(4, 3))
    big = rng.normal(size=(4, 5)) * 3e3                     # large activations
    small = rng.normal(size=(4, 5)) * 1e-3                  # small activations
    base = [("fc1", x @ rng.normal(size=(3, 5))), ("relu", np.maximum(big, 0)), ("fc2", small),
            ("softmax", np.full((4, 2), 0.5))]

    def trace(**changes):
        return [(n, changes.get(n, a)) for n, a in base]

    noise = {n: a * (1 + 1e-7 * rng.standard_normal(a.shape)) for n, a in base}   # float32-level rounding
    permuted = base[2][1][:, ::-1].copy()                   # same values, same mean, other places
    nan = base[3][1].copy()
    nan[1, 0] = np.nan
    flat = base[1][1].reshape(5, 4)                        # same 20 values, another shape
    return [
        (base, trace(**noise), "every layer agrees up to float32 rounding"),
        (base, trace(relu=base[1][1] + 1.0, softmax=base[3][1] * 2), "relu and softmax both differ"),
        (base, trace(fc2=permuted), "fc2 holds the right values in the wrong places"),
        (base, trace(softmax=nan), "softmax has a NaN"),
        (base, trace(relu=flat), "relu holds the same values in another shape"),
        (base, trace(softmax=base[3][1][:1]), "softmax has one row where the reference has 4"),
        (base, trace(fc2=base[2][1] + 2e-4), "fc2 is off by 2e-4 (large for values of size 1e-3)"),
        (base[:1], trace(**noise)[:1], "a single layer that agrees"),
    ]


def first_divergence(fn) -> CheckResult:
    """Check ``fn(reference, mine, rtol=1e-4, atol=1e-6) -> str | None``: the name of the first
    layer whose output in ``mine`` disagrees with ``reference`` (lists of ``(name, array)``),
    or ``None`` when all agree. Disagree: another shape, or not ``np.allclose(mine, ref, rtol,
    atol)`` (a NaN is never close)."""
    name = "first_divergence"
    ref_fn = _ref_first_divergence
    not_callable = require_function(name, fn, ref_fn)
    if not_callable is not None:
        return not_callable
    wrongs = [
        ("last", lambda r, m: ([n for (n, a), (_, b) in zip(r, m) if _ref_first_divergence([(n, a)], [(n, b)])]
                               or [None])[-1],
         ("you report a later layer than the first one that disagrees.",
          "Return as soon as you meet the first disagreeing layer: a bug upstream changes every layer after it, "
          "so only the first one locates it.")),
        ("exact", lambda r, m: next((n for (n, a), (_, b) in zip(r, m)
                                     if np.shape(a) != np.shape(b) or not np.array_equal(a, b)), None),
         ("you flag layers that agree up to rounding: two correct implementations (float32 and float64, "
          "another summation order) rarely agree to the last bit.",
          "Compare with a tolerance, not ==: np.allclose(mine, ref, rtol=rtol, atol=atol).")),
        ("absolute", lambda r, m: next((n for (n, a), (_, b) in zip(r, m)
                                        if np.shape(a) != np.shape(b) or not np.allclose(b, a, rtol=0, atol=1e-6)),
                                       None),
         ("you flag a layer of large values (about 3000) that agrees to 7 digits: an absolute tolerance alone is "
          "far too strict there.",
          "Let the tolerance grow with the size of the values: |mine - ref| <= atol + rtol * |ref|, which is "
          "what np.allclose(mine, ref, rtol=rtol, atol=atol) checks.")),
        ("no shape", lambda r, m: next((n for (n, a), (_, b) in zip(r, m)
                                        if not (np.size(a) == np.size(b) and np.allclose(np.ravel(b), np.ravel(a),
                                                                                         rtol=1e-4, atol=1e-6))),
                                       None),
         ("you miss a layer that holds the right values in another shape (the flatten bug of section 5 keeps "
          "every value and still breaks the batch).",
          "Compare the shapes first (ref.shape != mine.shape means they disagree): ravel() hides a wrong shape, "
          "and np.allclose broadcasts (1, 2) against (4, 2).")),
        ("broadcast", lambda r, m: next((n for (n, a), (_, b) in zip(r, m)
                                         if not np.allclose(b, a, rtol=1e-4, atol=1e-6)), None),
         ("you miss a layer whose output has the wrong number of rows, because np.allclose broadcasts one row "
          "against four.",
          "Compare the shapes first: ref.shape != mine.shape means they disagree, whatever the values.")),
        ("nan", lambda r, m: next((n for (n, a), (_, b) in zip(r, m)
                                   if np.shape(a) != np.shape(b)
                                   or np.max(np.abs(np.asarray(b) - a)) > 1e-6 + 1e-4 * np.max(np.abs(a))), None),
         ("you miss a NaN: a comparison like max(|mine - ref|) > tol is False when the difference is NaN.",
          "Use np.allclose (a NaN is never close to anything) or test np.isnan explicitly.")),
        ("summary", lambda r, m: next((n for (n, a), (_, b) in zip(r, m)
                                       if np.shape(a) != np.shape(b)
                                       or not np.isclose(np.mean(b), np.mean(a), rtol=1e-4, atol=1e-6)), None),
         ("you miss a layer whose values are right but in the wrong places: a summary (mean, sum, norm) "
          "cannot see that.",
          "Compare entry by entry, np.allclose(mine, ref, rtol=rtol, atol=atol), not a summary of each layer.")),
        ("loose", lambda r, m: next((n for (n, a), (_, b) in zip(r, m)
                                     if np.shape(a) != np.shape(b) or not np.allclose(b, a, rtol=1e-4, atol=1e-3)),
                                    None),
         ("you miss a difference of 2e-4 in a layer whose values are about 1e-3: your absolute tolerance is too "
          "loose for small values.",
          "Use the tolerances you are given (rtol=1e-4, atol=1e-6) and pass them on to np.allclose.")),
    ]
    for k, (reference, mine, why) in enumerate(_divergence_cases(), 1):
        expected = _ref_first_divergence(reference, mine)
        value, err = _call(fn, ([(n, np.copy(a)) for n, a in reference], [(n, np.copy(a)) for n, a in mine]))
        if err:
            return CheckResult(name, err[0], err[1] if err[0] == "todo" else f"{err[1]} on test case {k} ({why}).",
                               fn, ref_fn)
        if value is not None and not isinstance(value, str):
            hint = ("return the layer's name (a str such as 'fc2'), not its position"
                    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else
                    "return None (not False, '' or 0) when every layer agrees" if not value else
                    "return the name of the first disagreeing layer (a str) or None")
            return CheckResult(name, "fail", f"returned {returned(value)} on test case {k} ({why}); {hint}.",
                               fn, ref_fn)
        if value == expected:
            continue
        where = f" Seen on test case {k}: {why}; expected {expected!r}, got {value!r}."
        for label, wrong, steps in wrongs:
            try:
                if wrong(reference, mine) == value:
                    return CheckResult(name, "fail", steps[0] + where, fn, ref_fn, hints=steps[1:])
            except Exception:
                continue
        return CheckResult(name, "fail", f"wrong answer.{where}", fn, ref_fn,
                           hints=("Go through the two lists together; for each layer compare the shapes, then "
                                  "the values with np.allclose(mine, ref, rtol=rtol, atol=atol); return the first "
                                  "name that fails, or None after the loop.",))
    return CheckResult(name, "pass", "correct: shapes first, then values with a tolerance that scales with them; "
                       "the first disagreeing layer is where to look.", fn, ref_fn)


# ------------------------------------- looks like probabilities (《数学基础》, 《数学基础概览》)
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
        (np.array([[0.2, 0.5, 0.9], [0.8, 0.5, 0.1]]),),   # the *columns* sum to 1, the rows do not -> False
        (np.array([[0.9, 0.6], [0.3, 0.2]]),),      # all values sum to n = 2, the rows do not sum to 1 -> False
    ]


def looks_like_probs(fn) -> CheckResult:
    """Check ``fn(outputs (n, C)) -> bool``: True when every row is in [0, 1] and sums to 1.

    Cases: softmax output, logits, ReLU output, sigmoid output, rows summing to 1 with a
    negative entry, probabilities whose row sums are 1 only up to rounding, a matrix whose
    columns (not rows) sum to 1, and one whose entries sum to n without each row summing to 1.
    """
    def only_sum(z):
        return bool(np.allclose(z.sum(axis=1), 1.0))

    def only_range(z):
        return bool(np.all(z >= 0) and np.all(z <= 1))

    def exact(z):
        return bool(np.all(z >= 0) and np.all(z <= 1) and np.all(z.sum(axis=1) == 1.0))

    diagnoses = [
        ("columns", lambda z: bool(only_range(z) and np.allclose(z.sum(axis=0), 1.0)),
         ("you summed the wrong axis.",
          "outputs has shape (n, C): one row per sample, so each row (axis=1) must sum to 1.")),
        ("total", lambda z: bool(only_range(z) and np.isclose(z.sum(), len(z))),
         ("a total of n over the whole batch is not enough: each row must sum to 1.",
          "Sum over axis=1 and compare every row sum with 1: np.allclose(z.sum(axis=1), 1.0).")),
        ("only sum", only_sum, ("checking that rows sum to 1 is not enough: [2, -1] sums to 1 too.",
                                "Also require every entry to lie in [0, 1].")),
        ("only range", only_range, ("values in [0, 1] alone are not enough: sigmoid outputs are in (0, 1) too.",
                                    "Also require each row to sum to 1.")),
        ("exact", exact, ("comparing a float sum with == 1.0 fails by rounding (0.7 + 0.2 + 0.1 is "
                          "0.9999999999999999 in floats).", "Compare with a tolerance: np.allclose(rows, 1.0).")),
    ]
    name, cases = "looks_like_probs", _prob_cases()
    not_callable = require_function(name, fn, _ref_looks_like_probs)
    if not_callable is not None:
        return not_callable
    got = []
    for k, (z,) in enumerate(cases, 1):
        value, err = _call(fn, (z.copy(),))
        if err:
            return CheckResult(name, err[0], err[1] if err[0] == "todo" else f"{err[1]} on test case {k}.",
                               fn, _ref_looks_like_probs)
        if not isinstance(value, (bool, np.bool_)):
            return CheckResult(name, "fail", f"returned {returned(value)} on test case {k}; return True or False "
                               f"(wrap a numpy result in bool(...)).", fn, _ref_looks_like_probs)
        got.append(bool(value))
    expected = [_ref_looks_like_probs(z) for (z,) in cases]
    if got == expected:
        return CheckResult(name, "pass", "correct: a cheap test that catches a softmax before a cross-entropy.",
                           fn, _ref_looks_like_probs)
    # a diagnosis explains the mistake when it gives the learner's answers on every case
    k = next(i for i, (g, e) in enumerate(zip(got, expected)) if g != e)
    where = (f" Seen on test case {k + 1} (shape {cases[k][0].shape}): you said {got[k]}, "
             f"the answer is {expected[k]}.")
    for _, wrong, steps in diagnoses:
        if [wrong(z) for (z,) in cases] == got:
            return CheckResult(name, "fail", steps[0] + where, fn, _ref_looks_like_probs, hints=steps[1:])
    return CheckResult(name, "fail", "wrong answer." + where, fn, _ref_looks_like_probs,
                       hints=("Both conditions, on every row: all entries in [0, 1], and each row sum equal to 1 "
                              "up to rounding (np.allclose).",))


# --------------------------------------------------------------- flatten size (《一切皆是映射》)
def _ref_flat_features(channels, height, width, n_pools):
    return channels * (height // 2 ** n_pools) * (width // 2 ** n_pools)


_FLAT_CASES = [(32, 28, 28, 1), (64, 28, 28, 2), (64, 28, 28, 0),
               (5, 27, 13, 3),      # 27 -> 13 -> 6 -> 3 and 13 -> 6 -> 3 -> 1: 15, not 27.4 (/), 40 (ceil), 30 (round)
               (8, 15, 15, 1),      # 15 -> 7: the odd row and column are dropped
               (16, 30, 22, 2)]     # 30 -> 15 -> 7 and 22 -> 11 -> 5


def flat_features(fn) -> CheckResult:
    """Check ``fn(channels, height, width, n_pools) -> int``: the length of one flattened sample
    after ``n_pools`` 2×2 max-pooling steps (convolutions with padding keep the size). Each
    pooling, like ``nn.MaxPool2d(2)``, rounds *down* (an odd last row or column is dropped);
    the cases include sizes that do not divide evenly, and the answer must be an ``int``."""
    result = check_function(
        "flat_features", fn, reference=_ref_flat_features, scalar=True, cases=_FLAT_CASES,
        diagnoses=[
            Diagnosis("no pools", lambda c, h, w, k: c * h * w,
                      ("you ignored the pooling.", "Each 2×2 max-pooling halves height and width.")),
            Diagnosis("no channels", lambda c, h, w, k: (h // 2 ** k) * (w // 2 ** k),
                      ("you forgot the channels.", "Every one of the C feature maps is flattened: multiply by C.")),
            Diagnosis("one pool", lambda c, h, w, k: c * (h // 2) * (w // 2),
                      ("you halved only once.", "Each of the n_pools steps halves the size again (÷2**n_pools).")),
            Diagnosis("divide area", lambda c, h, w, k: c * h * w // 2 ** k,
                      ("your size shrinks too slowly.",
                       "One 2×2 pooling divides the *area* by 4 (height and width by 2 each), not by 2.")),
            Diagnosis("float division", lambda c, h, w, k: c * (h / 2 ** k) * (w / 2 ** k),
                      ("your answer is not a whole number for a size that does not divide evenly.",
                       "A pooled map has a whole number of rows: nn.MaxPool2d(2) turns 27 rows into 13 (the last "
                       "row is dropped). Divide with //, not /.")),
            Diagnosis("area division", lambda c, h, w, k: int(c * h * w / 4 ** k),
                      ("your answer is too large when height or width does not divide evenly.",
                       "Dividing the whole area by 4**k is not the same as rounding height and width down "
                       "separately: 27×13 pooled three times is 3×1, not 27·13/64 = 5.5. Round each side down.")),
            Diagnosis("round up", lambda c, h, w, k: c * math.ceil(h / 2 ** k) * math.ceil(w / 2 ** k),
                      ("you round up where pooling rounds down.",
                       "nn.MaxPool2d(2) drops an odd last row or column (27 -> 13, not 14); round down with //.")),
            Diagnosis("round", lambda c, h, w, k: c * round(h / 2 ** k) * round(w / 2 ** k),
                      ("you round to the nearest whole number where pooling rounds down.",
                       "27 rows pooled three times: 27 -> 13 -> 6 -> 3. Use // (floor), at each step or once "
                       "with 2**n_pools.")),
        ],
        success="correct: C · ⌊H / 2^k⌋ · ⌊W / 2^k⌋; for the CNN of 《一切皆是映射》 with two poolings, "
                "64·7·7 = 3136.")
    if result.status == "pass":
        for k, args in enumerate(_FLAT_CASES, 1):
            value, _ = _call(fn, args)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                return CheckResult("flat_features", "fail",
                                   f"the number is right but you returned {describe(value)} on test case {k} "
                                   f"(inputs {args}); return an int: nn.Linear(in_features, ...) needs one.",
                                   fn, _ref_flat_features,
                                   hints=("Use // for every division (h // 2 ** n_pools), or wrap the result in "
                                          "int(...) once it is exact.",))
    return result
