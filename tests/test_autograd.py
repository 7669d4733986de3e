"""nblib.autograd.Value against torch.autograd (float64) and closed forms.

Tolerances: values and gradients agree with torch to 1e-12 relative (both compute the same
float64 operations in possibly different orders); the tiny MLP's gradients to 1e-10.
"""

import math

import numpy as np
import pytest

from nblib.autograd import MLP, Layer, Neuron, Value

torch = pytest.importorskip("torch")


def _t(x):
    return torch.tensor(float(x), dtype=torch.float64, requires_grad=True)


# Each expression is written once and run twice: on Values and on torch tensors. Leaves are
# chosen so that relu is evaluated away from its kink and log/pow see valid inputs.
def _e_reuse(a, b, c, ops):
    return a * a + a * b + a          # a used three times


def _e_division(a, b, c, ops):
    return (a + b) / (c * c + 1.0) - 1.0 / b + b / 4.0


def _e_powers(a, b, c, ops):
    return a ** 3 + (c ** 2) ** 0.5 + b ** -2 + 2 ** a


def _e_relu_either_side(a, b, c, ops):
    return ops.relu(a * b) + ops.relu(a - b) * c + ops.relu(c)


def _e_transcendental(a, b, c, ops):
    return ops.exp(a) * ops.log(c) + ops.tanh(b * a) - ops.sigmoid(c - a)


def _e_numbers_either_side(a, b, c, ops):
    return 3 + a, 3 - a, a - 3, 3 * a, a * 3, 3 / a, a / 3, -a + 0.5


def _e_branches(a, b, c, ops):
    d = a * b + c
    e = ops.tanh(d)
    f = e * d + e / (1 + d * d)       # d and e each feed several nodes
    return f * f


def _e_long(a, b, c, ops):
    x = a
    for k in range(50):
        x = ops.tanh(x * b + c) + 0.1 * x
    return x


class _VOps:
    relu = staticmethod(lambda v: v.relu())
    exp = staticmethod(lambda v: v.exp())
    log = staticmethod(lambda v: v.log())
    tanh = staticmethod(lambda v: v.tanh())
    sigmoid = staticmethod(lambda v: v.sigmoid())


class _TOps:
    relu = staticmethod(torch.relu)
    exp = staticmethod(torch.exp)
    log = staticmethod(torch.log)
    tanh = staticmethod(torch.tanh)
    sigmoid = staticmethod(torch.sigmoid)


EXPRESSIONS = [_e_reuse, _e_division, _e_powers, _e_relu_either_side, _e_transcendental,
               _e_numbers_either_side, _e_branches, _e_long]
LEAVES = [(1.3, -0.7, 2.1), (-0.4, 1.9, 0.6), (2.2, 0.35, 1.4)]


@pytest.mark.parametrize("expr", EXPRESSIONS, ids=lambda f: f.__name__[3:])
@pytest.mark.parametrize("leaves", LEAVES)
def test_values_and_grads_match_torch(expr, leaves):
    vs = [Value(x) for x in leaves]
    ts = [_t(x) for x in leaves]
    outs_v = expr(*vs, _VOps)
    outs_t = expr(*ts, _TOps)
    if not isinstance(outs_v, tuple):
        outs_v, outs_t = (outs_v,), (outs_t,)
    for ov, ot in zip(outs_v, outs_t):
        assert ov.data == pytest.approx(ot.item(), rel=1e-12, abs=1e-14)
        ov.backward()
        grads = torch.autograd.grad(ot, ts, allow_unused=True)
        for v, g in zip(vs, grads):
            expected = 0.0 if g is None else g.item()
            assert v.grad == pytest.approx(expected, rel=1e-12, abs=1e-14), (expr.__name__, leaves)


def test_node_reuse_accumulates():
    a = Value(3.0)
    b = a * a            # db/da = 2a
    b.backward()
    assert a.grad == 6.0
    a = Value(-2.0)
    c = a + a + a        # 3
    c.backward()
    assert a.grad == 3.0


def test_backward_twice_gives_same_grads_not_double():
    a, b = Value(1.5), Value(-0.5)
    out = (a * b).tanh() + a * a
    out.backward()
    first = (a.grad, b.grad)
    out.backward()
    assert (a.grad, b.grad) == first
    # torch, by contrast, accumulates: documented difference
    ta, tb = _t(1.5), _t(-0.5)
    tout = (ta * tb).tanh() + ta * ta
    tout.backward(retain_graph=True)
    tout.backward()
    assert ta.grad.item() == pytest.approx(2 * first[0], rel=1e-12)


def test_backward_resets_a_parameter_shared_by_two_graphs():
    w = Value(2.0)
    loss1 = w * 3.0
    loss1.backward()
    assert w.grad == 3.0
    loss2 = w * w
    loss2.backward()     # a new graph: w's old grad is reset, not added to
    assert w.grad == 4.0
    (loss1 + loss2).backward()   # both losses: add them, then one backward
    assert w.grad == 7.0


def test_zero_grad():
    a = Value(1.0)
    out = a.exp() * a
    out.backward()
    assert a.grad != 0
    out.zero_grad()
    assert a.grad == 0.0 and out.grad == 0.0


