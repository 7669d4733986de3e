"""A scalar reverse-mode autodiff engine, small enough to read in one sitting (notebook 05).

``Value`` wraps one float. Every operation on Values builds a node of a computational
graph that remembers its inputs (``_prev``) and a tiny function (``_backward``) that
applies the chain rule for that one operation::

    a, b = Value(2.0), Value(-3.0)
    loss = (a * b + a).tanh()
    loss.backward()          # fills a.grad = d loss / d a and b.grad
    a.grad, b.grad

Primitives with their own local derivative: ``+``, ``*``, ``** number``, ``exp``, ``log``,
``relu``, ``tanh``, ``sigmoid``. Everything else is composed from them:
``-a = a * -1``, ``a - b = a + (-b)``, ``a / b = a * b**-1``. Python numbers work on
either side (``2 * a``, ``1 - a``, ``1 / a``).

Rules that matter (and that hand-written engines often get wrong):

* **Accumulate.** A node used twice (``a * a``, or ``a`` feeding two branches) receives
  the sum of the gradients from every use: every ``_backward`` does ``+=``, never ``=``.
* **backward() computes, it does not add up across calls.** ``loss.backward()`` first sets
  ``.grad = 0`` on every node of *this* graph, then seeds ``loss.grad = 1`` and runs the
  chain rule. Calling it twice gives the same gradients, not double. (PyTorch instead
  adds into ``.grad`` on every call, which is why its training loops call ``zero_grad()``;
  here that happens automatically for every node in the graph.) To combine several losses,
  add them into one Value and call ``backward()`` once.
* **Iterative topological order.** ``Value.topological_order`` uses an explicit stack,
  so a chain of 100,000 operations back-propagates without ``RecursionError``.
* ``relu`` at exactly 0 uses the derivative 0, as PyTorch does.

Also here: ``Neuron``, ``Layer`` and ``MLP``, a tiny network over Values.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ._validate import describe, positive_number

__all__ = ["Value", "Neuron", "Layer", "MLP"]


def _number(x, where):
    if type(x) is float or type(x) is int:   # the common case, checked first: it is much faster
        return float(x)
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{where}: expected a Value or a real number, got {type(x).__name__} {x!r}"[:160])
    return float(x)


class Value:
    """One scalar in a computational graph, with its gradient.

    Attributes
    ----------
    data : float, the value computed by the forward pass.
    grad : float, d(root)/d(this node) after ``root.backward()``; 0 before.
    label : optional name shown in graph drawings.
    _prev : tuple of the input Values this node was computed from (empty for a leaf).
    _op : the operation that made it (``"+"``, ``"*"``, ``"tanh"``, ...), for drawings.
    _backward : function that adds this node's grad, times the local derivatives, into
        the grads of its inputs. A leaf's does nothing.
    """

    __slots__ = ("data", "grad", "label", "_prev", "_op", "_backward")

    def __init__(self, data, _children=(), _op: str = "", label: str = ""):
        if isinstance(data, Value):
            raise TypeError("Value: data is already a Value; use it directly instead of wrapping it again")
        self.data = _number(data, "Value")
        self.grad = 0.0
        self.label = label
        self._prev = tuple(_children)
        self._op = _op
        self._backward = _noop

    def __repr__(self):
        name = f"label={self.label!r}, " if self.label else ""
        return f"Value({name}data={self.data:.6g}, grad={self.grad:.6g})"

    # ------------------------------------------------------------------ primitives
    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(_number(other, "Value.__add__"))
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad          # d(a+b)/da = 1
            other.grad += out.grad         # d(a+b)/db = 1
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(_number(other, "Value.__mul__"))
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad   # d(ab)/da = b
            other.grad += self.data * out.grad   # d(ab)/db = a
        out._backward = _backward
        return out

    def __pow__(self, exponent):
        if isinstance(exponent, Value):
            raise TypeError("Value ** Value is not supported: the exponent must be a plain number "
                            "(e.g. x**2 or x**-1). For a learnable exponent write (b * a.log()).exp(), "
                            "which needs a > 0")
        k = _number(exponent, "Value.__pow__")
        if self.data == 0.0 and k < 0:
            raise ZeroDivisionError(f"Value.__pow__: 0 ** {k:g} is undefined (division by zero); "
                                    f"did a denominator become 0?")
        if self.data < 0 and not k.is_integer():
            raise ValueError(f"Value.__pow__: ({self.data:g}) ** {k:g} is not a real number "
                             f"(negative base, non-integer exponent)")
        out = Value(self.data ** k, (self,), f"**{k:g}")

        def _backward():
            self.grad += k * self.data ** (k - 1) * out.grad   # d(a^k)/da = k a^(k-1)
        out._backward = _backward
        return out

    def exp(self):
        try:
            e = math.exp(self.data)
        except OverflowError:
            raise OverflowError(f"Value.exp: exp({self.data:g}) is too large for a float "
                                f"(the limit is about exp(709)); scale the input down") from None
        out = Value(e, (self,), "exp")

        def _backward():
            self.grad += e * out.grad          # d(e^a)/da = e^a
        out._backward = _backward
        return out

    def log(self):
        if self.data <= 0:
            raise ValueError(f"Value.log: log is defined only for positive numbers, got data={self.data:g}; "
                             f"did a probability reach 0 (clip it, or compute the loss from logits)?")
        out = Value(math.log(self.data), (self,), "log")

        def _backward():
            self.grad += out.grad / self.data  # d(log a)/da = 1/a
        out._backward = _backward
        return out

    def relu(self):
        out = Value(self.data if self.data > 0 else 0.0, (self,), "relu")

        def _backward():
            self.grad += (self.data > 0) * out.grad   # 1 for a > 0, else 0 (also at a = 0)
        out._backward = _backward
        return out

    def tanh(self):
        t = math.tanh(self.data)
        out = Value(t, (self,), "tanh")

        def _backward():
            self.grad += (1.0 - t * t) * out.grad     # d tanh(a)/da = 1 - tanh(a)^2
        out._backward = _backward
        return out

    def sigmoid(self):
        a = self.data
        s = 1.0 / (1.0 + math.exp(-a)) if a >= 0 else math.exp(a) / (1.0 + math.exp(a))  # no overflow
        out = Value(s, (self,), "sigmoid")

        def _backward():
            self.grad += s * (1.0 - s) * out.grad     # dσ/da = σ(1 - σ)
        out._backward = _backward
        return out

    # ------------------------------------------------------------ compositions
    def __neg__(self):                 # -a
        return self * -1.0

    def __sub__(self, other):          # a - b
        return self + (-other)

    def __truediv__(self, other):      # a / b
        if isinstance(other, Value):
            return self * other ** -1
        b = _number(other, "Value.__truediv__")
        if b == 0:
            raise ZeroDivisionError("Value.__truediv__: division by the number 0")
        return self * (1.0 / b)

    def __radd__(self, other):         # 2 + a
        return self + other

    def __rmul__(self, other):         # 2 * a
        return self * other

    def __rsub__(self, other):         # 2 - a
        return (-self) + other

    def __rtruediv__(self, other):     # 2 / a
        return self ** -1 * other

    def __rpow__(self, base):          # 2 ** a = exp(a log 2), for a positive number base
        b = _number(base, "Value.__rpow__")
        if b <= 0:
            raise ValueError(f"Value.__rpow__: {b:g} ** Value needs a positive base (it is exp(a·log {b:g}))")
        return (self * math.log(b)).exp()

    # ---------------------------------------------------------------- the graph
    def topological_order(self) -> list:
        """Every node this one depends on, inputs before the nodes computed from them.

        Depth-first search with an explicit stack (no recursion, so any depth works).
        The last element is ``self``; each node appears once even if used many times.
        """
        order, visited = [], set()
        stack = [(self, False)]
        while stack:
            node, children_done = stack.pop()
            if children_done:
                order.append(node)
                continue
            if id(node) in visited:
                continue
            visited.add(id(node))
            stack.append((node, True))          # come back after the inputs
            for child in node._prev:
                if id(child) not in visited:
                    stack.append((child, False))
        return order

    def backward(self):
        """Fill ``.grad`` of every node in this graph with d(self)/d(node).

        Resets the graph's grads to 0 first (so a second call gives the same result, never
        double), seeds ``self.grad = 1``, then calls each node's ``_backward`` in reverse
        topological order. Returns the topological order (handy for inspecting the graph).
        """
        order = self.topological_order()
        for node in order:
            node.grad = 0.0
        self.grad = 1.0
        for node in reversed(order):
            node._backward()
        return order

    def zero_grad(self):
        """Set ``.grad = 0`` on every node of this graph (``backward`` does this itself)."""
        for node in self.topological_order():
            node.grad = 0.0


def _noop():
    return None


# ---------------------------------------------------------------------- a tiny MLP
def _value_class(value, where):
    """``Value`` by default, or a class that builds graph nodes (a learner's own engine)."""
    if value is None:
        return Value
    if not isinstance(value, type):
        raise TypeError(f"{where}: value must be a class such as Value (or your own engine's class), "
                        f"got {describe(value)}")
    return value


class Module:
    """Something with parameters: ``parameters()`` and ``zero_grad()``."""

    def parameters(self) -> list:
        return []

    def zero_grad(self):
        for p in self.parameters():
            p.grad = 0.0


class Neuron(Module):
    """``act(w · x + b)`` for ``nin`` inputs; weights ~ U(-1, 1), bias 0.

    ``nonlin``: apply the activation (``"tanh"`` default, or ``"relu"``); ``False`` for a
    linear output neuron. ``rng``: a ``numpy.random.Generator`` (or an int seed).
    ``value``: the class the parameters are made of (``Value``, or your own engine's class
    with the same ``+``, ``*``, ``tanh``/``relu``).
    """

    def __init__(self, nin: int, nonlin="tanh", rng=0, value=None):
        from .data import make_rng
        positive_number(nin, "nin", "Neuron", integer=True)
        rng = make_rng(rng)
        if nonlin not in (False, "tanh", "relu"):
            raise ValueError(f"Neuron: nonlin must be 'tanh', 'relu' or False, got {nonlin!r}")
        value = _value_class(value, "Neuron")
        self.w = [value(float(v)) for v in rng.uniform(-1.0, 1.0, size=int(nin))]
        self.b = value(0.0)
        self.nonlin = nonlin

    def __call__(self, x):
        if len(x) != len(self.w):
            raise ValueError(f"Neuron: got {len(x)} inputs but this neuron has {len(self.w)} weights")
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        if self.nonlin == "tanh":
            return act.tanh()
        if self.nonlin == "relu":
            return act.relu()
        return act

    def parameters(self):
        return self.w + [self.b]


class Layer(Module):
    """``nout`` neurons, each seeing all ``nin`` inputs. Returns a list of Values (one per neuron)."""

    def __init__(self, nin: int, nout: int, nonlin="tanh", rng=0, value=None):
        from .data import make_rng
        positive_number(nout, "nout", "Layer", integer=True)
        rng = make_rng(rng)
        value = _value_class(value, "Layer")
        self.neurons = [Neuron(nin, nonlin, rng, value) for _ in range(int(nout))]

    def __call__(self, x):
        return [n(x) for n in self.neurons]

    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]


