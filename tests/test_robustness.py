"""Bad input across the public nblib API: every error names the argument, what was
expected and what came.

One row per bad input: the call, the exception type, and three regular expressions that
must all be found in the message: the argument (with the function where the message
carries it), what was expected, and what came. A learner must never see a raw numpy
broadcasting error or a bare ``cannot unpack``.

Exercise checkers never raise at a learner: given something that is not a function they
return a failing :class:`~nblib.check.CheckResult` (shown as ✗ + the message); their rows
check that result instead (``kind="check"``).

Rows marked ``xfail(strict=True)`` are known poor messages in modules whose owners have
been told the exact fix; when a fix lands the row XPASSes, fails strictly, and the mark
must go.

Also here: runs that blow up (gradient descent, optimizers, training) stop and say
``diverged``, with the step and the cause, without a RuntimeWarning.
"""

from __future__ import annotations

import importlib
import re
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest


def m(name):
    """Import ``nblib.<name>`` (at call time, so that each row imports only what it needs)."""
    return importlib.import_module(f"nblib.{name}")


@dataclass
class Bad:
    id: str
    call: Callable
    exc: type
    arg: str        # regex: the argument (and function) named
    expected: str   # regex: what was expected
    got: str        # regex: what came
    kind: str = "raises"  # or "check": a checker returning a failing CheckResult
    xfail: str = ""       # reason, for a known poor message not fixed by its owner yet


z = np.zeros
rng = np.random.default_rng(0)


def _line():
    x = np.linspace(-3, 3, 20)
    return x, 2 + 3 * x


def _quadratic_wrong_grad(theta):
    return float(theta @ theta), np.zeros(3)  # gradient of the wrong shape


