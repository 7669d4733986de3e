"""Checkers for notebook 05 (autograd from scratch).

* :func:`value_mul` -- ``fn(self, other) -> Value``: the ``__mul__`` of a Value, backward rule included;
* :func:`value_tanh` -- ``fn(self) -> Value``: ``tanh`` with its backward rule;
* :func:`topo_order` -- ``fn(root) -> list``: every node, inputs before their consumers, built
  without recursion (a chain of 5,000 nodes is in the test cases).

The learner's method is attached to a subclass of :class:`nblib.autograd.Value`, so the rest of
the engine (``+``, ``backward``) is the reference one. Results are compared with closed forms.
"""

from __future__ import annotations

import math

from ..autograd import Value
from .._validate import describe
from ._core import CheckResult, _call, returned

__all__ = ["value_mul", "value_tanh", "topo_order"]


def _subclass(**methods):
    return type("LearnerValue", (Value,), dict(methods, __slots__=()))


def _run(name, fn, cases, reference, hints):
    """Each case: ``(description, builder(V) -> (out, leaves), expected_data, expected_grads)``.

    ``hints``: list of ``(predicate(got_data, got_grads, expected_data, expected_grads), text)``.
    """
    if not callable(fn):
        return CheckResult(name, "fail", f"expected a function, got {describe(fn)}; pass the function itself: "
                           f"check.{name}(my_function)", fn, reference)
    for desc, build, exp_data, exp_grads in cases:
        def attempt():
            out, leaves = build(fn)
            if isinstance(out, Value):
                out.backward()
            return out, leaves
        value, err = _call(attempt, ())
        if err:
            text = err[1]
            if "has no attribute 'data'" in text:
                text += (". A plain number has no .data: wrap it first, "
                         "other = other if isinstance(other, Value) else Value(other)")
            return CheckResult(name, err[0], text if err[0] == "todo" else f"{text} (case: {desc}).",
                               fn, reference)
        out, leaves = value
        if not isinstance(out, Value):
            return CheckResult(name, "fail", f"your function returned {returned(out)}; it must return a new Value "
                               f"(out = Value(..., (self, ...), 'op')) (case: {desc}).", fn, reference)
        if not math.isclose(out.data, exp_data, rel_tol=1e-9, abs_tol=1e-12):
            return CheckResult(name, "fail", f"the forward value is {out.data:.6g}, expected {exp_data:.6g} "
                               f"(case: {desc}).", fn, reference)
        got = [v.grad for v in leaves]
        if all(math.isclose(g, e, rel_tol=1e-9, abs_tol=1e-12) for g, e in zip(got, exp_grads)):
            continue
        for pred, text in hints:
            try:
                if pred(out.data, got, exp_data, exp_grads):
                    return CheckResult(name, "fail", f"{text} (case: {desc}: got grads "
                                       f"{[round(g, 6) for g in got]}, expected "
                                       f"{[round(e, 6) for e in exp_grads]}).", fn, reference)
            except Exception:
                continue
        return CheckResult(name, "fail", f"the gradients are {[round(g, 6) for g in got]}, expected "
                           f"{[round(e, 6) for e in exp_grads]} (case: {desc}).", fn, reference)
    return CheckResult(name, "pass", f"correct on all {len(cases)} cases.", fn, reference)


def _close(a, b):
    return all(math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12) for x, y in zip(a, b))


# ------------------------------------------------------------------ 1. __mul__
def value_mul(fn) -> CheckResult:
    """Check ``fn(self, other)`` as ``Value.__mul__``: data, both grads, reuse, numbers, chain.

    Cases: ``a * b``; ``a * a`` (reuse: gradient 2a, needs ``+=``); ``a * 3`` (a number);
    ``(a * b) * 2`` (upstream grad 2: needs ``* out.grad``).
    """
    def case_ab(f):
        V = _subclass(__mul__=f)
        a, b = V(3.0), V(-2.0)
        return a * b, [a, b]

    def case_aa(f):
        V = _subclass(__mul__=f)
        a = V(-1.5)
        return a * a, [a]

    def case_num(f):
        V = _subclass(__mul__=f)
        a = V(2.5)
        return a * 3.0, [a]

    def case_chain(f):
        V = _subclass(__mul__=f)
        a, b = V(0.5), V(4.0)
        c = a * b
        return c + c, [a, b]          # upstream grad of c is 2 (through the reference +)

    cases = [("a * b with a=3, b=-2", case_ab, -6.0, [-2.0, 3.0]),
             ("a * a with a=-1.5 (a used twice)", case_aa, 2.25, [-3.0]),
             ("a * 3.0 with a=2.5 (a plain number)", case_num, 7.5, [3.0]),
             ("c = a * b; c + c with a=0.5, b=4 (upstream grad 2)", case_chain, 4.0, [8.0, 1.0])]
    hints = [
        (lambda d, g, ed, eg: all(x == 0 for x in g),
         "every gradient is 0: did you set out._backward = _backward, and does _backward add into "
         "self.grad and other.grad?"),
        (lambda d, g, ed, eg: len(g) == 1 and math.isclose(g[0], eg[0] / 2) and ed == 2.25,
         "a used twice gets only half its gradient: with `=` the second contribution overwrites the first. "
         "Use `+=` in _backward (gradients from every use add up)"),
        (lambda d, g, ed, eg: len(g) == 2 and _close(g, [eg[1], eg[0]]),
         "the two gradients are swapped: d(ab)/da = b, so self.grad += other.data * out.grad"),
        (lambda d, g, ed, eg: len(g) == 2 and _close(g, [x / 2 for x in eg]) and ed == 4.0,
         "you forgot to multiply by out.grad (the upstream gradient): self.grad += other.data * out.grad"),
    ]
    return _run("value_mul", fn, cases, Value.__mul__, hints)


