"""Bad input for nblib.train, nblib.regularize, nblib.sanity, nblib.digits and the checkers of notebooks
08 and 09: what a learner plausibly passes (a torch optimizer, probabilities for labels, a list for a
dict, p = 1, the forward's output for its cache, a net that is not a net) gets an error or a failing
check that names the argument, what was expected and what came. Rows and runner as in
tests/test_robustness.py."""

import numpy as np
import pytest

import test_robustness as R
from test_robustness import Bad, m

z = np.zeros


def _net(sizes=(2, 3, 2), **kw):
    return m("layers").MLP(list(sizes), seed=0, **kw)


def _xy(n=8):
    return np.random.default_rng(0).normal(size=(n, 2)), np.arange(n) % 2


def _torch_sgd():
    import torch
    return torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)


def _fit(**kw):
    X, y = _xy()
    args = dict(net=_net(), opt=m("optim").SGD(0.1), X_train=X, y_train=y, X_val=X, y_val=y)
    args.update(kw)
    return m("train").fit(args.pop("net"), args.pop("opt"), args.pop("X_train"), args.pop("y_train"),
                          args.pop("X_val"), args.pop("y_val"), progress=False, **args)


ROWS = [
    Bad("fit given a torch optimizer", lambda: _fit(opt=_torch_sgd()), TypeError,
        r"^fit: opt", r"nblib\.optim optimizer", r"torch\.optim optimizer \(SGD\)"),
    Bad("fit given a torch model", lambda: _fit(net=__import__("torch").nn.Linear(2, 2)), TypeError,
        r"^fit: net", r"nblib MLP", r"got Linear"),
    Bad("fit loop not a function", lambda: _fit(loop="early"), TypeError,
        r"^fit: loop", r"a function", r"got str 'early'"),
    Bad("fit loop returning nothing", lambda: _fit(loop=lambda te, ev, params, n, patience: None), TypeError,
        r"^fit: loop", r"must return \(best_epoch, val_losses\)", r"got NoneType None"),
    Bad("fit negative weight_decay", lambda: _fit(weight_decay=-0.1), ValueError,
        r"^fit: weight_decay", r">= 0", r"-0\.1"),
    Bad("fit bce labels 2", lambda: _fit(net=_net((2, 3, 1), head="bce"), y_train=np.arange(8) % 3), ValueError,
        r"^fit: y_train", r"\[0, 1\] for 2 classes", r"got \[2"),
    Bad("accuracy given probabilities", lambda: m("train").accuracy(np.full((3, 2), 0.5), np.array([0, 1, 1])),
        ValueError, r"^accuracy: pred", r"class ids: pred\.argmax\(axis=1\)", r"shape \(3, 2\)"),
    Bad("accuracy given one probability per sample", lambda: m("train").accuracy(np.array([0.2, 0.9]), [0, 1]),
        ValueError, r"^accuracy: pred", r"\(p > 0\.5\)\.astype\(int\)", r"non-integer values \(e\.g\. 0\.2\)"),
    Bad("kfold_indices k = 1", lambda: m("train").kfold_indices(10, 1), ValueError,
        r"^kfold_indices: k", r"2 <= k <= n = 10", r"got 1"),
    Bad("kfold_indices float n", lambda: m("train").kfold_indices(10.0, 2), TypeError,
        r"^kfold_indices: n", r"an integer", r"got float 10\.0"),
    Bad("l2_penalty given a list", lambda: m("regularize").l2_penalty([z((2, 2))], 0.1), TypeError,
        r"^l2_penalty: params", r"dict name -> array", r"got list"),
    Bad("l2_penalty negative lam", lambda: m("regularize").l2_penalty({"W1": z((2, 2))}, -1.0), ValueError,
        r"^l2_penalty: lam", r">= 0", r"-1\.0"),
    Bad("dropout p = 1", lambda: m("regularize").dropout_forward(z((2, 2)), 1.0), ValueError,
        r"^dropout_forward: p", r"0 <= p < 1", r"got 1\.0"),
    Bad("dropout p as a percentage", lambda: m("regularize").dropout_forward(z((2, 2)), 50), ValueError,
        r"^dropout_forward: p", r"probability of dropping", r"got 50"),
    Bad("dropout mask of another shape", lambda: m("regularize").dropout_forward(z((2, 3)), 0.5, mask=z(3)),
        ValueError, r"^dropout_forward: mask", r"must match", r"shape \(3,\)"),
    Bad("dropout_backward given the output", lambda: m("regularize").dropout_backward(z((2, 2)), z((2, 2))),
        TypeError, r"^dropout_backward: cache", r"\(mask, q\) pair returned by dropout_forward",
        r"got an array of shape \(2, 2\)"),
    Bad("DropoutMLP dropout_fns one function", lambda: m("regularize").DropoutMLP(
        [2, 3, 2], dropout_fns=m("regularize").dropout_forward), TypeError,
        r"^DropoutMLP: dropout_fns", r"pair of functions \(forward, backward\)", r"got function"),
    Bad("fit_polynomial shapes", lambda: m("regularize").fit_polynomial(z(5), z(4), 2), ValueError,
        r"^fit_polynomial: x", r"must match", r"\(5,\).*\(4,\)"),
    Bad("poly_features negative degree", lambda: m("regularize").poly_features(z(3), -1), ValueError,
        r"^poly_features: degree", r">= 0", r"got -1"),
    Bad("initial_loss given a torch model", lambda: m("sanity").initial_loss(
        __import__("torch").nn.Linear(2, 2), *_xy()), TypeError,
        r"^initial_loss: net", r"nblib MLP", r"got Linear"),
    Bad("overfit_small_batch labels (n, 1)", lambda: m("sanity").overfit_small_batch(
        _net(), m("optim").SGD(0.1), _xy()[0], _xy()[1][:, None]), ValueError,
        r"^overfit_small_batch: y", r"shape \(8,\)", r"shape \(8, 1\)"),
    Bad("lr_range_test lr_max below lr_min", lambda: m("sanity").lr_range_test(
        _net(), lambda lr: m("optim").SGD(lr), *_xy(), lr_min=1.0, lr_max=0.1), ValueError,
        r"^lr_range_test: lr_max", r"larger than lr_min", r"\(0\.1\)"),
    Bad("check.dropout backward not a function",
        lambda: __import__("nblib.check", fromlist=["dropout"]).dropout(m("regularize").dropout_forward, 3),
        TypeError, r"backward", r"expected your dropout backward function", r"got int 3", kind="check"),
    Bad("check.early_stopping_loop given its result",
        lambda: __import__("nblib.check", fromlist=["x"]).early_stopping_loop((3, [1.0])),
        TypeError, r"early_stopping_loop", r"expected a function", r"got tuple", kind="check"),
]


def _params():
    for row in ROWS:
        marks = [pytest.mark.xfail(strict=True, reason=row.xfail)] if row.xfail else []
        yield pytest.param(row, id=row.id, marks=marks)


@pytest.mark.parametrize("row", list(_params()))
def test_bad_input_gets_a_named_error(row):
    R.test_bad_input_gets_a_named_error(row)


def test_row_ids_are_unique_and_new():
    ids = [r.id for r in ROWS]
    assert len(ids) == len(set(ids))
    assert not set(ids) & {r.id for r in R.ROWS}