ROWS = [
    # ---------------------------------------------------------------- losses
    Bad("mse (n,1) vs (n,)", lambda: m("losses").mse(z((5, 1)), z(5)), ValueError,
        r"^mse: y_pred", r"must match exactly", r"\(5, 1\).*\(5,\)"),
    Bad("mse mismatched lengths", lambda: m("losses").mse([1.0, 2.0], [1.0, 2.0, 3.0]), ValueError,
        r"^mse: y_pred .*y_true", r"must match", r"\(2,\).*\(3,\)"),
    Bad("mse NaN", lambda: m("losses").mse([np.nan, 1.0], [1.0, 2.0]), ValueError,
        r"^mse: y_pred", r"NaN or infinite", r"contains 1 "),
    Bad("mse empty", lambda: m("losses").mse([], []), ValueError,
        r"^mse: y_pred", r"at least one value", r"empty \(shape \(0,\)\)"),
    Bad("mse string", lambda: m("losses").mse("abc", [1.0]), TypeError,
        r"^mse: y_pred", r"number or an array of numbers", r"str 'abc'"),
    Bad("mse bad reduction", lambda: m("losses").mse([1.0], [1.0], reduction="avg"), ValueError,
        r"^mse: reduction", r"'mean' or 'sum'", r"'avg'"),
    Bad("mse_grad inf", lambda: m("losses").mse_grad([np.inf], [1.0]), ValueError,
        r"^mse_grad: y_pred", r"NaN or infinite", r"1 NaN or infinite"),
    Bad("bce targets out of [0,1]", lambda: m("losses").binary_cross_entropy([0.0, 1.0], [0.0, 2.0]), ValueError,
        r"^binary_cross_entropy: targets", r"\[0, 1\]", r"from 0 to 2"),
    Bad("cross_entropy label too large", lambda: m("losses").cross_entropy(z((3, 4)), [0, 1, 4]), ValueError,
        r"^cross_entropy: labels", r"\[0, 3\] for 4 classes", r"got \[4\]"),
    Bad("cross_entropy negative label", lambda: m("losses").cross_entropy(z((3, 4)), [0, -1, 2]), ValueError,
        r"^cross_entropy: labels", r"\[0, 3\]", r"got \[-1\]"),
    Bad("cross_entropy float labels", lambda: m("losses").cross_entropy(z((3, 4)), np.array([0.0, 1.0, 2.0])),
        TypeError, r"^cross_entropy: labels", r"integer class ids", r"dtype float64"),
    Bad("cross_entropy labels (n,1)", lambda: m("losses").cross_entropy(z((5, 4)), z((5, 1), int)), ValueError,
        r"^cross_entropy: labels", r"shape \(5,\) integer class ids", r"shape \(5, 1\)"),
    Bad("cross_entropy 1-D logits", lambda: m("losses").cross_entropy(z(4), [1]), ValueError,
        r"^cross_entropy: logits", r"2-D \(batch n, classes C\)", r"shape \(4,\)"),
    Bad("cross_entropy_grad bad one-hot", lambda: m("losses").cross_entropy_grad(z((2, 3)), np.ones((2, 3))),
        ValueError, r"^cross_entropy_grad: 2-D labels", r"summing to 1", r"row sums from 3"),
    Bad("softmax bad axis", lambda: m("losses").softmax(z((2, 3)), axis=2), ValueError,
        r"^softmax: axis=2", r"not valid", r"shape \(2, 3\)"),
    Bad("one_hot zero classes", lambda: m("losses").one_hot([0, 1], 0), ValueError,
        r"^one_hot: num_classes", r"positive int", r"got 0"),
    # ---------------------------------------------------------------- gradcheck
    Bad("numerical_gradient f not a function", lambda: m("gradcheck").numerical_gradient(3, z(2)), TypeError,
        r"^numerical_gradient: f", r"must be a function", r"int 3"),
    Bad("numerical_gradient eps=0", lambda: m("gradcheck").numerical_gradient(np.sum, z(2), eps=0), ValueError,
        r"^numerical_gradient: eps", r"> 0", r"got 0"),
    Bad("numerical_gradient f returns a vector", lambda: m("gradcheck").numerical_gradient(lambda x: x, z(2)),
        ValueError, r"^numerical_gradient: f", r"return a scalar", r"shape \(2,\)"),
    Bad("rel_error shapes", lambda: m("gradcheck").rel_error(z(2), z(3)), ValueError,
        r"^rel_error: a .*b", r"must match", r"\(2,\).*\(3,\)"),
    Bad("compare value not a pair", lambda: m("gradcheck").compare({"dW": z(2)}), TypeError,
        r"^compare: the value for 'dW'", r"a pair \(a, b\)", r"shape \(2,\)"),
    Bad("check_gradient grad_f not a function", lambda: m("gradcheck").check_gradient(np.sum, "grad", z(2)),
        TypeError, r"^check_gradient: grad_f", r"must be a function", r"str 'grad'"),
    # ---------------------------------------------------------------- data
    Bad("linear_data negative n", lambda: m("data").linear_data(n=-5), ValueError,
        r"^linear_data: n", r"> 0", r"got -5"),
    Bad("linear_data float n", lambda: m("data").linear_data(n=10.5), TypeError,
        r"^linear_data: n", r"an integer", r"float 10.5"),
    Bad("blobs centers shape", lambda: m("data").blobs(centers=[1, 2, 3]), ValueError,
        r"^blobs: centers", r"shape \(k, 2\)", r"got \(3,\)"),
    Bad("moons negative noise", lambda: m("data").moons(noise=-0.1), ValueError,
        r"^moons: noise", r">= 0", r"-0.1"),
    Bad("spirals zero classes", lambda: m("data").spirals(n_classes=0), ValueError,
        r"^spirals: n_classes", r"> 0", r"got 0"),
    Bad("make_rng negative seed", lambda: m("data").make_rng(-1), TypeError,
        r"seed", r"non-negative int or a numpy.random.Generator", r"int -1"),
    # ---------------------------------------------------------------- checkers (never raise)
    Bad("checker given an int", lambda: m("check").mse_grad(42), None,
        r"mse_grad", r"expected a function", r"got int 42", kind="check"),
    Bad("checker given a string of code", lambda: m("check").cross_entropy("def f(z, y): ..."), None,
        r"cross_entropy", r"expected a function", r"got str 'def f", kind="check"),
    Bad("checker given None", lambda: m("check").gd_fit(None), None,
        r"gd_fit", r"expected a function", r"NoneType None", kind="check"),
    Bad("check.two_layer_loss params not a dict",
        lambda: m("check").two_layer_loss(z((4, 2)), z(4, int), 42), TypeError,
        r"^two_layer_loss: params", r"dict with keys W1, b1, W2, b2", r"got int 42"),
    Bad("check.two_layer_backward W2 of the wrong shape",
        lambda: m("check").two_layer_backward(z((4, 2)), z(4, int),
                                              {"W1": z((2, 5)), "b1": z(5), "W2": z((4, 3)), "b2": z(3)}),
        ValueError, r"^two_layer_backward: params\['W2'\]", r"shape \(h, C\) = \(5, 3\)", r"got shape \(4, 3\)"),
    # ---------------------------------------------------------------- widgets
    Bad("loss_explorer unknown preset", lambda: m("widgets.losses").loss_explorer(preset="nope"), KeyError,
        r"Loss explorer: no preset", r"choose one of \[", r"'nope'"),
    Bad("loss_explorer unknown control", lambda: m("widgets.losses").loss_explorer(preset={"lr": 1}), KeyError,
        r"Loss explorer: no control named", r"the controls are \[", r"\['lr'\]"),
    Bad("loss_explorer preset of the wrong type", lambda: m("widgets.losses").loss_explorer(preset=42), TypeError,
        r"preset", r"preset name or a dict", r"int"),
    Bad("gd_explorer preset of the wrong type", lambda: m("widgets.gd").gd_explorer(preset=42), TypeError,
        r"preset", r"preset name or a dict", r"got int"),
    Bad("optimizer_race unknown preset", lambda: m("widgets.gd").optimizer_race(preset="nope"), KeyError,
        r"Optimizer race: no preset", r"choose one of \[", r"'nope'"),
    Bad("Explorer.set a slider to a string", lambda: m("widgets.losses").loss_explorer().set(y_hat="abc"),
        TypeError, r"Loss explorer: control 'y_hat'", r"expects a number", r"got str 'abc'"),
    Bad("Explorer.set a slider outside its range", lambda: m("widgets.gd").gd_explorer().set(lr=5.0),
        ValueError, r"control 'lr'", r"between 0.005 and 0.4", r"got 5.0"),
    Bad("Explorer.set a slider to NaN", lambda: m("widgets.gd").gd_explorer().set(w0=float("nan")),
        ValueError, r"control 'w0'", r"between -3 and 9", r"got nan"),
    Bad("Explorer.set an integer slider to a float", lambda: m("widgets.gd").gd_explorer().set(steps=2.5),
        TypeError, r"control 'steps'", r"expects an integer", r"got float 2.5"),
    Bad("Explorer.set a log slider outside its range", lambda: m("widgets.gd").optimizer_race().set(lr=3.0),
        ValueError, r"Optimizer race: control 'lr'", r"between 0.0001 and 1", r"got 3.0"),
    Bad("Explorer.set a dropdown to an unknown option",
        lambda: m("widgets.gd").optimizer_race().set(surface="rosenbrok"),
        ValueError, r"control 'surface'", r"must be one of \[", r"got 'rosenbrok'"),
    Bad("Explorer.set a multiple choice with an unknown name",
        lambda: m("widgets.gd").optimizer_race().set(optimizers=("SGD", "Adma")),
        ValueError, r"control 'optimizers'", r"must be one of \[", r"'Adma'"),
    Bad("Explorer.set toggle buttons to a value not offered", lambda: m("widgets.losses").loss_explorer().set(label=2),
        ValueError, r"control 'label'", r"must be one of \[0, 1\]", r"got 2"),
    # ---------------------------------------------------------------- gd
    Bad("gradient_descent negative steps",
        lambda: m("gd").gradient_descent(m("gd").linreg_objective(*_line()), [0.0, 0.0], 0.1, -5), ValueError,
        r"^gradient_descent: steps", r">= 0", r"got -5"),
    Bad("gradient_descent lr = 0",
        lambda: m("gd").gradient_descent(m("gd").linreg_objective(*_line()), [0.0, 0.0], 0.0, 5), ValueError,
        r"^gradient_descent: lr", r"> 0", r"got 0"),
    Bad("gradient_descent float steps",
        lambda: m("gd").gradient_descent(m("gd").linreg_objective(*_line()), [0.0, 0.0], 0.1, 2.5), TypeError,
        r"^gradient_descent: steps", r"an integer", r"float 2.5"),
    Bad("gradient_descent loss_and_grad not a function", lambda: m("gd").gradient_descent("f", [0.0, 0.0], 0.1, 5),
        TypeError, r"^gradient_descent: loss_and_grad", r"must be a function", r"str 'f'"),
    Bad("gradient_descent NaN start",
        lambda: m("gd").gradient_descent(m("gd").linreg_objective(*_line()), [np.nan, 0.0], 0.1, 5), ValueError,
        r"^gradient_descent: theta0", r"NaN or infinite", r"contains 1"),
    Bad("gradient_descent gradient of the wrong shape",
        lambda: m("gd").gradient_descent(_quadratic_wrong_grad, [1.0, 1.0], 0.1, 5), ValueError,
        r"gradient_descent: .*grad", r"\(2,\)", r"\(3,\)"),
    Bad("gradient_descent loss_and_grad returns one number",
        lambda: m("gd").gradient_descent(lambda t: 1.0, [0.0, 0.0], 0.1, 5), TypeError,
        r"gradient_descent: loss_and_grad", r"\(loss, grad\)", r"float"),
    Bad("linreg_loss mismatched x, y", lambda: m("gd").linreg_loss(1.0, 2.0, z(3), z(4)), ValueError,
        r"^linreg_loss: x .*y", r"must match", r"\(3,\).*\(4,\)"),
    Bad("linreg_loss w is a string", lambda: m("gd").linreg_loss("1", 2.0, z(3), z(3)), TypeError,
        r"^linreg_loss: w", r"a number", r"str '1'"),
    Bad("minibatch_sgd batch_size 0", lambda: m("gd").minibatch_sgd(z(10), z(10), z(2), 0.1, 2, 0), ValueError,
        r"^minibatch_sgd: batch_size", r"> 0", r"got 0"),
    Bad("minibatch_sgd negative epochs", lambda: m("gd").minibatch_sgd(z(10), z(10), z(2), 0.1, -1, 5), ValueError,
        r"^minibatch_sgd: epochs", r">= 0", r"got -1"),
    Bad("run_optimizer given a string", lambda: m("gd").run_optimizer(np.sum, [0.0], "sgd", 10), TypeError,
        r"^run_optimizer: optimizer", r"nblib.optim optimizer", r"str 'sgd'"),
    # ---------------------------------------------------------------- optim
    Bad("SGD negative lr", lambda: m("optim").SGD(lr=-0.1), ValueError,
        r"^SGD: lr", r">= 0", r"-0.1"),
    Bad("SGD lr as a string", lambda: m("optim").SGD(lr="0.1"), TypeError,
        r"^SGD: lr", r"a number", r"str '0.1'"),
    Bad("Adam betas of length 1", lambda: m("optim").Adam(betas=(0.9,)), TypeError,
        r"^Adam: betas", r"a pair \(beta1, beta2\)", r"\(0.9,\)"),
    Bad("Adam beta1 >= 1", lambda: m("optim").Adam(betas=(1.5, 0.9)), ValueError,
        r"^Adam: betas\[0\]", r"< 1", r"1.5"),
    Bad("optimizer step: mismatched keys",
        lambda: m("optim").SGD(0.1).step({"W": z(2)}, {"b": z(2)}), ValueError,
        r"^SGD.step: grads", r"same keys as params", r"missing in grads: \['W'\]"),
    Bad("optimizer step: gradient shape",
        lambda: m("optim").SGD(0.1).step({"W": z(2)}, {"W": z(3)}), ValueError,
        r"^SGD.step: grads\['W'\]", r"must match", r"\(3,\).*\(2,\)"),
    Bad("optimizer step: lists instead of dicts",
        lambda: m("optim").Momentum(0.1).step([z(2)], [z(2)]), TypeError,
        r"^Momentum.step: params and grads", r"dicts name -> array", r"list"),
    Bad("optimizer step: integer parameter",
        lambda: m("optim").Adam().step({"W": z(2, int)}, {"W": z(2)}), TypeError,
        r"^Adam.step: params\['W'\]", r"float numpy array", r"dtype int64"),
    Bad("StepDecay negative t", lambda: m("optim").StepDecay(0.1, 10)(-1), ValueError,
        r"^StepDecay: t", r">= 0", r"got -1"),
    # ---------------------------------------------------------------- layers
    Bad("affine_forward W of the wrong shape",
        lambda: m("layers").affine_forward(z((4, 3)), z((2, 5)), z(5)), ValueError,
        r"^affine_forward: .*W", r"\(d, h\) = \(3, h\)", r"\(2, 5\)"),
    Bad("affine_forward b of the wrong shape",
        lambda: m("layers").affine_forward(z((4, 3)), z((3, 5)), z(4)), ValueError,
        r"^affine_forward: .*b", r"must have shape \(5,\)", r"b has shape \(4,\)"),
    Bad("affine_forward 1-D x", lambda: m("layers").affine_forward(z(3), z((3, 5)), z(5)), ValueError,
        r"^affine_forward: x", r"2-D", r"shape \(3,\)"),
    Bad("affine_backward dout shape",
        lambda: m("layers").affine_backward(z((4, 4)), m("layers").affine_forward(z((4, 3)), z((3, 5)), z(5))[1]),
        ValueError, r"^affine_backward: dout", r"shaped like the output|\(4, 5\)", r"\(4, 4\)"),
    Bad("affine_backward cache is not a cache", lambda: m("layers").affine_backward(z((4, 5)), "cache"), TypeError,
        r"^affine_backward: cache", r"tuple returned by affine_forward", r"str 'cache'"),
    Bad("MLP one size", lambda: m("layers").MLP([64]), ValueError,
        r"^MLP: sizes", r"at least two positive ints", r"\[64\]"),
    Bad("MLP unknown activation", lambda: m("layers").MLP([2, 3], activation="swish"), ValueError,
        r"^MLP: activation", r"one of \(", r"'swish'"),
    Bad("MLP.forward features", lambda: m("layers").MLP([4, 3, 2]).forward(z((5, 3))), ValueError,
        r"^MLP.forward: X", r"expects 4 features", r"\(5, 3\)"),
    Bad("MLP.loss_and_grads float labels",
        lambda: m("layers").MLP([4, 3, 2]).loss_and_grads(z((5, 4)), z(5)), TypeError,
        r"labels", r"integer class ids", r"dtype float64"),
    Bad("MLP.loss_and_grads label count",
        lambda: m("layers").MLP([4, 3, 2]).loss_and_grads(z((5, 4)), z(4, int)), ValueError,
        r"labels", r"shape \(5,\)", r"shape \(4,\)"),
    # ---------------------------------------------------------------- autograd
    Bad("Value of a string", lambda: m("autograd").Value("1.0"), TypeError,
        r"^Value", r"a Value or a real number", r"str '1.0'"),
    Bad("Value + string", lambda: m("autograd").Value(1.0) + "a", TypeError,
        r"^Value.__add__", r"a Value or a real number", r"str 'a'"),
    Bad("Value.log of a negative", lambda: m("autograd").Value(-1.0).log(), ValueError,
        r"^Value.log", r"positive numbers", r"data=-1"),
    Bad("autograd MLP call with too few inputs", lambda: m("autograd").MLP(3, [4, 1])([1.0, 2.0]), ValueError,
        r"Neuron|MLP", r"3 weights|3 inputs|list of 3 numbers", r"got 2"),
    Bad("autograd MLP with nin=0", lambda: m("autograd").MLP(0, [3, 1]), ValueError,
        r"MLP.*nin", r"positive|> 0|>= 1", r"\b0\b"),
    # ---------------------------------------------------------------- digits / train
    Bad("stratified_split val_size > 1", lambda: m("digits").stratified_split(np.array([0, 1, 0, 1]), val_size=1.5),
        ValueError, r"^stratified_split: val_size", r"strictly between 0 and 1", r"1.5"),
    Bad("stratified_split float labels", lambda: m("digits").stratified_split(np.array([0.0, 1.0, 0.0, 1.0])),
        TypeError, r"^stratified_split: y", r"integer class ids", r"dtype float64"),
    Bad("Standardizer feature count",
        lambda: m("digits").Standardizer().fit(rng.normal(size=(10, 4))).transform(z((3, 5))), ValueError,
        r"^Standardizer.transform: X", r"fitted on 4", r"5 features"),
    Bad("minibatches batch_size 0", lambda: m("train").minibatches(10, 0, 0), ValueError,
        r"^minibatches: batch_size", r"> 0", r"got 0"),
    Bad("accuracy lengths", lambda: m("train").accuracy([1, 2, 3], [1, 2]), ValueError,
        r"^accuracy: pred .*y", r"shape", r"\(3,\).*\(2,\)"),
    Bad("confusion_matrix label out of range", lambda: m("train").confusion_matrix([0, 1, 5], [0, 1, 1], 3),
        ValueError, r"^confusion_matrix: y_true", r"\[0, 2\] for 3 classes", r"\[5\]"),
    Bad("fit: net is not a network",
        lambda: m("train").fit("net", m("optim").SGD(0.1), z((4, 2)), z(4, int), z((4, 2)), z(4, int)), TypeError,
        r"^fit: net", r"nblib MLP", r"str 'net'"),
    Bad("fit: label count",
        lambda: m("train").fit(m("layers").MLP([2, 3, 2]), m("optim").SGD(0.1), z((4, 2)), z(3, int), z((4, 2)),
                               z(4, int), epochs=1, progress=False), ValueError,
        r"^fit: y_train", r"shape \(4,\)", r"shape \(3,\)"),
    Bad("fit: negative epochs",
        lambda: m("train").fit(m("layers").MLP([2, 3, 2]), m("optim").SGD(0.1), z((4, 2)), z(4, int), z((4, 2)),
                               z(4, int), epochs=-1, progress=False), ValueError,
        r"^fit: epochs", r"> 0", r"got -1"),
    # ---------------------------------------------------------------- widgets.backprop / graphs
    Bad("make_dataset unknown name", lambda: m("widgets.backprop").make_dataset("circles"), ValueError,
        r"^make_dataset: dataset", r"one of \(", r"'circles'"),
    Bad("training_playground unknown preset", lambda: m("widgets.backprop").training_playground(preset="nope"),
        KeyError, r"Training playground: no preset", r"choose one of \[", r"'nope'"),
    Bad("train_run negative lr", lambda: m("widgets.backprop").train_run(lr=-1.0, epochs=5), ValueError,
        r"train_run: lr", r"> 0", r"-1"),
    Bad("train_run negative epochs", lambda: m("widgets.backprop").train_run(epochs=-5), ValueError,
        r"train_run: epochs", r">= 0|> 0", r"-5"),
    Bad("train_run zero hidden layers", lambda: m("widgets.backprop").train_run(layers=0, epochs=5), ValueError,
        r"train_run: layers", r">= 1|> 0|between", r"\b0\b"),
    Bad("graph_from_value of an int", lambda: m("graphs").graph_from_value(3), TypeError,
        r"^graph_from_value", r"nblib.autograd.Value", r"got int"),
    # ---------------------------------------------------------------- surfaces / diagnose / torchbridge
    Bad("get_surface unknown name", lambda: m("surfaces").get_surface("saddle"), ValueError,
        r"^get_surface: .*surface", r"choose one of \[", r"'saddle'"),
    Bad("quadratic negative curvature", lambda: m("surfaces").quadratic(curvatures=(-1.0, 2.0)), ValueError,
        r"^quadratic: curvatures", r"two positive numbers", r"-1.0"),
    Bad("Surface.loss_and_grad point of 3 coordinates",
        lambda: m("surfaces").get_surface("bowl").loss_and_grad(z(3)), ValueError,
        r"loss_and_grad: p", r"\(2,\)", r"\(3,\)"),
    Bad("check_grads loss_fn not a function",
        lambda: m("diagnose").check_grads(3, {"W": z(2)}, {"W": z(2)}), TypeError,
        r"^check_grads: loss_fn", r"must be a function", r"int 3"),
    Bad("check_logits of a string", lambda: m("diagnose").check_logits("abc"), TypeError,
        r"^check_logits: outputs", r"array of numbers", r"str 'abc'"),
    Bad("TorchMLP unknown activation", lambda: m("torchbridge").TorchMLP([2, 3], activation="swish"), ValueError,
        r"^TorchMLP: activation", r"one of \(", r"'swish'"),
    Bad("to_torch of a string", lambda: m("torchbridge").to_torch("net"), TypeError,
        r"^to_torch: net", r"nblib.layers.MLP", r"str 'net'"),
    Bad("step_matched negative lr",
        lambda: m("torchbridge").step_matched(m("layers").MLP([2, 3, 2]), z((4, 2)), z(4, int), lr=-1), ValueError,
        r"^step_matched: lr", r"> 0", r"got -1"),
    Bad("step_matched unknown optimizer",
        lambda: m("torchbridge").step_matched(m("layers").MLP([2, 3, 2]), z((4, 2)), z(4, int), optimizer="lbfgs"),
        ValueError, r"^step_matched: optimizer", r"one of \(", r"'lbfgs'"),
    Bad("pick_device given an array", lambda: m("torchbridge").pick_device(np.ones(2), verbose=False), ValueError,
        r"^pick_device: prefer", r"None, 'cpu' or 'cuda'", r"got array"),
    Bad("torch_trace of something that is not a TorchMLP",
        lambda: m("torchbridge").torch_trace(None, z((4, 2)), z(4, int)), TypeError,
        r"^torch_trace: module", r"TorchMLP \(e.g. to_torch\(net\)\)", r"got NoneType None"),
    Bad("param_diff of a network and another network's twin",
        lambda: m("torchbridge").param_diff(m("layers").MLP([2, 3, 2]), m("torchbridge").to_torch(m("layers").MLP([2, 4, 2]))),
        ValueError, r"^param_diff: net has layer sizes \[2, 3, 2\]", r"its own twin", r"module has \[2, 4, 2\]"),
    Bad("get_surface given a list", lambda: m("surfaces").get_surface(["ravine"]), ValueError,
        r"^get_surface: unknown surface", r"choose one of \[", r"\['ravine'\]"),
    # found by calling every public function with None, strings, empty/NaN/3-D arrays
    Bad("loss_curves without its axes", lambda: m("plots").loss_curves({"SGD": [1.0, 0.5]}, None), TypeError,
        r"^loss_curves: ax", r"matplotlib Axes", r"got dict"),
    Bad("loss_curves given a list", lambda: m("plots").loss_curves(_axes(), [1.0, 0.5]), TypeError,
        r"^loss_curves: curves", r"dict \{label: losses\}", r"got list"),
    Bad("loss_contour of a constant loss", lambda: m("plots").loss_contour(_axes(), *np.meshgrid(z(3), z(3)), z((3, 3))),
        ValueError, r"^loss_contour: Z", r"no contours to draw", r"same value 0 everywhere"),
    Bad("plot_history of None", lambda: m("train").plot_history([_axes(), _axes()], None), TypeError,
        r"^plot_history: histories", r"list of History", r"got NoneType None"),
    Bad("init_weights without a Generator", lambda: m("layers").init_weights(3, 4, "he", None), TypeError,
        r"^init_weights: rng", r"numpy.random.Generator", r"got NoneType None"),
    Bad("init_weights fractional fan_in", lambda: m("layers").init_weights(3.5, 4, "he", rng), TypeError,
        r"^init_weights: fan_in", r"an integer", r"got float 3.5"),
    Bad("linear_backward given a wrong cache", lambda: m("layers").linear_backward(z((4, 3)), z((4, 2))), TypeError,
        r"^linear_backward: cache", r"returned by linear_forward", r"got an array of shape \(4, 2\)"),
    Bad("stratified_split of None", lambda: m("digits").stratified_split(None), TypeError,
        r"^stratified_split: y", r"1-D array of integer class ids", r"got NoneType None"),
]


