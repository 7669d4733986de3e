"""Bad input to notebook 04's modules, called as a learner would (``nblib.layers``,
``nblib.graphs``, ``nblib.widgets.backprop``, ``nblib.check.backprop``): the whole
``(out, cache)`` pair instead of the cache, another layer's cache, a dict where a list of
``(W, b)`` pairs belongs, floats for ints, 0-d arrays, probabilities for labels... Each
gets an error naming the function, the argument, what was expected and what came (rows in
the format of ``tests/test_robustness.py``, run by its runner). Lists and tensors where
arrays belong are not errors: they give the right result (tests at the end)."""

from __future__ import annotations

import numpy as np
import pytest

import test_robustness as R
from test_robustness import Bad

z = np.zeros
ones = np.ones
rng = np.random.default_rng(0)


def L():
    return R.m("layers")


def B():
    return R.m("widgets.backprop")


def G():
    return R.m("graphs")


def CB():
    return R.m("check.backprop")


def _affine_cache():
    return L().affine_forward(ones((4, 3)), ones((3, 5)), ones(5))[1]


ROWS = [
    # ---------------------------------------------------------------- caches
    Bad("relu_backward given the (out, cache) pair", lambda: L().relu_backward(ones((2, 3)), L().relu_forward(ones((2, 3)))),
        TypeError, r"^relu_backward: cache", r"input array returned by relu_forward", r"whole \(out, cache\) pair"),
    Bad("tanh_backward given the (out, cache) pair", lambda: L().tanh_backward(ones(3), L().tanh_forward(ones(3))),
        TypeError, r"^tanh_backward: cache", r"output array returned by tanh_forward", r"a tuple of 2"),
    Bad("affine_backward given the (out, cache) pair",
        lambda: L().affine_backward(ones((4, 5)), L().affine_forward(ones((4, 3)), ones((3, 5)), ones(5))), TypeError,
        r"^affine_backward: cache", r"\(x, W, b\)", r"whole \(out, cache\) pair"),
    Bad("linear_backward given the (out, cache) pair", lambda: L().linear_backward(ones(3), L().linear_forward(ones(3))),
        TypeError, r"^linear_backward: cache", r"the input's shape", r"whole \(out, cache\) pair"),
    Bad("sigmoid_backward given a relu cache", lambda: L().sigmoid_backward(ones((2, 3)), L().relu_forward(3 * ones((2, 3)))[1]),
        ValueError, r"^sigmoid_backward: cache", r"values lie in \[0, 1\]", r"values from 3 to 3"),
    Bad("tanh_backward given an affine output", lambda: L().tanh_backward(ones((2, 2)), 5 * ones((2, 2))),
        ValueError, r"^tanh_backward: cache", r"values lie in \[-1, 1\]", r"values from 5 to 5"),
    Bad("affine_backward given a leaky_relu cache", lambda: L().affine_backward(ones(2), L().leaky_relu_forward(ones(2))[1]),
        TypeError, r"^affine_backward: cache", r"returned by affine_forward", r"a tuple of 2 \(array \(2,\), float\)"),
    Bad("elu_backward given an affine cache", lambda: L().elu_backward(ones((4, 5)), _affine_cache()),
        TypeError, r"^elu_backward: cache", r"\(x, alpha, out\)", r"a tuple of 3 \(array \(4, 3\)"),
    Bad("leaky_relu_backward given a list", lambda: L().leaky_relu_backward(ones(2), [ones(2), 0.01]),
        TypeError, r"^leaky_relu_backward: cache", r"\(x, alpha\)", r"a list of 2"),
    Bad("relu_backward given a list of numbers", lambda: L().relu_backward(ones(2), [1.0, 2.0]),
        TypeError, r"^relu_backward: cache", r"input array", r"a list of 2"),
    # ---------------------------------------------------------------- shapes, 0-d, floats for ints
    Bad("affine_forward 0-d x", lambda: L().affine_forward(np.array(1.0), ones((1, 1)), ones(1)), ValueError,
        r"^affine_forward: x", r"2-D", r"shape \(\)"),
    Bad("affine_forward b as (1, h)", lambda: L().affine_forward(ones((4, 3)), ones((3, 5)), ones((1, 5))), ValueError,
        r"^affine_forward: b", r"1-D", r"shape \(1, 5\)"),
    Bad("init_weights float fan_out", lambda: L().init_weights(3, 4.0, "he", rng), TypeError,
        r"^init_weights: fan_out", r"an integer", r"float 4.0"),
    Bad("init_params float size", lambda: L().init_params([2, 3.0, 2]), ValueError,
        r"^init_params: sizes", r"positive ints", r"\[2, 3.0, 2\]"),
    Bad("init_params negative seed", lambda: L().init_params([2, 3, 2], seed=-1), TypeError,
        r"^init_params: seed", r"non-negative int or a numpy.random.Generator", r"int -1"),
    Bad("init_params unknown init", lambda: L().init_params([2, 3, 2], init="glorot"), ValueError,
        r"^init_params: init", r"one of \(", r"'glorot'"),
    Bad("MLP sizes as a tensor", lambda: L().MLP(R.m("torchbridge").torch.tensor([2, 3, 2])), ValueError,
        r"^MLP: sizes", r"list of at least two positive ints", r"tensor\(\[2, 3, 2\]\)"),
    Bad("MLP.forward one sample as 1-D", lambda: L().MLP([2, 3, 2]).forward(ones(2)), ValueError,
        r"^MLP.forward: X", r"2-D", r"shape \(2,\)"),
    Bad("softmax_cross_entropy 1-D logits", lambda: L().softmax_cross_entropy(ones(3), np.array([0])), ValueError,
        r"^softmax_cross_entropy: logits", r"2-D", r"shape \(3,\)"),
    # ---------------------------------------------------------------- the L-layer loop
    Bad("mlp_forward params as the MLP's dict", lambda: L().mlp_forward(ones((2, 2)), L().MLP([2, 3, 2]).params), TypeError,
        r"^mlp_forward: params", r"list of \(W, b\) pairs", r"a dict with keys \['W1'"),
    Bad("mlp_forward layers that do not chain",
        lambda: L().mlp_forward(ones((5, 2)), [(ones((2, 3)), ones(3)), (ones((4, 2)), ones(2))]), ValueError,
        r"^mlp_forward: params\[1\]\[0\] \(W2\)", r"\(d_in, d_out\) = \(3, d_out\)", r"has shape \(4, 2\)"),
    Bad("mlp_forward bias of the wrong size",
        lambda: L().mlp_forward(ones((5, 2)), [(ones((2, 3)), ones(2))]), ValueError,
        r"^mlp_forward: params\[0\]\[1\] \(b1\)", r"must have shape \(3,\)", r"has shape \(2,\)"),
    Bad("mlp_forward unknown activation", lambda: L().mlp_forward(ones((2, 2)), L().init_params([2, 2]), "swish"),
        ValueError, r"^mlp_forward: activation", r"one of \(", r"'swish'"),
    Bad("mlp_backward given the (logits, caches) pair",
        lambda: L().mlp_backward(ones((2, 2)), L().mlp_forward(ones((2, 2)), L().init_params([2, 3, 2]))), TypeError,
        r"^mlp_backward: caches", r"list of \(affine_cache, activation_cache\) pairs", r"whole \(logits, caches\) pair"),
    Bad("mlp_loss_and_grads float labels",
        lambda: L().mlp_loss_and_grads(ones((2, 2)), np.array([0.0, 1.0]), L().init_params([2, 3, 2])), TypeError,
        r"softmax_cross_entropy: labels", r"integer class ids", r"dtype float64"),
    Bad("mlp_loss_and_grads probabilities for labels",
        lambda: L().mlp_loss_and_grads(ones((2, 2)), np.array([[0.3, 0.7], [0.5, 0.5]]), L().init_params([2, 3, 2])),
        ValueError, r"softmax_cross_entropy: labels", r"shape \(2,\) integer class ids", r"shape \(2, 2\)"),
    Bad("MLP(head='bce') with probabilities outside [0, 1]",
        lambda: L().MLP([2, 3, 1], head="bce").loss_and_grads(ones((2, 2)), np.array([0.2, 1.5])), ValueError,
        r"^sigmoid_bce: targets", r"lie in \[0, 1\]", r"from 0.2 to 1.5"),
    # ---------------------------------------------------------------- graphs and widgets
    Bad("backward_stepper of a number", lambda: B().backward_stepper(3.0), TypeError,
        r"graph_from_value: root", r"nblib.autograd.Value", r"float 3.0"),
    Bad("draw_graph without an Axes", lambda: G().draw_graph("ax", [{"id": "x", "data": 1.0}]), TypeError,
        r"^draw_graph: ax", r"matplotlib Axes", r"str 'ax'"),
    Bad("draw_graph node inputs as a string", lambda: G().layout([{"id": "a"}, {"id": "b", "inputs": "a"}]), TypeError,
        r"^layout: node 'b': inputs", r"list of node ids", r"str 'a'"),
    Bad("draw_graph node data as a string", lambda: G().layout([{"id": "a", "data": "1.0"}]), TypeError,
        r"^layout: node 'a': data", r"a number", r"str '1.0'"),
    Bad("layout of no nodes", lambda: G().layout({}), TypeError,
        r"^layout: nodes", r"non-empty list of node dicts", r"dict \{\}"),
    Bad("training_playground preset as a number", lambda: B().training_playground(preset=3), TypeError,
        r"^training_playground: preset", r"a name from PLAYGROUND_PRESETS .* or a dict", r"int 3"),
    Bad("train_run float hidden", lambda: B().train_run(hidden=16.0, epochs=2), TypeError,
        r"^train_run: hidden", r"an integer", r"float 16.0"),
    Bad("train_run unknown activation", lambda: B().train_run(activation="swish", epochs=2), ValueError,
        r"^train_run: activation", r"one of \(", r"'swish'"),
    # ---------------------------------------------------------------- checkers (never raise at the learner)
    Bad("mlp_backprop given the result instead of the function", lambda: CB().mlp_backprop((1.0, [])), TypeError,
        r"check.mlp_backprop\(my_function\)", r"expected a function", r"got tuple \(1.0, \[\]\)", kind="check"),
    Bad("layer_gradcheck given None", lambda: CB().layer_gradcheck(None), TypeError,
        r"check.layer_gradcheck\(my_function\)", r"expected a function", r"got NoneType None", kind="check"),
    Bad("two_layer_loss params as a list", lambda: CB().two_layer_loss(ones((2, 2)), np.array([0, 1]), [ones((2, 3))]),
        TypeError, r"^two_layer_loss: params", r"dict with keys W1, b1, W2, b2", r"got list"),
]


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_bad_input_gets_a_named_error(row):
    R.test_bad_input_gets_a_named_error(row)


