"""Checkers of notebooks 04 and 05: accept right answers (reference and an alternative),
name typical mistakes, and say "not implemented yet" to a stub."""

import math

import numpy as np
import pytest

from nblib import check, layers as L
from nblib.autograd import Value
from nblib.gradcheck import numerical_gradient, rel_error


def stub(*args):
    raise NotImplementedError()


def _assert_todo(r):
    assert r.status == "todo" and "not implemented yet" in r.message, r.message


# ================================================================== notebook 04
# ---- sigmoid_backward
def alt_sigmoid_backward(dout, s):
    return dout * (s - s * s)


@pytest.mark.parametrize("fn", [lambda d, s: L.sigmoid_backward(d, s), alt_sigmoid_backward])
def test_sigmoid_backward_accepts(fn):
    assert check.sigmoid_backward(fn).passed


@pytest.mark.parametrize("wrong, hint", [
    (lambda d, s: s * (1 - s), "local derivative σ(x)(1-σ(x)) alone"),
    (lambda d, s: d * (1 / (1 + np.exp(-s))) * (1 - 1 / (1 + np.exp(-s))), "not x"),
    (lambda d, s: d * (1 - s ** 2), "derivative of tanh"),
    (lambda d, s: -d * s * (1 - s), "sign error"),
    (lambda d, s: d * s, "differs from the expected one"),
])
def test_sigmoid_backward_names_mistakes(wrong, hint):
    r = check.sigmoid_backward(wrong)
    assert r.status == "fail" and hint in r.message, r.message


def test_sigmoid_backward_stub():
    _assert_todo(check.sigmoid_backward(stub))


# ---- affine_backward
def alt_affine_backward(dout, cache):
    x, W, b = cache
    return np.einsum("nh,dh->nd", dout, W), np.einsum("nd,nh->dh", x, dout), np.ones(dout.shape[0]) @ dout


@pytest.mark.parametrize("fn", [L.affine_backward, alt_affine_backward])
def test_affine_backward_accepts(fn):
    r = check.affine_backward(fn)
    assert r.passed, r.message


def _aff(dx=None, dW=None, db=None):
    def f(dout, cache):
        x, W, b = cache
        return ((dout @ W.T) if dx is None else dx(dout, x, W),
                (x.T @ dout) if dW is None else dW(dout, x, W),
                dout.sum(0) if db is None else db(dout, x, W))
    return f


@pytest.mark.parametrize("wrong, hint", [
    (_aff(db=lambda d, x, W: d.mean(0)), "*sum* of dout over the batch"),
    (_aff(dW=lambda d, x, W: d.T @ x), "W transposed"),
    (_aff(db=lambda d, x, W: d), "summed over the batch"),
    (_aff(dx=lambda d, x, W: d @ W), "raised ValueError"),
    (_aff(dW=lambda d, x, W: 2 * x.T @ d), "dW is wrong"),
    (lambda d, c: L.affine_backward(d, c)[:2], "return a tuple (dx, dW, db)"),
])
def test_affine_backward_names_mistakes(wrong, hint):
    r = check.affine_backward(wrong)
    assert r.status == "fail" and hint in r.message, r.message


def test_affine_backward_in_place_and_stub():
    def inplace(dout, cache):
        dout *= 1.0
        dout[0, 0] += 1.0
        return L.affine_backward(dout, cache)
    r = check.affine_backward(inplace)
    assert r.status == "fail" and "in place" in r.message
    _assert_todo(check.affine_backward(stub))


# ---- softmax_ce_backward
def alt_softmax_ce(z, y):
    n = z.shape[0]
    m = z.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(z - m).sum(axis=1))
    loss = np.mean(lse - z[np.arange(n), y])
    p = np.exp(z - lse[:, None])
    p[np.arange(n), y] -= 1
    return loss, p / n


def naive_softmax_ce(z, y):
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    n = len(y)
    g = p.copy()
    g[np.arange(n), y] -= 1
    return -np.log(p[np.arange(n), y]).mean(), g / n


@pytest.mark.parametrize("fn", [L.softmax_cross_entropy, alt_softmax_ce])
def test_softmax_ce_accepts(fn):
    r = check.softmax_ce_backward(fn)
    assert r.passed, r.message