def _axes():
    from matplotlib.figure import Figure
    return Figure().add_subplot()


def _params():
    for row in ROWS:
        marks = [pytest.mark.xfail(strict=True, reason=row.xfail)] if row.xfail else []
        yield pytest.param(row, id=row.id, marks=marks)


@pytest.mark.parametrize("row", list(_params()))
def test_bad_input_gets_a_named_error(row):
    if row.kind == "check":
        result = row.call()
        assert result.status == "fail", f"the checker accepted {row.id}: {result!r}"
        message = result.message
    else:
        with pytest.raises(Exception) as info:
            row.call()
        assert isinstance(info.value, row.exc), (
            f"expected {row.exc.__name__}, got {type(info.value).__name__}: {info.value}")
        message = str(info.value.args[0]) if info.value.args else str(info.value)
    for part, rx in (("the argument", row.arg), ("what was expected", row.expected), ("what came", row.got)):
        assert re.search(rx, message), f"the message does not name {part} (/{rx}/): {message}"
    assert "could not be broadcast" not in message


def test_the_table_is_large_enough():
    """The issue asks for at least 30 bad inputs across the public API."""
    assert len(ROWS) >= 30
    assert len({r.id for r in ROWS}) == len(ROWS), "row ids must be unique"


# ------------------------------------------------------------------------------------
# Runs that blow up stop early and say so (no RuntimeWarning, no NaN result)
# ------------------------------------------------------------------------------------
def _assert_diverged(diverged, step, cause, steps):
    assert diverged is True
    assert isinstance(step, int) and 1 <= step <= steps
    assert f"step {step}" in cause, cause
    assert "lr" in cause, cause