# ------------------------------------------------------------------ 2. tanh
def value_tanh(fn) -> CheckResult:
    """Check ``fn(self)`` as ``Value.tanh``: forward value and ``1 - tanh² `` backward, in a chain and with reuse."""
    def one(x):
        def build(f):
            V = _subclass(tanh=f)
            a = V(x)
            return a.tanh(), [a]
        return build

    def chain(f):
        V = _subclass(tanh=f)
        a = V(0.7)
        t = a.tanh()
        return t * 3.0 + t, [a]       # upstream grad 4

    def reuse(f):
        V = _subclass(tanh=f)
        a = V(-0.3)
        return a.tanh() * a, [a]     # a feeds tanh and the product

    t = math.tanh
    cases = [("tanh(0.5)", one(0.5), t(0.5), [1 - t(0.5) ** 2]),
             ("tanh(-2.0)", one(-2.0), t(-2.0), [1 - t(-2.0) ** 2]),
             ("t = tanh(0.7); 3t + t (upstream grad 4)", chain, 4 * t(0.7), [4 * (1 - t(0.7) ** 2)]),
             ("tanh(a) * a with a=-0.3", reuse, t(-0.3) * -0.3, [t(-0.3) + -0.3 * (1 - t(-0.3) ** 2)])]
    hints = [
        (lambda d, g, ed, eg: g[0] == 0,
         "the gradient is 0: set out._backward = _backward, and add into self.grad"),
        (lambda d, g, ed, eg: math.isclose(g[0], 1 - 0.25) or math.isclose(g[0], 1 - 4.0),
         "1 - x² uses the input; the derivative of tanh is 1 - tanh(x)², i.e. 1 - t² with t the output"),
        (lambda d, g, ed, eg: math.isclose(g[0], eg[0] / 4) and math.isclose(ed, 4 * t(0.7)),
         "multiply the local derivative by out.grad (here 4): self.grad += (1 - t**2) * out.grad"),
        (lambda d, g, ed, eg: math.isclose(g[0], -0.3 * (1 - t(-0.3) ** 2)) or math.isclose(g[0], t(-0.3)),
         "a is used twice (in tanh and in the product): with `=` one contribution overwrites the other; use `+=`"),
    ]
    return _run("value_tanh", fn, cases, Value.tanh, hints)


# ------------------------------------------------------------------ 3. topological order
def _graphs():
    a, b = Value(1.0, label="a"), Value(2.0, label="b")
    c = a * b
    d = c + a
    diamond = d * c                      # a, c used twice
    x = Value(0.5, label="x")
    y = x
    for _ in range(5000):
        y = y * 1.0001
    single = Value(3.0)
    return [("a diamond: c = a*b; d = c + a; out = d*c", diamond),
            ("a single leaf", single),
            ("a chain of 5,000 multiplications (10,001 nodes)", y)]


def topo_order(fn) -> CheckResult:
    """Check ``fn(root) -> list of Values``: each node of the graph once, inputs before consumers,
    root last; must handle a 5,000-deep chain (no recursion)."""
    if not callable(fn):
        return CheckResult("topo_order", "fail", f"expected a function, got {describe(fn)}", fn,
                           Value.topological_order)
    for desc, root in _graphs():
        value, err = _call(fn, (root,))
        if err:
            text = err[1]
            if "RecursionError" in text or "recursion" in text:
                text = ("RecursionError: a recursive depth-first search needs one Python stack frame per "
                        "node and Python allows about 1,000. Keep your own stack (a list) of nodes to visit "
                        "instead")
            return CheckResult("topo_order", err[0], text if err[0] == "todo" else f"{text} (graph: {desc}).",
                               fn, Value.topological_order)
        truth = root.topological_order()
        if not isinstance(value, (list, tuple)):
            return CheckResult("topo_order", "fail", f"return a list of Values, got {returned(value)} "
                               f"(graph: {desc}).", fn, Value.topological_order)
        ids = [id(v) for v in value]
        if len(ids) != len(set(ids)):
            return CheckResult("topo_order", "fail", f"some nodes appear more than once ({len(ids)} entries for "
                               f"{len(truth)} nodes): keep a `visited` set and skip nodes already in it "
                               f"(graph: {desc}).", fn, Value.topological_order)
        if set(ids) != {id(v) for v in truth}:
            return CheckResult("topo_order", "fail", f"the list has {len(set(ids))} distinct nodes but the graph "
                               f"has {len(truth)}: follow every input in node._prev (graph: {desc}).",
                               fn, Value.topological_order)
        if value[-1] is not root and value[0] is root:
            return CheckResult("topo_order", "fail", "the root comes first: that is the order for the backward "
                               "pass (reversed). Return inputs first, the root last "
                               f"(graph: {desc}).", fn, Value.topological_order)
        pos = {id(v): i for i, v in enumerate(value)}
        for v in value:
            for child in v._prev:
                if pos[id(child)] > pos[id(v)]:
                    return CheckResult("topo_order", "fail", "a node comes before one of its inputs: append a "
                                       "node only after all its inputs have been appended (post-order) "
                                       f"(graph: {desc}).", fn, Value.topological_order)
    return CheckResult("topo_order", "pass", "correct, and it handles a 5,000-deep chain without recursion.",
                       fn, Value.topological_order)