def test_topological_order_puts_inputs_first_and_each_node_once():
    a, b = Value(1.0), Value(2.0)
    c = a * b
    d = c + a
    e = d * c
    order = e.topological_order()
    assert order[-1] is e
    assert len(order) == len({id(n) for n in order}) == 5
    pos = {id(n): i for i, n in enumerate(order)}
    for n in order:
        for child in n._prev:
            assert pos[id(child)] < pos[id(n)]


def test_deep_chain_100000_no_recursion_error():
    x = Value(0.5)
    y = x
    for _ in range(100_000):
        y = y * 1.00001
    y.backward()
    expected = 1.00001 ** 100_000  # dy/dx of y = x * c^N is c^N
    assert x.grad == pytest.approx(expected, rel=1e-9)
    assert y.data == pytest.approx(0.5 * expected, rel=1e-9)


def test_relu_kink_gradient_zero_like_torch():
    a = Value(0.0)
    r = a.relu()
    r.backward()
    t = _t(0.0)
    torch.relu(t).backward()
    assert a.grad == t.grad.item() == 0.0


def test_sigmoid_stable_for_large_inputs():
    assert Value(-800.0).sigmoid().data == pytest.approx(0.0, abs=1e-300)
    assert Value(800.0).sigmoid().data == 1.0


# ------------------------------------------------------------------ bad input
def test_value_pow_value_is_refused_with_a_clear_message():
    with pytest.raises(TypeError, match=r"Value \*\* Value is not supported"):
        Value(2.0) ** Value(3.0)


def test_log_of_non_positive():
    for x in (0.0, -1.5):
        with pytest.raises(ValueError, match=r"Value.log: log is defined only for positive numbers"):
            Value(x).log()


def test_other_bad_inputs():
    with pytest.raises(TypeError, match="Value: expected a Value or a real number, got str"):
        Value("1.0")
    with pytest.raises(TypeError, match="Value.__add__: expected a Value or a real number, got list"):
        Value(1.0) + [1]
    with pytest.raises(TypeError, match="data is already a Value"):
        Value(Value(1.0))
    with pytest.raises(ZeroDivisionError, match=r"0 \*\* -1 is undefined"):
        Value(1.0) / Value(0.0)
    with pytest.raises(ZeroDivisionError, match="division by the number 0"):
        Value(1.0) / 0
    with pytest.raises(ValueError, match="negative base, non-integer exponent"):
        Value(-2.0) ** 0.5
    with pytest.raises(OverflowError, match=r"Value.exp: exp\(1000\) is too large"):
        Value(1000.0).exp()
    with pytest.raises(ValueError, match="needs a positive base"):
        (-2) ** Value(1.0)
    with pytest.raises(TypeError, match="got bool"):
        Value(True)


# ------------------------------------------------------------------ the tiny MLP
def test_mlp_grads_match_torch():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 3))
    y = np.array([1.0, -1.0, 1.0, 1.0, -1.0, -1.0])
    net = MLP(3, [4, 4, 1], seed=1)
    loss = sum(((net(list(x)) - t) ** 2 for x, t in zip(X, y)), Value(0.0)) / len(y)
    loss.backward()
    arrays = net.weight_arrays()
    tp = [(torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True)) for W, b in arrays]
    h = torch.tensor(X)
    for i, (W, b) in enumerate(tp):
        h = h @ W + b
        if i < len(tp) - 1:
            h = torch.tanh(h)
    tloss = ((h[:, 0] - torch.tensor(y)) ** 2).mean()
    tloss.backward()
    assert loss.data == pytest.approx(tloss.item(), rel=1e-12)
    for layer, (W, b) in zip(net.layers, tp):
        gW = np.array([[w.grad for w in n.w] for n in layer.neurons]).T
        gb = np.array([n.b.grad for n in layer.neurons])
        np.testing.assert_allclose(gW, W.grad.numpy(), rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(gb, b.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_mlp_structure_and_training_reduces_loss():
    net = MLP(2, [8, 1], seed=0)
    assert len(net.parameters()) == (2 * 8 + 8) + (8 + 1)
    assert isinstance(net([0.5, -0.5]), Value)
    assert len(MLP(2, [3, 2])([1.0, 2.0])) == 2
    X = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
    y = [-1.0, 1.0, 1.0, -1.0]
    losses = []
    for _ in range(60):
        loss = sum(((net(x) - t) ** 2 for x, t in zip(X, y)), Value(0.0))
        loss.backward()
        for p in net.parameters():
            p.data -= 0.05 * p.grad
        losses.append(loss.data)
    assert losses[-1] < 0.2 * losses[0]
    net.zero_grad()
    assert all(p.grad == 0.0 for p in net.parameters())


def test_neuron_and_layer_bad_input():
    with pytest.raises(ValueError, match="Neuron: got 3 inputs but this neuron has 2 weights"):
        Neuron(2)([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="Neuron: nonlin must be"):
        Neuron(2, nonlin="sigmoidish")
    assert len(Layer(3, 5)([1.0, 2.0, 3.0])) == 5


def test_mlp_sizes_validated():
    with pytest.raises(ValueError, match="MLP: nin must be > 0, got 0"):
        MLP(0, [3, 1])
    with pytest.raises(ValueError, match="MLP: nouts must be a non-empty list"):
        MLP(2, [])
    with pytest.raises(ValueError, match="MLP: every entry of nouts must be > 0, got 0"):
        MLP(2, [3, 0])
    with pytest.raises(TypeError, match="Layer: nout must be an integer"):
        Layer(2, 1.5)
