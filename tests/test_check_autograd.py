"""Checkers of notebook 05 (the learner builds the engine): each accepts the reference and a
correct answer written differently, rejects the plausible wrong answers below with the right
first hint (and a further step), and says "not implemented yet" to a stub.

The learner's class is written here as a factory: ``make_value(bug)`` returns a ``MyValue``
class as the notebook's exercise asks for, with one plausible mistake switched on.
"""

import math

import pytest

from nblib import check
from nblib.autograd import MLP, Value
from nblib.check import autograd as C


def make_value(bug=None):
    """The notebook's ``MyValue`` (its given parts and the solution), with ``bug`` switched on."""

    class MyValue:
        def __init__(self, data, _children=(), _op=""):
            self.data = float(data)
            self.grad = 0.0
            self._prev = tuple(_children)
            self._op = _op
            self._backward = lambda: None

        def __add__(self, other):
            if bug != "add_nowrap":
                other = other if isinstance(other, MyValue) else MyValue(other)
            out = MyValue(self.data + other.data, (self, other), "+")

            def _backward():
                if bug == "add_forgets_other":
                    self.grad += out.grad
                elif bug == "add_assign":
                    self.grad = out.grad
                    other.grad = out.grad
                elif bug == "add_no_upstream":
                    self.grad += 1.0
                    other.grad += 1.0
                else:
                    self.grad += out.grad
                    other.grad += out.grad
            out._backward = _backward
            return out

        def __mul__(self, other):
            other = MyValue(other) if bug == "mul_rewrap" else other if isinstance(other, MyValue) else MyValue(other)
            children = () if bug == "mul_no_children" else (self, other)
            out = MyValue(self.data * other.data, children, "*")

            def _backward():
                if bug == "mul_divides":                 # d(ab)/da = out/a: breaks when a = 0
                    self.grad += out.data / self.data * out.grad
                    other.grad += out.data / other.data * out.grad
                elif bug == "mul_swap":
                    self.grad += self.data * out.grad
                    other.grad += other.data * out.grad
                elif bug == "mul_assign":
                    self.grad = other.data * out.grad
                    other.grad = self.data * out.grad
                else:
                    self.grad += other.data * out.grad
                    other.grad += self.data * out.grad
            if bug != "mul_no_backward":
                out._backward = _backward
            return out

        def __pow__(self, k):
            out = MyValue(self.data ** k, (self,), f"**{k}")

            def _backward():
                if bug == "alt" and self.data != 0:       # correct: k a^(k-1) = k a^k / a
                    self.grad += k * out.data / self.data * out.grad
                elif bug == "pow_k_a_k":
                    self.grad += k * self.data ** k * out.grad
                elif bug == "pow_no_k":
                    self.grad += self.data ** (k - 1) * out.grad
                else:
                    self.grad += k * self.data ** (k - 1) * out.grad
            out._backward = _backward
            return out

        def tanh(self):
            t = math.tanh(self.data)
            out = MyValue(t, (self,), "tanh")

            def _backward():
                if bug == "alt":                          # correct, written differently: 1 / cosh²
                    self.grad += out.grad / math.cosh(self.data) ** 2
                elif bug == "tanh_input":
                    self.grad += (1 - self.data ** 2) * out.grad
                elif bug == "tanh_no_upstream":
                    self.grad += 1 - t ** 2
                elif bug == "tanh_assign":
                    self.grad = (1 - t ** 2) * out.grad
                else:
                    self.grad += (1 - t ** 2) * out.grad
            out._backward = _backward
            return out

        def relu(self):
            out = MyValue(max(self.data, 0.0), (self,), "relu")

            def _backward():
                if bug == "alt":                          # correct: the output is > 0 exactly when the input is
                    self.grad += out.grad if out.data > 0 else 0.0
                elif bug == "relu_output":
                    self.grad += out.data * out.grad
                elif bug == "relu_ge":
                    self.grad += (self.data >= 0) * out.grad
                else:
                    self.grad += (self.data > 0) * out.grad
            out._backward = _backward
            return out

        # given compositions
        def __neg__(self):
            return self * -1.0

        def __sub__(self, other):
            return self + (-other)

        def __radd__(self, other):
            return self + other

        def __rmul__(self, other):
            return self * other

        def __rsub__(self, other):
            return (-self) + other

        def __truediv__(self, other):
            return self * other ** -1 if isinstance(other, MyValue) else self * (1.0 / other)

    MyValue.topological_order = topo_iterative
    MyValue.backward = backward_ok
    return MyValue


