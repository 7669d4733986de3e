"""Checkers for notebook 05 (autograd from scratch): the learner builds the engine.

* ``value_ops`` -- ``cls``: the learner's ``MyValue`` class; its ``+``, ``*``, ``** k``,
  ``tanh`` and ``relu``, forward value and backward rule, one operation at a time;
* ``topo_order`` -- ``fn(root) -> list``: every node once, inputs before the nodes computed
  from them, root last, without recursion;
* ``value_backward`` -- ``fn(root) -> list``: the backward pass (order, reset, seed 1,
  ``_backward`` in reverse order), returning the order;
* ``value_engine`` -- ``cls`` with ``backward`` attached: the whole engine end to end, on
  the gradients of a small network of the learner's Values. ``or_reference()`` gives the class
  the rest of the notebook trains with (the reference ``nblib.autograd.Value`` otherwise).

The operations are judged with the checker's own backward driver (so a mistake in
``backward`` cannot hide one in ``*``), and ``backward`` is judged on graphs of reference
Values (so a mistake in ``*`` cannot hide one in ``backward``). Every learner call goes
through ``_core._call`` (time limit, the learner's own line on a crash, "not implemented yet").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

from ..autograd import MLP, Value
from .._validate import describe
from ._core import CheckResult, _call, require_function, returned

__all__ = ["value_ops", "topo_order", "value_backward", "value_engine", "value_mul", "value_tanh"]


def _dot(text):
    """A sentence ends with a full stop (the tutor appends its next line after it)."""
    text = text.rstrip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _result(name, status, message, candidate=None, reference=None, hints=()):
    return CheckResult(name, status, _dot(message), candidate, reference, hints=tuple(_dot(h) for h in hints))

UPSTREAM = 2.5   # the gradient "arriving from above" in the cases that test `* out.grad`


def _close(a, b, tol=1e-9):
    return len(a) == len(b) and all(math.isclose(x, y, rel_tol=tol, abs_tol=1e-12) for x, y in zip(a, b))


def _r(values):
    return [round(v, 6) for v in values]


def _drive(root, seed=1.0):
    """The checker's own backward pass over any nodes with ``_prev``/``_backward``/``grad``:
    post-order DFS with an explicit stack, reset, seed, reverse."""
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((c, False) for c in node._prev if id(c) not in seen)
    for node in order:
        node.grad = 0.0
    root.grad = seed
    for node in reversed(order):
        node._backward()
    return order


# ============================================================== 1. the operations
@dataclass
class _Case:
    """``build(cls) -> (out, leaves)``; ``data``, ``grads``: the right answer at ``seed``;
    ``wrong``: ``[(grads a plausible mistake gives, hint steps), ...]``."""
    op: str
    desc: str
    build: Callable
    data: float
    grads: list
    seed: float = 1.0
    wrong: list = field(default_factory=list)
    direct: bool = True     # the leaves are direct inputs of out (checked structurally)


_ASSIGN = ("a node used twice got only one of its two gradient contributions: with `=` in _backward the "
           "second use overwrites the first",
           "gradients from every use of a node add up: write `self.grad += ...` (and `other.grad += ...`), never "
           "`self.grad = ...`")
_NO_UPSTREAM = ("the local derivative is right, but it was not multiplied by the gradient arriving from above",
                f"in this case out.grad = {UPSTREAM:g}: the chain rule is self.grad += (local derivative) * out.grad")


def _ops_cases():
    t = math.tanh
    up = UPSTREAM

    def one(op, x, *const):
        def build(cls):
            a = cls(x)
            return op(a, *const), [a]
        return build

    def two(op, x, y):
        def build(cls):
            a, b = cls(x), cls(y)
            return op(a, b), [a, b]
        return build

    def mul3(cls):
        a, b, c = cls(2.0), cls(-3.0), cls(0.5)
        return (a * b) * c, [a, b, c]

    def add3(cls):
        # a chain in which a is used twice: when (a + b)'s backward runs, a already holds gradient
        a, b, c = cls(1.0), cls(2.0), cls(-4.0)
        return ((a + b) + c) + a, [a, b, c]

    def twice(method):
        def build(cls):
            a = cls(0.8)
            return getattr(a, method)() + getattr(a, method)(), [a]
        return build

    swap = ("the two gradients are swapped",
            "d(a*b)/da = b: self.grad += other.data * out.grad, and other.grad += self.data * out.grad")
    return [
        # ---- +
        _Case("+", "a + b with a=2, b=-3", two(lambda a, b: a + b, 2.0, -3.0), -1.0, [1.0, 1.0]),
        _Case("+", "a + a with a=1.5 (a used twice)", one(lambda a: a + a, 1.5), 3.0, [2.0], wrong=[([1.0], _ASSIGN)]),
        _Case("+", "a + 4.0 with a=1 (a plain number)", one(lambda a: a + 4.0, 1.0), 5.0, [1.0]),
        _Case("+", "4.0 + a with a=1 (__radd__, given)", one(lambda a: 4.0 + a, 1.0), 5.0, [1.0]),
        _Case("+", f"a + b with a=2, b=-3 and out.grad = {up:g}", two(lambda a, b: a + b, 2.0, -3.0), -1.0,
              [up, up], seed=up, wrong=[([1.0, 1.0], _NO_UPSTREAM)]),
        _Case("+", "((a + b) + c) + a with a=1, b=2, c=-4 (a chain, a used twice)", add3, 0.0, [2.0, 1.0, 1.0],
              direct=False,
              wrong=[([2.0, 2.0, 1.0], ("b got a's gradient: in _backward each input must receive (local "
                                        "derivative) * out.grad, not the grad another input already holds",
                                        "write `self.grad += out.grad` and `other.grad += out.grad`: both read "
                                        "out.grad (self.grad may already hold gradient from another use of self)"))]),
        # ---- *
        _Case("*", "a * b with a=3, b=-2", two(lambda a, b: a * b, 3.0, -2.0), -6.0, [-2.0, 3.0],
              wrong=[([3.0, -2.0], swap)]),
        _Case("*", "a * a with a=-1.5 (a used twice)", one(lambda a: a * a, -1.5), 2.25, [-3.0],
              wrong=[([-1.5], _ASSIGN)]),
        _Case("*", "a * 3.0 with a=2.5 (a plain number)", one(lambda a: a * 3.0, 2.5), 7.5, [3.0]),
        _Case("*", "a * b with a=0, b=5", two(lambda a, b: a * b, 0.0, 5.0), 0.0, [5.0, 0.0]),
        _Case("*", f"a * b with a=3, b=-2 and out.grad = {up:g}", two(lambda a, b: a * b, 3.0, -2.0), -6.0,
              [-2.0 * up, 3.0 * up], seed=up, wrong=[([-2.0, 3.0], _NO_UPSTREAM)]),
        _Case("*", "(a * b) * c with a=2, b=-3, c=0.5 (a chain)", mul3, -3.0, [-1.5, 1.0, -6.0], direct=False),
        # ---- ** k
        _Case("**", "a ** 3 with a=-1.2", one(lambda a: a ** 3, -1.2), -1.728, [3 * 1.44],
              wrong=[([3 * -1.728], ("the derivative of a**k is k * a**(k-1), not k * a**k",
                                     "self.grad += k * self.data ** (k - 1) * out.grad")),
                     ([1.44], ("the exponent is right but the factor k is missing",
                               "d(a**k)/da = k * a**(k-1): multiply by k"))]),
        _Case("**", "a ** -1 with a=0.5", one(lambda a: a ** -1, 0.5), 2.0, [-4.0]),
        _Case("**", "a ** 0.5 with a=4", one(lambda a: a ** 0.5, 4.0), 2.0, [0.25]),
        _Case("**", f"a ** 2 with a=3 and out.grad = {up:g}", one(lambda a: a ** 2, 3.0), 9.0, [6.0 * up], seed=up,
              wrong=[([6.0], _NO_UPSTREAM)]),
        # ---- tanh
        _Case("tanh", "tanh(a) with a=0.5", one(lambda a: a.tanh(), 0.5), t(0.5), [1 - t(0.5) ** 2],
              wrong=[([1 - 0.25], ("the local derivative uses the input a; tanh's uses its output",
                                   "d tanh(a)/da = 1 - tanh(a)**2 = 1 - t**2 with t = out.data, not 1 - a**2")),
                     ([1 - t(0.5)], ("the local derivative is 1 - t, without the square",
                                     "d tanh(a)/da = 1 - t**2"))]),
        _Case("tanh", "tanh(a) with a=-2", one(lambda a: a.tanh(), -2.0), t(-2.0), [1 - t(-2.0) ** 2],
              wrong=[([1 - 4.0], ("the local derivative uses the input a; tanh's uses its output",
                                  "d tanh(a)/da = 1 - t**2 with t = tanh(a), not 1 - a**2"))]),
        _Case("tanh", f"tanh(a) with a=0.7 and out.grad = {up:g}", one(lambda a: a.tanh(), 0.7), t(0.7),
              [(1 - t(0.7) ** 2) * up], seed=up, wrong=[([1 - t(0.7) ** 2], _NO_UPSTREAM)]),
        _Case("tanh", "tanh(a) + tanh(a) with a=0.8 (a used twice)", twice("tanh"), 2 * t(0.8),
              [2 * (1 - t(0.8) ** 2)], direct=False, wrong=[([1 - t(0.8) ** 2], _ASSIGN)]),
        # ---- relu
        _Case("relu", "relu(a) with a=1.5", one(lambda a: a.relu(), 1.5), 1.5, [1.0],
              wrong=[([1.5], ("the local derivative of relu is a step (0 or 1), not the output value",
                              "self.grad += (1.0 if self.data > 0 else 0.0) * out.grad"))]),
        _Case("relu", "relu(a) with a=-0.5", one(lambda a: a.relu(), -0.5), 0.0, [0.0],
              wrong=[([1.0], ("for a negative input relu is flat: its derivative there is 0",
                              "self.grad += (1.0 if self.data > 0 else 0.0) * out.grad"))]),
        _Case("relu", "relu(a) at the kink a=0", one(lambda a: a.relu(), 0.0), 0.0, [0.0],
              wrong=[([1.0], ("at exactly a = 0 use the derivative 0, as PyTorch does",
                              "test self.data > 0 (strictly), not >= 0"))]),
        _Case("relu", f"relu(a) with a=2 and out.grad = {up:g}", one(lambda a: a.relu(), 2.0), 2.0, [up], seed=up,
              wrong=[([1.0], _NO_UPSTREAM)]),
        _Case("relu", "relu(a) + relu(a) with a=0.8 (a used twice)", twice("relu"), 1.6, [2.0], direct=False,
              wrong=[([1.0], _ASSIGN)]),
    ]


_OP_NAMES = {"+": "__add__", "*": "__mul__", "**": "__pow__", "tanh": "tanh", "relu": "relu"}


def _ops_verdict(cls, name="value_ops"):
    """(status, message, hints) for the operations of ``cls``; ``status`` None when all pass."""
    for case in _ops_cases():
        method = _OP_NAMES[case.op]
        where = f"(`{method}`, case: {case.desc})"

        def attempt():
            out, leaves = case.build(cls)
            if isinstance(out, cls):
                _drive(out, case.seed)
            return out, leaves

        value, err = _call(attempt, ())
        if err:
            if err[0] == "todo":
                return "todo", f"{method}: {err[1]}", ()
            text = err[1]
            hints = ()
            if "float() argument must be" in text:
                hints = ("a MyValue was wrapped again: wrap only plain numbers, "
                         "other = other if isinstance(other, MyValue) else MyValue(other)",)
            elif "has no attribute 'data'" in text or "has no attribute '_prev'" in text:
                hints = ("a plain number has no .data: wrap it first, "
                         "other = other if isinstance(other, MyValue) else MyValue(other)",)
            elif "_backward" in text or "grad" in text:
                hints = ("every new node needs out._backward set to a function of no arguments "
                         "(def _backward(): ...; out._backward = _backward)",)
            return "fail", f"{text} {where}.", hints
        out, leaves = value
        if not isinstance(out, cls):
            return "fail", (f"returned {returned(out)} {where}; each operation must return a new "
                            f"{cls.__name__}: out = {cls.__name__}(..., (self, other), '{case.op}')"), ()
        if any(out is leaf for leaf in leaves):
            return "fail", (f"the result is one of the inputs {where}: your operation changed an input in place "
                            f"(e.g. self.data += other.data; return self) instead of making a new node, so the "
                            f"input's own value is lost and the graph has no node for the result"), (
                f"create and return a new node: out = {cls.__name__}(self.data + other.data, (self, other), '+'), "
                f"and leave self and other unchanged",)
        got_data = out.data
        if not (isinstance(got_data, (int, float)) and math.isclose(got_data, case.data, rel_tol=1e-9,
                                                                     abs_tol=1e-12)):
            return "fail", f"the forward value is {got_data!r}, expected {case.data:.6g} {where}.", ()
        prev = getattr(out, "_prev", ())
        if case.direct and not all(any(leaf is p for p in prev) for leaf in leaves):
            # a closure can still reach self and other, so a lone `a * b` may even get the right
            # numbers; in a chain such as (a*b)*c the backward pass never reaches a and b
            return "fail", (f"the result does not record its inputs {where}: out._prev is {describe(prev)}, so in "
                            f"a longer expression such as (a*b)*c the backward pass never reaches them (their "
                            f"gradients stay 0)"), (
                "create the result with its children: out = MyValue(value, (self, other), 'op') "
                "(one-input operations: (self,))",)
        got = [leaf.grad for leaf in leaves]
        if _close(got, case.grads):
            continue
        if all(g == 0 for g in got):
            return "fail", (f"every input gradient is 0 {where}: the backward rule never ran or never added "
                            f"anything"), ("define def _backward(): self.grad += ... inside the method and attach it "
                                           "with out._backward = _backward before `return out`",)
        if any(g == 0 for g in got) and not any(e == 0 for e in case.grads) and len(got) > 1:
            return "fail", (f"one input got no gradient {where}: got {_r(got)}, expected {_r(case.grads)}."), (
                "_backward must add into the grad of every input: self.grad += ... and other.grad += ...",)
        for grads, steps in case.wrong:
            if _close(got, grads):
                return "fail", f"{steps[0]} {where}: got {_r(got)}, expected {_r(case.grads)}.", steps[1:]
        if _close(got, [g / case.seed for g in case.grads]) and case.seed != 1:
            return "fail", f"{_NO_UPSTREAM[0]} {where}.", _NO_UPSTREAM[1:]
        return "fail", (f"the gradients are {_r(got)}, expected {_r(case.grads)} {where}."), (
            f"write the local derivative of {case.op} on paper, then check your _backward adds "
            f"(local derivative) * out.grad to each input",)
    return None, "", ()


def _class_guard(name, cls, reference):
    if isinstance(cls, type):
        return None
    return _result(name, "fail", f"expected a class (your MyValue), got {describe(cls)}. Pass the class itself, "
                       f"without creating a value: check.{name}(MyValue)", cls, reference)


def value_ops(cls) -> CheckResult:
    """Check the operations of the learner's class ``cls`` (``MyValue``): ``a + b``, ``a * b``,
    ``a ** k`` (k a number), ``a.tanh()``, ``a.relu()``.

    Each returns a new ``cls`` whose ``data`` is the result, whose ``_prev`` holds its inputs
    and whose ``_backward`` adds (local derivative) x ``out.grad`` into each input's grad.
    Cases (run with the checker's own backward pass): two inputs, a node used twice, a plain
    number, a gradient of 2.5 arriving from above, chains ``(a*b)*c``, the relu kink at 0.
    """
    guard = _class_guard("value_ops", cls, Value)
    if guard is not None:
        return guard
    status, message, hints = _ops_verdict(cls)
    if status:
        return _result("value_ops", status, message, cls, Value, hints=hints)
    return _result("value_ops", "pass", f"correct on all {len(_ops_cases())} cases: +, *, **, tanh and relu "
                       "record their inputs and accumulate local derivative x out.grad.", cls, Value)


# ============================================================== per-method checkers (a Value subclass)
# ``value_mul(fn)`` and ``value_tanh(fn)`` check one method written as a function ``fn(self, ...)``
# attached to a subclass of the reference Value (the rest of the engine stays the reference's).
# Notebook 05 now has the learner write the whole class (``value_ops``); these remain for
# instructors' variants of the exercise.
def _subclass(**methods):
    return type("LearnerValue", (Value,), dict(methods, __slots__=()))


def _run_method(name, fn, cases, reference, hints):
    """Each case: ``(description, builder(V) -> (out, leaves), expected_data, expected_grads)``.

    ``hints``: list of ``(predicate(got_data, got_grads, expected_data, expected_grads), text)``.
    """
    guard = require_function(name, fn, reference)
    if guard is not None:
        return guard
    for desc, build, exp_data, exp_grads, *direct in cases:
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
            return _result(name, err[0], text if err[0] == "todo" else f"{text} (case: {desc}).",
                               fn, reference)
        out, leaves = value
        if not isinstance(out, Value):
            return _result(name, "fail", f"your function returned {returned(out)}; it must return a new Value "
                               f"(out = Value(..., (self, ...), 'op')) (case: {desc}).", fn, reference)
        if not math.isclose(out.data, exp_data, rel_tol=1e-9, abs_tol=1e-12):
            return _result(name, "fail", f"the forward value is {out.data:.6g}, expected {exp_data:.6g} "
                               f"(case: {desc}).", fn, reference)
        if (direct[0] if direct else True) and not all(any(v is p for p in out._prev) for v in leaves):
            return _result(name, "fail", f"the result does not record its inputs: out._prev is "
                               f"{describe(out._prev)}, so in a longer expression the backward pass never reaches "
                               f"them (case: {desc}).", fn, reference,
                               hints=("create the result with its children: out = Value(..., (self, other), '*') "
                                      "(one input: (self,))",))
        got = [v.grad for v in leaves]
        if all(math.isclose(g, e, rel_tol=1e-9, abs_tol=1e-12) for g, e in zip(got, exp_grads)):
            continue
        for pred, text in hints:
            try:
                if pred(out.data, got, exp_data, exp_grads):
                    return _result(name, "fail", f"{text} (case: {desc}: got grads "
                                       f"{[round(g, 6) for g in got]}, expected "
                                       f"{[round(e, 6) for e in exp_grads]}).", fn, reference)
            except Exception:
                continue
        return _result(name, "fail", f"the gradients are {[round(g, 6) for g in got]}, expected "
                           f"{[round(e, 6) for e in exp_grads]} (case: {desc}).", fn, reference)
    return _result(name, "pass", f"correct on all {len(cases)} cases.", fn, reference)


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

    def case_abc(f):
        V = _subclass(__mul__=f)
        a, b, c = V(2.0), V(-3.0), V(0.5)
        return (a * b) * c, [a, b, c]

    cases = [("a * b with a=3, b=-2", case_ab, -6.0, [-2.0, 3.0]),
             ("a * a with a=-1.5 (a used twice)", case_aa, 2.25, [-3.0]),
             ("a * 3.0 with a=2.5 (a plain number)", case_num, 7.5, [3.0]),
             ("c = a * b; c + c with a=0.5, b=4 (upstream grad 2)", case_chain, 4.0, [8.0, 1.0], False),
             ("(a * b) * c with a=2, b=-3, c=0.5 (a chain of products)", case_abc, -3.0, [-1.5, 1.0, -6.0], False)]
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
    return _run_method("value_mul", fn, cases, Value.__mul__, hints)


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
             ("t = tanh(0.7); 3t + t (upstream grad 4)", chain, 4 * t(0.7), [4 * (1 - t(0.7) ** 2)], False),
             ("tanh(a) * a with a=-0.3", reuse, t(-0.3) * -0.3, [t(-0.3) + -0.3 * (1 - t(-0.3) ** 2)], False)]
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
    return _run_method("value_tanh", fn, cases, Value.tanh, hints)



# ============================================================== 2. topological order
def _chain(n, start=0.5):
    x = Value(start, label="x")
    y = x
    for _ in range(n):
        y = y * 1.0001
    return x, y


def _uneven():
    """``x = a*2; z = x*3; root = x + z*1``: paths of different lengths meet (not a diamond).
    dL/da = 2 * (1 + 3) = 8; a breadth-first order reversed runs z before x and gives 2."""
    a = Value(1.5, label="a")
    x = a * 2.0
    z = x * 3.0
    return a, x + z * 1.0


def _graphs():
    a, b = Value(1.0, label="a"), Value(2.0, label="b")
    c = a * b
    d = c + a
    diamond = d * c                      # a, c used twice
    _, uneven = _uneven()
    _, chain = _chain(5000)
    return [("x = a*2; z = x*3; root = x + z*1 (x reaches root directly and through z)", uneven),
            ("a diamond: c = a*b; d = c + a; out = d*c", diamond),
            ("a single leaf", Value(3.0)),
            ("a chain of 5,000 multiplications (10,001 nodes)", chain)]


_RECURSION = ("RecursionError: a recursive depth-first search needs one Python stack frame per node and Python "
              "allows about 1,000. Keep your own stack (a list) of nodes to visit instead",
              "push (node, False); when you pop it the first time push (node, True) back and then its inputs; when "
              "you pop (node, True), all its inputs are already in the order: append it")


def _order_verdict(value, root, truth, desc):
    """(message, hints) for a wrong order, or None when ``value`` is a valid topological order."""
    where = f"(graph: {desc})"
    if not isinstance(value, (list, tuple)):
        return f"return a list of Values, got {returned(value)} {where}.", ()
    ids = [id(v) for v in value]
    if len(ids) != len(set(ids)):
        return (f"some nodes appear more than once ({len(ids)} entries for {len(truth)} nodes) {where}.",
                ("keep a `visited` set and skip nodes already in it",))
    if set(ids) != {id(v) for v in truth}:
        return (f"the list has {len(set(ids))} distinct nodes but the graph has {len(truth)} {where}.",
                ("follow every input in node._prev, from every node, until you reach the leaves",))
    if value[-1] is not root and value[0] is root:
        return (f"the root comes first {where}: that is the order of the backward pass (reversed). "
                f"Return inputs first, the root last.", ())
    pos = {id(v): i for i, v in enumerate(value)}
    for v in value:
        for child in v._prev:
            if pos[id(child)] > pos[id(v)]:
                return (f"a node comes before one of its inputs {where}, so its gradient would be passed on "
                        f"before it is complete.",
                        ("a breadth-first search from the root, reversed, is not a topological order when paths of "
                         "different lengths meet: on x = a*2; z = x*3; root = x + z*1 it puts z before x and "
                         "dL/da comes out 2 instead of 8",
                         "append a node only after all its inputs have been appended (post-order depth-first "
                         "search), or count each node's consumers and emit a node when its count reaches 0 (Kahn)"))
    if value[-1] is not root:
        return f"the root must be the last element {where}.", ()
    return None


def topo_order(fn) -> CheckResult:
    """Check ``fn(root) -> list of Values``: each node of the graph once, inputs before the nodes
    computed from them, root last; no recursion (a 5,000-deep chain is one of the graphs), and a
    graph where paths of different lengths meet (a reversed breadth-first order fails there)."""
    ref = Value.topological_order
    guard = require_function("topo_order", fn, ref)
    if guard is not None:
        return guard
    for desc, root in _graphs():
        value, err = _call(fn, (root,))
        if err:
            if err[0] == "todo":
                return _result("topo_order", "todo", err[1], fn, ref)
            if "RecursionError" in err[1] or "recursion" in err[1]:
                return _result("topo_order", "fail", f"{_RECURSION[0]} (graph: {desc}).", fn, ref,
                                   hints=_RECURSION[1:])
            return _result("topo_order", "fail", f"{err[1]} (graph: {desc}).", fn, ref)
        verdict = _order_verdict(value, root, root.topological_order(), desc)
        if verdict:
            return _result("topo_order", "fail", verdict[0], fn, ref, hints=verdict[1])
    return _result("topo_order", "pass", "correct, also where paths of different lengths meet, and a 5,000-deep "
                       "chain works without recursion.", fn, ref)


# ============================================================== 3. backward
def _ref_backward(root):
    return Value.backward(root)


def _reset_graph(root):
    for node in root.topological_order():
        node.grad = 0.0


def value_backward(fn) -> CheckResult:
    """Check ``fn(root) -> list``: the backward pass. It takes the topological order of the graph
    under ``root`` (inputs first), sets every node's grad to 0, sets ``root.grad = 1``, calls
    each node's ``_backward`` from the root back to the leaves, and returns the order.

    Graphs of reference Values: ``x = a*2; z = x*3; root = x + z*1`` (dL/da = 8), a diamond with
    reuse, a 5,000-deep chain; ``fn`` called twice must give the same gradients (not double).
    """
    name = "value_backward"
    guard = require_function(name, fn, _ref_backward)
    if guard is not None:
        return guard

    def graph_uneven():
        a, root = _uneven()
        return root, [a], [8.0], "x = a*2; z = x*3; root = x + z*1 with a=1.5"

    def graph_diamond():
        a, b = Value(1.0), Value(2.0)
        c = a * b
        d = c + a
        av, bv = a.data, b.data          # out = (ab + a) ab = a²b² + a²b
        return d * c, [a, b], [2 * av * bv ** 2 + 2 * av * bv, 2 * av ** 2 * bv + av ** 2], \
            "c = a*b; d = c + a; out = d*c with a=1, b=2"

    def graph_chain():
        x, y = _chain(5000)
        return y, [x], [1.0001 ** 5000], "a chain of 5,000 multiplications"

    for build in (graph_uneven, graph_diamond, graph_chain):
        root, leaves, grads, desc = build()
        where = f"(graph: {desc})"
        for leaf in leaves:
            leaf.grad = 123.0          # stale gradients from an earlier pass: backward must reset them
        value, err = _call(fn, (root,))
        if err:
            if err[0] == "todo":
                return _result(name, "todo", err[1], fn, _ref_backward)
            if "RecursionError" in err[1] or "recursion" in err[1]:
                return _result(name, "fail", f"{_RECURSION[0]} {where}.", fn, _ref_backward, hints=_RECURSION[1:])
            return _result(name, "fail", f"{err[1]} {where}.", fn, _ref_backward)
        got = [leaf.grad for leaf in leaves]
        if not _close(got, grads):
            if _close(got, [g + 123.0 for g in grads]):
                return _result(name, "fail", f"the gradients kept what was in .grad before this pass {where}: "
                                   f"got {_r(got)}, expected {_r(grads)}.", fn, _ref_backward,
                                   hints=("set node.grad = 0.0 on every node of the order first, then seed "
                                          "root.grad = 1.0",))
            nothing = all(g in (0.0, 123.0) for g in got)
            if nothing and abs(root.grad - 1.0) > 1e-12:
                return _result(name, "fail", f"the leaves' gradients are {_r(got)}, expected {_r(grads)} {where}: "
                                   f"nothing reached them, and root.grad is {root.grad!r}.", fn, _ref_backward,
                                   hints=("the chain rule starts from dL/dL = 1: set root.grad = 1.0 after resetting "
                                          "the grads and before calling any _backward",))
            truth_order = root.topological_order()
            _reset_graph(root)
            root.grad = 1.0
            for node in truth_order:        # forward order instead of reversed
                node._backward()
            if _close(got, [leaf.grad for leaf in leaves]):
                steps = ("only the root passed its gradient on: the other nodes' _backward ran before their gradient "
                         "had arrived (leaves first instead of root first), or never ran",
                         "call every node's _backward, from the root back to the leaves: "
                         "for node in reversed(order): node._backward()")
                return _result(name, "fail", f"{steps[0]} {where}: got {_r(got)}, expected {_r(grads)}.", fn,
                                   _ref_backward, hints=steps[1:])
            steps = ("the gradients differ from the chain rule's: is every node's _backward called exactly once, "
                     "after every node that uses it?",
                     "order = your topological order (inputs first); reset; root.grad = 1.0; then "
                     "for node in reversed(order): node._backward()")
            return _result(name, "fail", f"{steps[0]} {where}: got {_r(got)}, expected {_r(grads)}.", fn,
                               _ref_backward, hints=steps[1:])
        if abs(root.grad - 1.0) > 1e-12:
            return _result(name, "fail", f"after the pass root.grad is {root.grad!r}, expected 1.0 {where}.",
                               fn, _ref_backward, hints=("seed root.grad = 1.0 after the reset, not before",))
        if not isinstance(value, (list, tuple)) or len(value) != len(root.topological_order()):
            return _result(name, "fail", f"the gradients are right, but return the topological order (the list of "
                               f"nodes) at the end; got {returned(value)} {where}.", fn, _ref_backward)
        _, err = _call(fn, (root,))
        again = [leaf.grad for leaf in leaves]
        if err or not _close(again, grads):
            return _result(name, "fail", f"a second call gave {_r(again)} instead of the same {_r(grads)} {where}: "
                               "this engine's backward() computes the gradients, it does not add to the last ones.",
                               fn, _ref_backward, hints=("reset every node's grad to 0 at the start of backward",))
    return _result(name, "pass", "correct: reset, seed 1, reverse topological order; a second call gives the "
                       "same gradients, and a 5,000-deep chain works.", fn, _ref_backward)


# ============================================================== 4. the whole engine
def _mlp_grads(cls):
    model = MLP(2, [3, 1], seed=1, value=cls)
    data = [([0.5, -1.0], 1.0), ([-1.5, 2.0], -1.0), ([0.2, 0.3], 1.0)]
    loss = cls(0.0)
    for x, t in data:
        loss = loss + (model(x) - t) ** 2
    loss = loss * (1.0 / len(data))
    loss.backward()
    return loss.data, [p.grad for p in model.parameters()]


def _engine_graphs(cls):
    """(description, grads, expected) for graphs built from ``cls`` and its own ``backward()``."""
    a = cls(1.5)
    x = a * 2.0
    z = x * 3.0
    root = x + z * 1.0
    root.backward()
    rows = [("x = a*2; z = x*3; root = x + z*1 with a=1.5", [a.grad], [8.0])]
    p, q = cls(1.0), cls(2.0)
    c = p * q
    out = (c + p) * c
    out.backward()
    out.backward()                    # twice: the same gradients, not double
    rows.append(("c = a*b; out = (c + a)*c with a=1, b=2, backward() called twice", [p.grad, q.grad], [12.0, 5.0]))
    leaf = cls(0.5)
    y = leaf
    for _ in range(5000):
        y = y * 1.0001
    y.backward()
    rows.append(("a chain of 5,000 multiplications", [leaf.grad], [1.0001 ** 5000]))
    return rows


def value_engine(cls) -> CheckResult:
    """Check the learner's whole engine ``cls`` (operations, plus ``topological_order`` and
    ``backward`` attached as methods): ``value_ops`` first, then ``loss.backward()`` of a
    2-3-1 tanh network built from ``cls`` (``nblib.autograd.MLP`` with ``value=cls``)
    must give every parameter the reference engine's gradient (to 1e-9)."""
    name = "value_engine"
    guard = _class_guard(name, cls, Value)
    if guard is not None:
        return guard
    status, message, hints = _ops_verdict(cls)
    if status:
        return _result(name, status, f"the operations are not right yet: {message}", cls, Value, hints=hints)
    for method in ("topological_order", "backward"):
        if not callable(getattr(cls, method, None)):
            return _result(name, "fail", f"{cls.__name__} has no method {method}: attach yours with "
                               f"{cls.__name__}.{method} = my_{method}", cls, Value)
    value, err = _call(_engine_graphs, (cls,))
    if err:
        if "RecursionError" in err[1] or "recursion" in err[1]:
            return _result(name, "fail", f"{_RECURSION[0]} (a chain of 5,000 {cls.__name__} multiplications).",
                               cls, Value, hints=_RECURSION[1:])
        return _result(name, err[0], err[1] if err[0] == "todo" else
                           f"{err[1]} (while running backward() on graphs of {cls.__name__})", cls, Value)
    for desc, got, expected in value:
        if not _close(got, expected):
            return _result(name, "fail", f"backward() of your class gives {_r(got)}, expected {_r(expected)} "
                               f"(graph: {desc}), although each operation passed: look at topological_order and "
                               f"backward.", cls, Value,
                               hints=("run check.topo_order(my_topological_order) and check.value_backward(my_backward): "
                                      "they name the mistake",))
    value, err = _call(_mlp_grads, (cls,))
    if err:
        return _result(name, err[0], err[1] if err[0] == "todo" else
                           f"{err[1]} (while training-style backward of a 2-3-1 network of {cls.__name__})", cls, Value)
    loss, grads = value
    ref_loss, ref_grads = _mlp_grads(Value)
    if not (math.isclose(loss, ref_loss, rel_tol=1e-9) and _close(grads, ref_grads)):
        worst = max(abs(g - r) for g, r in zip(grads, ref_grads))
        return _result(name, "fail", f"the network's gradients differ from the reference engine's by up to "
                           f"{worst:.3g}, although each operation passed: look at topological_order and backward.",
                           cls, Value, hints=("run check.topo_order(my_topological_order) and "
                                              "check.value_backward(my_backward): they name the mistake",))
    return _result(name, "pass", f"correct: a 2-3-1 network of {cls.__name__}s gets all {len(grads)} gradients "
                       f"equal to the reference engine's. The rest of the notebook trains on your engine.", cls, Value)