def test_row_ids_are_unique_and_new():
    ids = [r.id for r in ROWS]
    assert len(set(ids)) == len(ids)
    assert not set(ids) & {r.id for r in R.ROWS}


def test_lists_and_tensors_give_the_right_result():
    torch = pytest.importorskip("torch")
    layers = L()
    x, W, b = [[1.0, 2.0], [3.0, -1.0]], [[1.0, 0.5, -1.0], [2.0, 0.0, 1.0]], [0.5, 0.0, -0.5]
    want = np.array(x) @ np.array(W) + np.array(b)
    out, cache = layers.affine_forward(x, W, b)
    np.testing.assert_array_equal(out, want)
    out_t, _ = layers.affine_forward(torch.tensor(x), torch.tensor(W), torch.tensor(b))
    np.testing.assert_allclose(out_t, want)
    assert isinstance(out_t, np.ndarray) and out_t.dtype == np.float64
    dx, dW, db = layers.affine_backward([[1.0, 1.0, 1.0], [0.0, 1.0, 0.0]], cache)
    np.testing.assert_array_equal(db, [1.0, 2.0, 1.0])
    params = [(np.array(W).tolist(), list(b))]                       # lists inside the params list
    loss, grads = layers.mlp_loss_and_grads(torch.tensor(x), [0, 2], params, "relu")
    ref_loss, ref_grads = layers.mlp_loss_and_grads(np.array(x), np.array([0, 2]), [(np.array(W), np.array(b))], "relu")
    assert loss == ref_loss and all(np.array_equal(a, c) for g, r in zip(grads, ref_grads) for a, c in zip(g, r))
    assert layers.init_params([2, np.int64(3), 2], seed=np.random.default_rng(1))[0][0].shape == (2, 3)