# ------------------------------------------------------------------ reference-style answers
def topo_iterative(root):
    order, visited, stack = [], set(), [(root, False)]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for child in node._prev:
            if id(child) not in visited:
                stack.append((child, False))
    return order


def topo_kahn(root):
    """Correct, written differently: Kahn's algorithm (count consumers, emit at zero)."""
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
        for c in {id(c): c for c in v._prev}.values():
            consumers[id(c)] += 1
    ready, out = [root], []
    while ready:
        v = ready.pop()
        out.append(v)
        for c in {id(c): c for c in v._prev}.values():
            consumers[id(c)] -= 1
            if consumers[id(c)] == 0:
                ready.append(c)
    return out[::-1]


def backward_ok(root):
    order = root.topological_order()
    for node in order:
        node.grad = 0.0
    root.grad = 1.0
    for node in reversed(order):
        node._backward()
    return order


def backward_alt(root):
    """Correct, written differently: Kahn's order, an index loop."""
    order = topo_kahn(root)
    for k in range(len(order)):
        order[k].grad = 0
    order[-1].grad = 1
    k = len(order) - 1
    while k >= 0:
        order[k]._backward()
        k -= 1
    return order


def stub(*args):
    raise NotImplementedError()


def _fails(r, first, later=None):
    assert r.status == "fail", r
    assert first in r.message, r.message
    if later is not None:
        assert any(later in h for h in r.hints), r.hints


# ================================================================== value_ops
def test_value_ops_accepts_the_reference_style_class_and_the_course_engine():
    r = C.value_ops(make_value())
    assert r.passed, r.message
    r = C.value_ops(make_value("alt"))                  # tanh by cosh, relu from the output, pow via out/a
    assert r.passed, r.message
    assert C.value_ops(Value).passed                      # nblib's engine, written differently (slots, exp, ...)


@pytest.mark.parametrize("bug, first, later", [
    ("mul_no_children", "does not record its inputs", "(self, other)"),
    ("mul_no_backward", "every input gradient is 0", "out._backward = _backward"),
    ("mul_swap", "swapped", "other.data * out.grad"),
    ("mul_assign", "only one of its two gradient contributions", "never `self.grad = ...`"),
    ("add_assign", "only one of its two gradient contributions", "self.grad +="),
    ("add_no_upstream", "not multiplied by the gradient arriving from above", "out.grad = 2.5"),
    ("add_nowrap", "has no attribute 'data'", "wrap it first"),
    ("add_forgets_other", "one input got no gradient", "other.grad +="),
    ("mul_rewrap", "float() argument must be", "wrap only plain numbers"),
    ("mul_divides", "ZeroDivisionError", None),
    ("pow_k_a_k", "k * a**(k-1), not k * a**k", "self.data ** (k - 1)"),
    ("pow_no_k", "factor k is missing", "multiply by k"),
    ("tanh_input", "uses the input a; tanh's uses its output", "1 - t**2"),
    ("tanh_no_upstream", "not multiplied by the gradient arriving from above", "out.grad"),
    ("tanh_assign", "only one of its two gradient contributions", "+="),
    ("relu_output", "a step (0 or 1), not the output value", "self.data > 0"),
    ("relu_ge", "at exactly a = 0 use the derivative 0", "strictly"),
])
def test_value_ops_names_each_mistake(bug, first, later):
    _fails(C.value_ops(make_value(bug)), first, later)