def test_gradient_descent_reports_divergence():
    gd = m("gd")
    x, y = _line()
    crit = gd.critical_lr(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h = gd.gradient_descent(gd.linreg_objective(x, y), [0.0, 0.0], 3 * crit, 500, critical=crit)
    _assert_diverged(h.diverged, h.step, h.cause, 500)
    assert h.steps < 500 and np.all(np.isfinite(h.path)) and np.all(np.isfinite(h.losses))
    assert "2/λ_max" in h.cause


def test_optimizer_run_reports_divergence():
    gd, optim = m("gd"), m("optim")
    x, y = _line()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h = gd.run_optimizer(gd.linreg_objective(x, y), [0.0, 0.0], optim.Momentum(lr=1.0, beta=0.9), 500)
    _assert_diverged(h.diverged, h.step, h.cause, 500)
    assert "Momentum" in h.cause


def test_gd_explorer_status_says_diverged():
    wg = m("widgets.gd")
    explorer = wg.gd_explorer(preset="diverging")
    assert re.search(r"diverg(ed|ing)", explorer.status_text), explorer.status_text
    assert re.search(r"\d+ steps|step \d+", explorer.status_text), explorer.status_text
    assert "lr" in explorer.status_text


def test_minibatch_sgd_reports_divergence():
    gd = m("gd")
    x, y = _line()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = gd.minibatch_sgd(x, y, [0.0, 0.0], 10.0, 20, 5)
    assert np.all(np.isfinite(out["epoch_loss"]))
    assert out.get("diverged") is True
    _assert_diverged(out["diverged"], out["step"], out["cause"], 20 * out["updates_per_epoch"])


def test_training_reports_divergence():
    train, layers, optim = m("train"), m("layers"), m("optim")
    r = np.random.default_rng(0)
    X, y = r.normal(size=(40, 2)), np.arange(40) % 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h = train.fit(layers.MLP([2, 8, 2], seed=0), optim.SGD(1e4), X, y, X, y,
                      epochs=20, batch_size=8, progress=False)
    assert getattr(h, "diverged", None) is True
    _assert_diverged(h.diverged, h.step, h.cause, 20 * 5)


# ------------------------------------------------------------------------------------
# Every exercise checker, given something that is not a function
# ------------------------------------------------------------------------------------
def _checker_names():
    from nblib import check

    # check.HELPERS: exported helpers used by the exercises (e.g. check.two_layer_loss(X, y, params)),
    # not checkers; their bad input is covered by rows of ROWS instead.
    skip = {"CheckResult", "Diagnosis", "check_function", "progress", "reference", *getattr(check, "HELPERS", ())}
    return [n for n in check.__all__ if n not in skip and callable(getattr(check, n))
            and not isinstance(getattr(check, n), type)]


def _checker_params():
    names = _checker_names()
    assert names, "nblib.check exports no checker"
    return [pytest.param(name, id=name) for name in names]


@pytest.mark.parametrize("name", _checker_params())
def test_checker_given_a_non_function_says_what_came(name):
    from nblib import check
    result = getattr(check, name)(42)
    assert getattr(result, "status", None) == "fail", f"check.{name}(42) returned {result!r}"
    assert re.search(r"function|class", result.message), result.message
    assert re.search(r"\bint 42\b", result.message), f"does not say what came: {result.message}"


def test_explorer_set_with_one_bad_value_changes_nothing():
    explorer = m("widgets.gd").gd_explorer()
    before, redraws = explorer.values(), len(explorer.timings)
    with pytest.raises(ValueError, match="control 'steps'"):
        explorer.set(lr=0.2, steps=-1)              # lr is fine, steps is not: neither is applied
    assert explorer.values() == before and len(explorer.timings) == redraws
    explorer.set(lr=0.2, steps=10)
    assert explorer.values()["lr"] == 0.2 and len(explorer.timings) == redraws + 1