class MLP(Module):
    """Layers of sizes ``nin -> nouts[0] -> ... -> nouts[-1]``; hidden layers use ``nonlin``,
    the last layer is linear. ``seed``: int or Generator. ``value``: the class of the
    parameters (default ``Value``; notebook 05 passes the learner's own engine).

    ``mlp(x)`` takes a list of ``nin`` numbers (or Values) and returns a list of Values,
    or a single Value when the last layer has one neuron.
    """

    def __init__(self, nin: int, nouts, nonlin="tanh", seed=0, value=None):
        from .data import make_rng
        positive_number(nin, "nin", "MLP", integer=True)
        if not isinstance(nouts, (list, tuple)) or not nouts:
            raise ValueError(f"MLP: nouts must be a non-empty list of layer sizes, e.g. [8, 1], got {nouts!r}")
        for n in nouts:
            positive_number(n, "every entry of nouts", "MLP", integer=True)
        rng = make_rng(seed)
        value = _value_class(value, "MLP")
        sizes = [int(nin)] + [int(n) for n in nouts]
        self.layers = [Layer(sizes[i], sizes[i + 1], nonlin if i < len(nouts) - 1 else False, rng, value)
                       for i in range(len(nouts))]

    def __call__(self, x):
        nin = len(self.layers[0].neurons[0].w)
        if np.ndim(x) != 1 or len(x) != nin:
            raise ValueError(f"MLP: x must be one sample, a list of {nin} numbers (or Values), "
                             f"got {describe(x) if np.ndim(x) != 1 else f'{len(x)} numbers'}")
        x = list(x)
        for layer in self.layers:
            x = layer(x)
        return x[0] if len(x) == 1 else x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]

    def weight_arrays(self):
        """The parameters as numpy arrays ``[(W1 (nin, h1), b1 (h1,)), ...]`` (for comparing with torch)."""
        out = []
        for layer in self.layers:
            W = np.array([[w.data for w in n.w] for n in layer.neurons]).T
            b = np.array([n.b.data for n in layer.neurons])
            out.append((W, b))
        return out