def test_no_children_mul_would_give_zero_gradient_in_a_chain():
    """The issue's example: a __mul__ that records no children gives a.grad = 0 in (a*b)*c."""
    V = make_value("mul_no_children")
    a, b, c = V(2.0), V(-3.0), V(0.5)
    C._drive((a * b) * c)
    assert a.grad == 0.0 and b.grad == 0.0                  # so the checker must refuse it (above)


def test_value_ops_returns_a_number_or_none():
    V = make_value()
    V.__mul__ = lambda self, other: self.data * other.data
    r = C.value_ops(V)
    _fails(r, "each operation must return a new MyValue")
    V.__mul__ = lambda self, other: None
    assert "None: the function has no `return` statement" in C.value_ops(V).message


def test_value_ops_stub_is_todo_and_names_the_method():
    V = make_value()
    V.__pow__ = stub
    r = C.value_ops(V)
    assert r.status == "todo" and "not implemented yet" in r.message and "__pow__" in r.message


def test_value_ops_quotes_the_learners_line_on_a_crash():
    V = make_value()

    def tanh(self):
        return MyUndefined(self)   # noqa: F821 -- the learner's typo
    V.tanh = tanh
    r = C.value_ops(V)
    assert r.status == "fail" and "NameError" in r.message and "(line: `return MyUndefined(self)" in r.message


def test_value_ops_is_given_a_function_instead_of_the_class():
    r = check.value_ops(make_value().__mul__)
    assert r.status == "fail" and "expected a class" in r.message


# ================================================================== topo_order
def bfs_reversed(root):
    order, seen, queue = [], {id(root)}, [root]
    while queue:
        v = queue.pop(0)
        order.append(v)
        for c in v._prev:
            if id(c) not in seen:
                seen.add(id(c))
                queue.append(c)
    return order[::-1]


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
    order, stack = [], [root]
    while stack:
        v = stack.pop()
        order.append(v)
        stack.extend(v._prev)
    return order[::-1]


def pre_order(root):
    """Appends a node when first seen (pre-order), reversed: wrong where paths meet."""
    order, seen, stack = [], set(), [root]
    while stack:
        v = stack.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        order.append(v)
        stack.extend(v._prev)
    return order[::-1]


@pytest.mark.parametrize("fn", [Value.topological_order, topo_iterative, topo_kahn])
def test_topo_order_accepts(fn):
    r = C.topo_order(fn)
    assert r.passed, r.message


def test_bfs_reversed_gives_the_wrong_gradient_on_the_uneven_graph():
    """The issue's example: BFS reversed visits z before x; dL/da = 2 instead of 8."""
    a, root = C._uneven()
    order = bfs_reversed(root)
    for node in order:
        node.grad = 0.0
    root.grad = 1.0
    for node in reversed(order):
        node._backward()
    assert a.grad == 2.0
    root.backward()
    assert a.grad == 8.0


@pytest.mark.parametrize("fn, first, later", [
    (bfs_reversed, "a node comes before one of its inputs", "breadth-first"),
    (pre_order, "a node comes before one of its inputs", "post-order"),
    (recursive_topo, "Keep your own stack", "(node, True)"),
    (dup_topo, "more than once", "visited"),
    (lambda root: Value.topological_order(root)[::-1], "the root comes first", None),
    (lambda root: Value.topological_order(root)[1:], "distinct nodes but the graph has", "node._prev"),
    (lambda root: 3, "return a list of Values", None),
    (lambda root: None, "None: the function has no `return` statement", None),
])
def test_topo_order_names_mistakes(fn, first, later):
    _fails(C.topo_order(fn), first, later)


def test_topo_order_stub():
    r = C.topo_order(stub)
    assert r.status == "todo" and "not implemented yet" in r.message


# ================================================================== value_backward
def _backward_variant(kind):
    def backward(root):
        order = topo_iterative(root)
        if kind != "no_reset":
            for node in order:
                node.grad = 0.0
        if kind != "no_seed":
            root.grad = 1.0
        if kind == "reset_after_seed":
            for node in order:
                node.grad = 0.0
        walk = order if kind == "forward_order" else list(reversed(order))
        if kind == "only_root":
            walk = [root]
        if kind == "bfs":
            walk = list(reversed(bfs_reversed(root)))
        for node in walk:
            node._backward()
        if kind == "no_return":
            return None
        return order
    return backward


