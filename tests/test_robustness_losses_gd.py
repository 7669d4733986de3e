"""nblib.losses, gradcheck, gd and data called as a learner would: each call is a named error
(rows of ``Bad``, checked like tests/test_robustness.py) or a correct result (``Fine`` rows,
compared with an independent computation)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest

from test_robustness import Bad

from nblib import data as D
from nblib import gd
from nblib import gradcheck as GC
from nblib import losses as L
from nblib.optim import SGD
from nblib.widgets import gd as WG

torch = pytest.importorskip("torch")

X = np.linspace(-3, 3, 10)
Y = 2 + 3 * X


def _bowl(t):
    return float(t @ t), 2 * t


ROWS = [
    # ---------------------------------------------------------------- gradcheck
    Bad("numerical_gradient of an f that forgets return", lambda: GC.numerical_gradient(lambda v: None, np.ones(3)),
        TypeError, r"^numerical_gradient: f returned None", r"f must return the loss, one number",
        r"no `return` statement"),
    Bad("numerical_gradient of an f returning NaN", lambda: GC.numerical_gradient(lambda v: np.nan, np.ones(3)),
        ValueError, r"^numerical_gradient: f returned nan", r"is f finite near x", r"returned nan"),
    Bad("numerical_gradient of an f returning a string", lambda: GC.numerical_gradient(lambda v: "1", np.ones(3)),
        TypeError, r"^numerical_gradient: f", r"must return a number", r"got str '1'"),
    Bad("numerical_gradient of an f returning a bool", lambda: GC.numerical_gradient(lambda v: v[0] > 0, np.ones(3)),
        TypeError, r"^numerical_gradient: f", r"must return a number", r"got .*bool"),
    Bad("numerical_gradient of an f returning the array", lambda: GC.numerical_gradient(lambda v: v * 2, np.ones(3)),
        ValueError, r"^numerical_gradient: f", r"must return a scalar", r"shape \(3,\)"),
    Bad("check_gradient with a grad_f that forgets return",
        lambda: GC.check_gradient(lambda v: v @ v, lambda v: None, np.ones(3)), TypeError,
        r"^check_gradient: grad_f returned None", r"an array of shape \(3,\)", r"no `return` statement"),
    # ---------------------------------------------------------------- gd
    Bad("linreg_grad called with notebook 02's argument order (x, y, w, b)",
        lambda: gd.linreg_grad(X, Y, 1.0, 0.0), TypeError, r"^linreg_grad: the arguments are \(w, b, x, y\)",
        r"parameters first", r"an array for w and a number for x"),
    Bad("linreg_loss with w of shape (1,)", lambda: gd.linreg_loss(np.array([1.0]), 0.0, X, Y), TypeError,
        r"^linreg_loss: w", r"must be a number.*float\(w\) or w\[0\]", r"shape \(1,\)"),
    Bad("gradient_descent with (grad, loss) swapped",
        lambda: gd.gradient_descent(lambda t: (2 * t, float(t @ t)), [1.0, 2.0], 0.1, 5), TypeError,
        r"^gradient_descent: loss_and_grad", r"return \(loss, grad\) in that order", r"shape \(2,\)"),
    Bad("gradient_descent with a gradient of None",
        lambda: gd.gradient_descent(lambda t: (float(t @ t), None), [1.0], 0.1, 5), TypeError,
        r"^gradient_descent: the gradient from loss_and_grad", r"array of numbers", r"NoneType None"),
    Bad("run_optimizer given a torch.optim optimizer",
        lambda: gd.run_optimizer(_bowl, [1.0], torch.optim.SGD([torch.zeros(1)], lr=0.1), 5), TypeError,
        r"^run_optimizer: optimizer", r"nblib.optim optimizer", r"torch.optim.sgd.SGD; a torch.optim optimizer"),
    Bad("minibatch_sgd with a schedule that returns a negative rate",
        lambda: gd.minibatch_sgd(X, Y, [0, 0], 0.1, 5, 2, schedule=lambda e: -0.5), ValueError,
        r"^minibatch_sgd: the rate schedule\(0\)", r"must be > 0", r"got -0.5"),
    Bad("minibatch_sgd with a schedule that is a number",
        lambda: gd.minibatch_sgd(X, Y, [0, 0], 0.1, 5, 2, schedule=0.1), TypeError,
        r"^minibatch_sgd: schedule", r"must be a function", r"float 0.1"),
    Bad("descend with a negative tol", lambda: gd.descend(_bowl, [1, 2], 0.1, 10, -1e-6), ValueError,
        r"^descend: tol", r">= 0", r"-1e-06"),
    Bad("descend with max_steps as a float", lambda: gd.descend(_bowl, [1, 2], 0.1, 10.0, 1e-6), TypeError,
        r"^descend: max_steps", r"an integer", r"float 10.0"),
    Bad("descend with a loss_and_grad that returns the loss only",
        lambda: gd.descend(lambda t: float(t @ t), [1.0], 0.1, 10, 1e-6), TypeError,
        r"^descend: loss_and_grad", r"a pair \(loss, grad\)", r"float 1.0"),
    Bad("divergence of a string", lambda: gd.divergence("inf", 1.0), TypeError,
        r"^divergence: loss", r"must be a number", r"str 'inf'"),
    Bad("divergence of a per-sample loss vector", lambda: gd.divergence(np.ones(3), 1.0), TypeError,
        r"^divergence: loss", r"must be a number", r"shape \(3,\)"),
    # ---------------------------------------------------------------- data
    Bad("linear_data with x_range a number", lambda: D.linear_data(x_range=3), TypeError,
        r"^linear_data: x_range", r"a pair \(lo, hi\)", r"int 3"),
    Bad("linear_data with x_range reversed", lambda: D.linear_data(x_range=(3, -3)), ValueError,
        r"^linear_data: x_range", r"lo < hi", r"\(3, -3\)"),
    Bad("linear_data with w a string", lambda: D.linear_data(w="3"), TypeError,
        r"^linear_data: w", r"a finite number", r"str '3'"),
    # ---------------------------------------------------------------- the notebook-02/03 explorers
    Bad("gd_explorer given x without y", lambda: WG.gd_explorer(x=[1.0, 2.0]),
        TypeError, r"^gd_explorer: pass both x and y", r"or neither", r"got only x"),
    Bad("gd_run on a constant x", lambda: WG.gd_run(0.1, 5, 0, 0, [1.0] * 3, [1.0, 2.0, 3.0]),
        ValueError, r"^gd_run: x", r"at least two different values", r"3 equal to 1"),
    Bad("optimizer_race rules a list", lambda: WG.optimizer_race(rules=[1]),
        TypeError, r"^optimizer_race: rules", r"a dict \{optimizer name: step function\}", r"list \[1\]"),
    # ---------------------------------------------------------------- losses
    Bad("cross_entropy with probabilities as labels",
        lambda: L.cross_entropy(np.zeros((3, 2)), np.array([0.2, 0.8, 0.5])), TypeError,
        r"^cross_entropy: labels", r"integer class ids", r"dtype float64"),
    Bad("cross_entropy with one sample's logits 1-D", lambda: L.cross_entropy(np.zeros(3), np.array([1])),
        ValueError, r"^cross_entropy: logits", r"2-D", r"shape \(3,\)"),
    Bad("binary_cross_entropy with a label 2", lambda: L.binary_cross_entropy(np.zeros(3), np.array([0, 1, 2])),
        ValueError, r"^binary_cross_entropy: targets", r"in \[0, 1\]", r"from 0 to 2"),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_bad_input_gets_a_named_error(row):
    with pytest.raises(Exception) as info:
        row.call()
    assert isinstance(info.value, row.exc), f"expected {row.exc.__name__}, got {type(info.value).__name__}: {info.value}"
    message = str(info.value.args[0]) if info.value.args else str(info.value)
    for part, rx in (("the argument", row.arg), ("what was expected", row.expected), ("what came", row.got)):
        assert re.search(rx, message), f"the message does not name {part} (/{rx}/): {message}"


@dataclass
class Fine:
    id: str
    call: Callable
    expected: Callable      # an independent computation of the right result


FINE = [
    Fine("numerical_gradient of a list", lambda: GC.numerical_gradient(lambda v: v @ v, [1, 2]),
         lambda: np.array([2.0, 4.0])),
    Fine("numerical_gradient at a float", lambda: GC.numerical_gradient(lambda v: float(v) ** 2, 3.0),
         lambda: np.array(6.0)),
    Fine("numerical_gradient of a tensor x and an f returning a tensor",
         lambda: GC.numerical_gradient(lambda v: torch.tensor(v).pow(2).sum(), torch.ones(3)),
         lambda: np.full(3, 2.0)),
    Fine("numerical_gradient with an integer eps", lambda: GC.numerical_gradient(lambda v: v @ v, np.ones(2), eps=1),
         lambda: np.full(2, 2.0)),
    Fine("mse of tensors", lambda: L.mse(torch.ones(3), torch.zeros(3)), lambda: 1.0),
    Fine("mse of two floats", lambda: L.mse(1.0, 3.0), lambda: 4.0),
    Fine("binary_cross_entropy with integer 0/1 labels", lambda: L.binary_cross_entropy(np.zeros(3), [0, 1, 1]),
         lambda: np.log(2.0)),
    Fine("cross_entropy with list labels", lambda: L.cross_entropy(np.zeros((3, 2)), [0, 1, 1]), lambda: np.log(2.0)),
    Fine("cross_entropy of tensors", lambda: L.cross_entropy(torch.zeros(3, 2), torch.tensor([0, 1, 1])),
         lambda: np.log(2.0)),
    Fine("cross_entropy with one-hot labels", lambda: L.cross_entropy(np.array([[2.0, 0.0]]), np.array([[0.0, 1.0]])),
         lambda: np.log1p(np.exp(2.0))),
    Fine("softmax of a list", lambda: L.softmax([0.0, np.log(3.0)]), lambda: np.array([0.25, 0.75])),
    Fine("linreg_loss with w, b as 0-d arrays", lambda: gd.linreg_loss(np.array(3.0), np.array(2.0), X, Y), lambda: 0.0),
    Fine("linreg_grad with w, b as 0-d tensors", lambda: gd.linreg_grad(torch.tensor(3.0), torch.tensor(2.0), X, Y),
         lambda: (0.0, 0.0)),
    Fine("linreg_grad with integer w, b", lambda: gd.linreg_grad(3, 2, X, Y), lambda: (0.0, 0.0)),
    Fine("least_squares of lists", lambda: gd.least_squares([0, 1, 2], [1, 3, 5]), lambda: (2.0, 1.0)),
    Fine("critical_lr of a list Hessian", lambda: gd.critical_lr(hessian=[[4, 0], [0, 1]]), lambda: 0.5),
    Fine("gradient_descent with a tensor loss and a list gradient",
         lambda: gd.gradient_descent(lambda t: (torch.tensor(float(t @ t)), [2 * t[0]]), [1.0], 0.25, 3).final,
         lambda: np.array([0.125])),
    Fine("gradient_descent from a tensor theta0, steps as np.int64",
         lambda: gd.gradient_descent(_bowl, torch.ones(2, dtype=torch.float64), 0.25, np.int64(1)).final,
         lambda: np.full(2, 0.5)),
    Fine("descend from a list of ints", lambda: gd.descend(_bowl, [1, 2], 0.5, 10, 1e-9)["stop"], lambda: "converged"),
    Fine("descend's path holds new arrays", lambda: len({id(p) for p in gd.descend(_bowl, [1, 2], 0.1, 5, 0)["path"]}),
         lambda: 6),
    Fine("divergence of a one-element list", lambda: gd.divergence([2e13], 1.0), lambda: "blew up"),
    Fine("run_optimizer with a schedule returning a numeric string",
         lambda: gd.run_optimizer(_bowl, [1.0], SGD(lr=0.1), 1, schedule=lambda t: "0.25").final, lambda: np.array([0.5])),
]


@pytest.mark.parametrize("row", FINE, ids=[r.id for r in FINE])
def test_plausible_input_gives_the_right_result(row):
    got, want = row.call(), row.expected()
    if isinstance(want, str):
        assert got == want
    else:
        np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float), rtol=1e-6, atol=1e-9)


def test_the_tables_are_large_enough():
    assert len(ROWS) >= 20 and len(FINE) >= 20