@pytest.mark.parametrize("wrong, hint", [
    (lambda z, y: (L.softmax_cross_entropy(z, y)[0], L.softmax_cross_entropy(z, y)[1] * len(y)), "1/n is missing"),
    (lambda z, y: (L.softmax_cross_entropy(z, y)[0] * len(y), L.softmax_cross_entropy(z, y)[1]), "not the sum"),
    (lambda z, y: (L.softmax_cross_entropy(z, y)[0] * len(y), L.softmax_cross_entropy(z, y)[1] * len(y)),
     "sum over the batch for both"),
    (lambda z, y: (L.softmax_cross_entropy(z, y)[0], -L.softmax_cross_entropy(z, y)[1]), "sign error"),
    (naive_softmax_ce, "subtract each row's max"),
])
def test_softmax_ce_names_mistakes(wrong, hint):
    r = check.softmax_ce_backward(wrong)
    assert r.status == "fail" and hint in r.message, r.message


def test_softmax_ce_stub():
    _assert_todo(check.softmax_ce_backward(stub))


# ---- planted bug
def _bug_setup(seed=0):
    rng = np.random.default_rng(seed)
    params = {"W1": rng.normal(size=(2, 4)), "b1": rng.normal(size=4),
              "W2": rng.normal(size=(4, 3)), "b2": rng.normal(size=3)}
    return rng.normal(size=(5, 2)), rng.integers(0, 3, size=5), params


def test_reference_two_layer_backward_is_right_and_the_bug_is_detectable():
    X, y, params = _bug_setup()
    good = check.two_layer_backward(X, y, params)
    bad = check.buggy_two_layer_backward(X, y, params)
    for k in params:
        def f(v, k=k):
            return check.two_layer_loss(X, y, dict(params, **{k: v}))
        num = numerical_gradient(f, params[k])
        # two-point differences (eps=1e-6), as in the notebook: 1e-6 is "right", 1e-2 "a bug"
        assert rel_error(good[k], num) < 1e-6, k
        if k in ("W1", "b1"):
            assert rel_error(bad[k], num) > 1e-2, k
        else:
            assert rel_error(bad[k], num) < 1e-6, k


def alt_fixed(X, y, p):
    h = np.tanh(X @ p["W1"] + p["b1"])
    _, ds = L.softmax_cross_entropy(h @ p["W2"] + p["b2"], y)
    dz1 = (ds @ p["W2"].T) / np.cosh(X @ p["W1"] + p["b1"]) ** 2
    return {"W2": h.T @ ds, "b2": ds.sum(0), "W1": X.T @ dz1, "b1": dz1.sum(0)}


@pytest.mark.parametrize("fn", [check.two_layer_backward, alt_fixed])
def test_planted_bug_accepts(fn):
    assert check.planted_bug(fn).passed


def test_planted_bug_names_mistakes():
    r = check.planted_bug(check.buggy_two_layer_backward)
    assert r.status == "fail" and "still the buggy gradients" in r.message
    r = check.planted_bug(lambda X, y, p: {k: v for k, v in check.two_layer_backward(X, y, p).items() if k != "b2"})
    assert r.status == "fail" and "return a dict with keys" in r.message

    def relu_version(X, y, p):
        z1 = X @ p["W1"] + p["b1"]
        h = np.tanh(z1)
        _, ds = L.softmax_cross_entropy(h @ p["W2"] + p["b2"], y)
        dz1 = (ds @ p["W2"].T) * (z1 > 0)
        return {"W1": X.T @ dz1, "b1": dz1.sum(0), "W2": h.T @ ds, "b2": ds.sum(0)}
    r = check.planted_bug(relu_version)
    assert r.status == "fail" and "derivative of ReLU" in r.message
    _assert_todo(check.planted_bug(stub))


# ================================================================== notebook 05
def ref_mul(self, other):
    return Value.__mul__(self, other)


def alt_mul(self, other):
    other = other if isinstance(other, Value) else Value(other)
    out = Value(other.data * self.data, (self, other), "*")

    def _backward():
        g = out.grad
        self.grad = self.grad + g * other.data
        other.grad = other.grad + g * self.data
    out._backward = _backward
    return out


def _mul_variant(kind):
    def mul(self, other):
        if kind != "nowrap":
            other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():
            if kind == "assign":
                self.grad = other.data * out.grad
                other.grad = self.data * out.grad
            elif kind == "swap":
                self.grad += self.data * out.grad
                other.grad += other.data * out.grad
            elif kind == "no_out_grad":
                self.grad += other.data
                other.grad += self.data
            else:                       # "nowrap" and "no_backward": the right rule
                self.grad += other.data * out.grad
                other.grad += self.data * out.grad
        if kind != "no_backward":
            out._backward = _backward
        return out
    return mul


@pytest.mark.parametrize("fn", [ref_mul, alt_mul])
def test_value_mul_accepts(fn):
    r = check.value_mul(fn)
    assert r.passed, r.message