@pytest.mark.parametrize("fn", [backward_ok, backward_alt, lambda root: Value.backward(root)])
def test_value_backward_accepts(fn):
    r = C.value_backward(fn)
    assert r.passed, r.message


@pytest.mark.parametrize("kind, first, later", [
    ("no_seed", "nothing reached them", "root.grad = 1.0"),
    ("reset_after_seed", "nothing reached them", "root.grad = 1.0"),
    ("no_reset", "kept what was in .grad before this pass", "node.grad = 0.0"),
    ("forward_order", "only the root passed its gradient on", "reversed(order)"),
    ("only_root", "only the root passed its gradient on", "reversed(order)"),
    ("bfs", "differ from the chain rule", "reversed(order)"),
    ("no_return", "return the topological order", None),
])
def test_value_backward_names_mistakes(kind, first, later):
    _fails(C.value_backward(_backward_variant(kind)), first, later)


def test_value_backward_recursive_topological_order_is_named():
    def backward(root):
        order = recursive_topo(root)
        for node in order:
            node.grad = 0.0
        root.grad = 1.0
        for node in reversed(order):
            node._backward()
        return order
    _fails(C.value_backward(backward), "Keep your own stack", "(node, True)")


def test_value_backward_stub():
    assert C.value_backward(stub).status == "todo"


# ================================================================== value_engine
def test_value_engine_accepts_the_learners_class_and_nblib():
    r = C.value_engine(make_value())
    assert r.passed, r.message
    assert C.value_engine(Value).passed


def test_value_engine_rejects_wrong_parts():
    _fails(C.value_engine(make_value("tanh_input")), "the operations are not right yet")
    V = make_value()
    V.backward = _backward_variant("bfs")
    _fails(C.value_engine(V), "look at topological_order and backward", "check.value_backward")
    V = make_value()
    del V.backward
    _fails(C.value_engine(V), "has no method backward")
    V = make_value()
    V.backward = stub
    assert C.value_engine(V).status == "todo"


def test_the_learners_engine_trains_the_notebooks_network_like_the_reference():
    """The notebook trains MLP(2, [4, 1], value=Engine); the learner's class gives the same numbers."""
    runs = []
    for cls in (make_value(), Value):
        model = MLP(2, [4, 1], seed=0, value=cls)
        xs, ts = [[0.5, -1.0], [-1.5, 2.0], [1.0, 1.0]], [1.0, -1.0, 1.0]
        for _ in range(5):
            loss = sum(((model(x) - t) ** 2 for x, t in zip(xs, ts)), cls(0.0)) / len(ts)
            loss.backward()
            for p in model.parameters():
                p.data -= 0.2 * p.grad
        runs.append([p.data for p in model.parameters()])
    assert runs[0] == pytest.approx(runs[1], rel=1e-12, abs=1e-15)


# ================================================================== the tutor: hint steps
def test_repeating_a_mistake_shows_the_next_step():
    from nblib.check import _core
    _core._STREAK.clear()
    V = make_value("tanh_input")
    first = check.value_ops(V)
    second = check.value_ops(V)
    assert "uses the input a" in first.message
    assert "(hint 2 of 2)" in second.message and "1 - t**2" in second.message


def test_non_class_and_non_function_say_what_came():
    for name in ("value_ops", "value_engine", "topo_order", "value_backward"):
        r = getattr(check, name)(42)
        assert r.status == "fail" and "int 42" in r.message, r.message


