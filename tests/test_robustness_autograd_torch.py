"""Bad input for nblib.autograd, nblib.torchbridge and the checkers of notebooks 05 and 06: what a
learner plausibly passes (lists, tensors, probabilities for labels, a layer of the wrong twin,
an instance for a class, the result of a call for the function) gets an error or a failing check
that names the argument, what was expected and what came. Rows and runner as in
tests/test_robustness.py."""

import numpy as np
import pytest

import test_robustness as R
from test_robustness import Bad, m

z = np.zeros


def _net(sizes=(2, 3, 2)):
    return m("layers").MLP(list(sizes), seed=0)


def _twin(sizes=(2, 3, 2)):
    return m("torchbridge").to_torch(_net(sizes))


def _torch():
    import torch
    return torch


def _sgd(module):
    return _torch().optim.SGD(module.parameters(), lr=0.1)


def _fit(**kw):
    module = _twin((2, 4, 3))
    args = dict(module=module, opt=_sgd(module), X_train=z((6, 2)), y_train=np.arange(6) % 3, X_val=z((3, 2)),
                y_val=np.arange(3), epochs=1, progress=False)
    args.update(kw)
    return m("torchbridge").fit_torch(**args)


def _learner_value_class():
    class MyValue:
        def __init__(self, data, _children=(), _op=""):
            self.data, self.grad, self._prev, self._op = float(data), 0.0, tuple(_children), _op
            self._backward = lambda: None
    return MyValue


def _check(name):
    return getattr(m("check"), name)