@pytest.mark.parametrize("kind, hint", [
    ("assign", "Use `+=`"),
    ("swap", "swapped"),
    ("no_out_grad", "multiply by out.grad"),
    ("no_backward", "every gradient is 0"),
    ("nowrap", "wrap it first"),
])
def test_value_mul_names_mistakes(kind, hint):
    r = check.value_mul(_mul_variant(kind))
    assert r.status == "fail" and hint in r.message, r.message


def test_value_mul_stub_and_not_a_value():
    _assert_todo(check.value_mul(stub))
    r = check.value_mul(lambda self, other: self.data * other.data)
    assert r.status == "fail" and "must return a new Value" in r.message
    assert "raised" not in r.message                      # the checker's own test is not a crash of yours
    r = check.value_mul(lambda self, other: None)
    assert "returned None: the function has no `return` statement" in r.message


def test_backward_checkers_name_a_missing_return_and_show_the_learners_line():
    r = check.affine_backward(lambda dout, cache: None)
    assert r.status == "fail" and "got None: the function has no `return` statement" in r.message

    def adds_a_string(self, other):
        out = Value(self.data * other.data, (self, other), "*")
        return out + "x"
    r = check.value_mul(adds_a_string)
    assert "Value.__add__" in r.message and '(line: `return out + "x"`)' in r.message


def _tanh_variant(kind):
    def tanh(self):
        t = math.tanh(self.data)
        out = Value(t, (self,), "tanh")

        def _backward():
            if kind == "ok":
                self.grad += (1 - t ** 2) * out.grad
            elif kind == "alt":
                self.grad += out.grad / math.cosh(self.data) ** 2
            elif kind == "input":
                self.grad += (1 - self.data ** 2) * out.grad
            elif kind == "no_out_grad":
                self.grad += 1 - t ** 2
            elif kind == "assign":
                self.grad = (1 - t ** 2) * out.grad
        out._backward = _backward
        return out
    return tanh


@pytest.mark.parametrize("kind", ["ok", "alt"])
def test_value_tanh_accepts(kind):
    r = check.value_tanh(_tanh_variant(kind))
    assert r.passed, r.message
    assert check.value_tanh(Value.tanh).passed


@pytest.mark.parametrize("kind, hint", [
    ("input", "1 - x² uses the input"),
    ("no_out_grad", "multiply the local derivative by out.grad"),
    ("assign", "use `+=`"),
])
def test_value_tanh_names_mistakes(kind, hint):
    r = check.value_tanh(_tanh_variant(kind))
    assert r.status == "fail" and hint in r.message, r.message
    _assert_todo(check.value_tanh(stub))


def alt_topo(root):
    # Kahn's algorithm on the reversed graph
    nodes, stack, seen = [], [root], {id(root)}
    while stack:
        v = stack.pop()
        nodes.append(v)
        for c in v._prev:
            if id(c) not in seen:
                seen.add(id(c))
                stack.append(c)
    consumers = {id(v): 0 for v in nodes}
    for v in nodes:
        for c in set(v._prev):
            consumers[id(c)] += 1
    ready, out = [root], []
    while ready:
        v = ready.pop()
        out.append(v)
        for c in set(v._prev):
            consumers[id(c)] -= 1
            if consumers[id(c)] == 0:
                ready.append(c)
    return out[::-1]


def recursive_topo(root):
    order, seen = [], set()

    def visit(v):
        if id(v) not in seen:
            seen.add(id(v))
            for c in v._prev:
                visit(c)
            order.append(v)
    visit(root)
    return order


def dup_topo(root):
    order = []
    stack = [root]
    while stack:
        v = stack.pop()
        order.append(v)
        stack.extend(v._prev)
    return order[::-1]


@pytest.mark.parametrize("fn", [Value.topological_order, alt_topo])
def test_topo_order_accepts(fn):
    r = check.topo_order(fn)
    assert r.passed, r.message


@pytest.mark.parametrize("fn, hint", [
    (recursive_topo, "Keep your own stack"),
    (dup_topo, "more than once"),
    (lambda root: Value.topological_order(root)[::-1], "the root comes first"),
    (lambda root: Value.topological_order(root)[1:], "distinct nodes but the graph has"),
    (lambda root: 3, "return a list of Values"),
])
def test_topo_order_names_mistakes(fn, hint):
    r = check.topo_order(fn)
    assert r.status == "fail" and hint in r.message, r.message
    _assert_todo(check.topo_order(stub))