def test_the_learner_style_engine_against_torch_and_central_differences():
    """The notebook's solution MyValue on an expression using all five primitives and reuse:
    gradients equal torch.autograd (float64) and central differences."""
    torch = pytest.importorskip("torch")
    V = make_value()

    def f(a, b, relu, tanh):
        s = a * b + a ** 3 - b / a
        return tanh(s * 0.3) * relu(b + 1.0) + a * a

    xs = (0.7, -0.4)
    a, b = V(xs[0]), V(xs[1])
    out = f(a, b, lambda v: v.relu(), lambda v: v.tanh())
    out.backward()
    at, bt = (torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs)
    ft = f(at, bt, torch.relu, torch.tanh)
    ft.backward()
    assert out.data == pytest.approx(ft.item(), rel=1e-14)
    assert [a.grad, b.grad] == pytest.approx([at.grad.item(), bt.grad.item()], rel=1e-12)

    def plain(x, y):
        return f(x, y, lambda v: max(v, 0.0), math.tanh)
    h = 1e-6
    num = [(plain(xs[0] + h, xs[1]) - plain(xs[0] - h, xs[1])) / (2 * h),
           (plain(xs[0], xs[1] + h) - plain(xs[0], xs[1] - h)) / (2 * h)]
    assert [a.grad, b.grad] == pytest.approx(num, rel=1e-7, abs=1e-9)


# ================================================================== per-method checkers (Value subclass)
def _mul_method(kind):
    def mul(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, () if kind == "no_children" else (self, other), "*")

        def _backward():
            if kind == "assign":
                self.grad = other.data * out.grad
                other.grad = self.data * out.grad
            else:
                self.grad += other.data * out.grad
                other.grad += self.data * out.grad
        out._backward = _backward
        return out
    return mul


def _tanh_method(kind):
    def tanh(self):
        t = math.tanh(self.data)
        out = Value(t, (self,), "tanh")

        def _backward():
            local = {"ok": 1 - t * t, "input": 1 - self.data ** 2, "no_square": 1 - t, "cosh": 1 / math.cosh(self.data) ** 2}
            if kind == "no_upstream":
                self.grad += 1 - t * t
            elif kind == "assign":
                self.grad = (1 - t * t) * out.grad
            else:
                self.grad += local[kind] * out.grad
        if kind != "no_backward":
            out._backward = _backward
        return out
    return tanh


def test_value_mul_accepts_and_rejects_a_product_without_children():
    assert check.value_mul(_mul_method("ok")).passed
    r = C.value_mul(_mul_method("no_children"))
    assert r.status == "fail" and "does not record its inputs" in r.message, r.message
    assert "Use `+=`" in C.value_mul(_mul_method("assign")).message


@pytest.mark.parametrize("kind, hint", [
    ("input", "1 - x² uses the input"),
    ("no_upstream", "multiply the local derivative by out.grad"),
    ("assign", "use `+=`"),
    ("no_backward", "the gradient is 0"),
    ("no_square", "the gradients are"),
])
def test_value_tanh_rejects(kind, hint):
    r = C.value_tanh(_tanh_method(kind))
    assert r.status == "fail" and hint in r.message, r.message


def test_value_tanh_accepts_a_cosh_form():
    assert C.value_tanh(_tanh_method("cosh")).passed


# ============================ per-method checkers value_mul / value_tanh, topo_order's first cases
def _assert_todo(r):
    assert r.status == "todo" and "not implemented yet" in r.message, r.message


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


def test_value_mul_shows_the_learners_line():
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




@pytest.mark.parametrize("fn", [Value.topological_order, alt_topo])
def test_topo_order_accepts_the_engine_and_kahn(fn):
    r = check.topo_order(fn)
    assert r.passed, r.message


@pytest.mark.parametrize("fn, hint", [
    (recursive_topo, "Keep your own stack"),
    (dup_topo, "more than once"),
    (lambda root: Value.topological_order(root)[::-1], "the root comes first"),
    (lambda root: Value.topological_order(root)[1:], "distinct nodes but the graph has"),
    (lambda root: 3, "return a list of Values"),
])
def test_topo_order_names_first_mistakes(fn, hint):
    r = check.topo_order(fn)
    assert r.status == "fail" and hint in r.message, r.message
    _assert_todo(check.topo_order(stub))