ROWS = [
    # ---------------------------------------------------------------- autograd
    Bad("autograd MLP with value=an instance", lambda: m("autograd").MLP(2, [3, 1], value=m("autograd").Value(1.0)),
        TypeError, r"^MLP: value", r"a class such as Value", r"got Value Value\(data=1"),
    Bad("autograd Neuron with value=a number", lambda: m("autograd").Neuron(2, value=3), TypeError,
        r"^Neuron: value", r"a class", r"got int 3"),
    Bad("Value ** Value", lambda: m("autograd").Value(2.0) ** m("autograd").Value(3.0), TypeError,
        r"Value \*\* Value", r"exponent must be a plain number", r"not supported"),
    Bad("Value of a numpy array", lambda: m("autograd").Value(np.ones(3)), TypeError,
        r"^Value", r"a Value or a real number", r"got ndarray"),
    # ---------------------------------------------------------------- torchbridge
    Bad("to_torch of a list of sizes", lambda: m("torchbridge").to_torch([2, 3, 2]), TypeError,
        r"^to_torch: net", r"nblib.layers.MLP", r"got list \[2, 3, 2\]"),
    Bad("copy_to_torch into the wrong twin", lambda: m("torchbridge").copy_to_torch(_net(), _twin((2, 5, 2))),
        ValueError, r"^copy_to_torch: net", r"own twin", r"\[2, 5, 2\]"),
    Bad("copy_to_torch into an nn.Linear", lambda: m("torchbridge").copy_to_torch(_net(), _torch().nn.Linear(2, 2)),
        TypeError, r"^copy_to_torch: module", r"TorchMLP", r"got Linear"),
    Bad("copy_from_torch with the arguments swapped", lambda: m("torchbridge").copy_from_torch(_net(), _twin()),
        TypeError, r"^copy_from_torch: net", r"nblib.layers.MLP", r"got TorchMLP"),
    Bad("copy_from_torch from the wrong twin", lambda: m("torchbridge").copy_from_torch(_twin((2, 5, 2)), _net()),
        ValueError, r"^copy_from_torch: net", r"own twin", r"\[2, 5, 2\]"),
    Bad("numpy_trace with probabilities for labels",
        lambda: m("torchbridge").numpy_trace(_net(), z((4, 2)), np.full(4, 0.5)), TypeError,
        r"^numpy_trace: y", r"integer class ids", r"dtype float64"),
    Bad("numpy_trace with labels of another batch", lambda: m("torchbridge").numpy_trace(_net(), z((4, 2)), z(3, int)),
        ValueError, r"^numpy_trace: y", r"shape \(4,\)", r"shape \(3,\)"),
    Bad("torch_trace of a 1-D X", lambda: m("torchbridge").torch_trace(_twin(), z(2), z(1, int)), ValueError,
        r"^torch_trace: X", r"2-D", r"1-D|shape \(2,\)"),
    Bad("torch_trace with a label outside the classes", lambda: m("torchbridge").torch_trace(_twin(), z((2, 2)),
                                                                                          np.array([0, 2])),
        ValueError, r"^torch_trace: y", r"\[0, 1\] for 2 classes", r"got \[2\]"),
    Bad("fit_torch given an nblib.optim optimizer", lambda: _fit(opt=m("optim").SGD(0.1)), TypeError,
        r"^fit_torch: opt", r"torch.optim optimizer", r"got SGD"),
    Bad("fit_torch given the numpy MLP", lambda: _fit(module=_net()), TypeError,
        r"^fit_torch: module", r"torch.nn.Module", r"got MLP"),
    Bad("fit_torch of a module without parameters", lambda: _fit(module=_torch().nn.ReLU(), opt=_sgd(_twin())),
        ValueError, r"^fit_torch: module", r"nothing to train", r"no parameters"),
    Bad("fit_torch with probabilities for y_train", lambda: _fit(y_train=np.full(6, 0.3)), TypeError,
        r"^fit_torch: y_train", r"integer class ids", r"dtype float64"),
    Bad("fit_torch with a label the module cannot output", lambda: _fit(y_val=np.array([0, 1, 3])), ValueError,
        r"^fit_torch: y_val", r"\[0, 2\] for 3 classes", r"got \[3\]"),
    Bad("fit_torch with X_val of other features", lambda: _fit(X_val=z((3, 5))), ValueError,
        r"^fit_torch: X_val", r"shape \(m, 2\)", r"5 features"),
    Bad("fit_torch with batch_size 0", lambda: _fit(batch_size=0), ValueError,
        r"^fit_torch: batch_size", r"> 0", r"got 0"),
    Bad("fit_torch with a float epoch count", lambda: _fit(epochs=2.5), TypeError,
        r"^fit_torch: epochs", r"an integer", r"got float 2.5"),
    Bad("step_matched with an nblib.optim instance for the name", lambda: m("torchbridge").step_matched(
        _net(), z((4, 2)), z(4, int), optimizer=m("optim").SGD(0.1)), ValueError,
        r"^step_matched: optimizer", r"one of \('sgd'", r"got <?.*SGD"),
    # ---------------------------------------------------------------- checkers of 05 and 06
    Bad("value_ops given an instance of the class", lambda: _check("value_ops")(_learner_value_class()(1.0)),
        None, r"value_ops", r"expected a class", r"got MyValue", kind="check"),
    Bad("value_engine given the nblib module", lambda: _check("value_engine")(m("autograd")), None,
        r"value_engine", r"expected a class", r"got module", kind="check"),
    Bad("topo_order given the result of a call", lambda: _check("topo_order")([1, 2]), None,
        r"topo_order", r"expected a function", r"got list \[1, 2\]", kind="check"),
    Bad("affine_module given an instance", lambda: _check("affine_module")(_torch().nn.Linear(2, 3)), None,
        r"affine_module", r"a class \(a subclass of nn.Module\)", r"got Linear", kind="check"),
    Bad("fit_loop given the history it returned", lambda: _check("fit_loop")({"train_loss": [1.0]}), None,
        r"fit_loop", r"expected a function", r"got dict", kind="check"),
    Bad("autograd MLP given a batch", lambda: m("autograd").MLP(3, [4, 1])(np.ones((2, 3))),
        ValueError, r"^MLP: x", r"one sample, a list of 3 numbers", r"shape \(2, 3\)"),
    Bad("autograd MLP given too few inputs", lambda: m("autograd").MLP(3, [4, 1])([1.0, 2.0]),
        ValueError, r"^MLP: x", r"a list of 3 numbers", r"got 2 numbers"),
    Bad("TorchMLP sizes an int", lambda: m("torchbridge").TorchMLP(3),
        ValueError, r"^TorchMLP: sizes", r"at least two positive ints", r"got 3"),
    Bad("step_matched batch_size 0", lambda: m("torchbridge").step_matched(_net(), z((4, 2)), np.zeros(4, int),
                                                                         steps=2, batch_size=0),
        ValueError, r"^step_matched: batch_size", r"> 0", r"got 0"),
]


@pytest.mark.parametrize("row", [pytest.param(r, id=r.id) for r in ROWS])
def test_bad_input_gets_a_named_error(row):
    R.test_bad_input_gets_a_named_error(row)


def test_row_ids_are_unique_and_new():
    ids = [r.id for r in ROWS]
    assert len(ids) == len(set(ids))
    assert not set(ids) & {r.id for r in R.ROWS}
