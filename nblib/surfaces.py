"""Two-parameter test surfaces for optimizers, with their exact gradients.

Introduced in notebook 03. Each ``Surface`` is a function of a point
``p = (x, y)`` (shape (2,)) with its gradient, its minimum, a start point and a plot
window, so that an optimizer race only needs the surface's name:

* ``"bowl"``      -- ``f = (x² + y²)/2``: well conditioned (κ = 1);
* ``"ravine"``    -- ``f = (x² + κ y²)/2`` turned by 30°, κ = 100: ill conditioned, a
  long narrow valley where plain GD zig-zags across and crawls along;
* ``"rosenbrock"`` -- ``f = (1 - x)² + 100 (y - x²)²``: a curved banana-shaped valley,
  minimum 0 at (1, 1).

``surface.loss_and_grad(p) -> (f, ∇f)`` plugs into ``nblib.gd.gradient_descent``
and ``nblib.gd.run_optimizer``; ``surface.grid(n)`` gives ``X, Y, Z`` for contours
(``Z`` is vectorised over the grid).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ._validate import as_float_array, positive_number

__all__ = ["Surface", "quadratic", "rosenbrock", "SURFACES", "get_surface"]


@dataclass(frozen=True)
class Surface:
    """A 2-D test function.

    f : ``f(X, Y) -> Z`` elementwise on arrays of any (equal) shape.
    grad : ``grad(x, y) -> (df/dx, df/dy)`` for floats or arrays.
    minimum : the minimiser, shape (2,). start : a default start point, shape (2,).
    xlim, ylim : the plot window. levels : contour levels suited to this surface.
    hessian_at : ``p -> (2, 2)`` Hessian (for critical learning rates).
    """
    name: str
    f: Callable
    grad: Callable
    hessian_at: Callable
    minimum: np.ndarray
    start: np.ndarray
    xlim: tuple
    ylim: tuple
    levels: np.ndarray

    def __call__(self, p) -> float:
        p = as_float_array(p, "p", f"Surface {self.name!r}", ndim=1, finite=False)
        if p.shape != (2,):
            raise ValueError(f"Surface {self.name!r}: p must be a point (x, y) of shape (2,), got shape {p.shape}")
        return float(self.f(p[0], p[1]))

    def loss_and_grad(self, p):
        """``(f(p), ∇f(p))`` with ``p`` of shape (2,); the gradient is a new (2,) array."""
        if not isinstance(p, np.ndarray) or p.shape != (2,):
            p = as_float_array(p, "p", f"Surface {self.name!r}.loss_and_grad", finite=False)
            if p.shape != (2,):
                raise ValueError(f"Surface {self.name!r}.loss_and_grad: p must be a point (x, y) of shape (2,), "
                                 f"got shape {p.shape}")
        with np.errstate(all="ignore"):
            return float(self.f(p[0], p[1])), np.array(self.grad(p[0], p[1]), dtype=float)

    def grid(self, n: int = 121):
        """``X, Y, Z`` on an ``n × n`` grid over the plot window (for ``ax.contour``)."""
        n = positive_number(n, "n", "Surface.grid", integer=True)
        X, Y = np.meshgrid(np.linspace(*self.xlim, n), np.linspace(*self.ylim, n))
        return X, Y, self.f(X, Y)


def quadratic(curvatures=(1.0, 100.0), angle_deg: float = 30.0, name: str = "ravine",
              start=(-4.0, 2.5), lim: float = 5.0) -> Surface:
    """``f(p) = ½ pᵀ A p`` with ``A = R diag(curvatures) Rᵀ`` (R a rotation by ``angle_deg``).

    The Hessian is ``A`` everywhere; its eigenvalues are ``curvatures``, so the
    condition number is ``max/min`` and plain GD needs ``lr < 2 / max(curvatures)``.
    """
    c = as_float_array(curvatures, "curvatures", "quadratic", ndim=1)
    if c.shape != (2,) or np.any(c <= 0):
        raise ValueError(f"quadratic: curvatures must be two positive numbers, got {c.tolist()}")
    t = np.deg2rad(float(angle_deg))
    R = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    A = R @ np.diag(c) @ R.T
    a, b, d = float(A[0, 0]), float(A[0, 1]), float(A[1, 1])

    def f(x, y):
        return 0.5 * (a * x * x + 2 * b * x * y + d * y * y)

    def grad(x, y):
        return a * x + b * y, b * x + d * y

    top = 0.5 * c.max() * lim ** 2
    return Surface(name, f, grad, lambda p: A.copy(), np.zeros(2), np.asarray(start, float),
                   (-lim, lim), (-lim, lim), np.geomspace(top * 1e-4, top, 14))


def rosenbrock(a: float = 1.0, b: float = 100.0) -> Surface:
    """``f(x, y) = (a - x)² + b (y - x²)²``, minimum 0 at ``(a, a²)``.

    ∂f/∂x = -2(a - x) - 4 b x (y - x²),   ∂f/∂y = 2 b (y - x²).
    """
    a, b = float(a), float(b)

    def f(x, y):
        u, v = a - x, y - x * x
        return u * u + b * v * v

    def grad(x, y):
        return -2 * (a - x) - 4 * b * x * (y - x * x), 2 * b * (y - x * x)

    def hessian(p):
        x, y = p
        return np.array([[2 - 4 * b * (y - 3 * x * x), -4 * b * x], [-4 * b * x, 2 * b]])

    return Surface("rosenbrock", f, grad, hessian, np.array([a, a * a]), np.array([-1.2, 1.0]),
                   (-2.0, 2.0), (-1.0, 3.0), np.geomspace(0.05, 2500, 16))


SURFACES = {
    "bowl": quadratic((1.0, 1.0), 0.0, name="bowl"),
    "ravine": quadratic((1.0, 100.0), 30.0, name="ravine"),
    "rosenbrock": rosenbrock(),
}


def get_surface(name: str) -> Surface:
    """One of ``SURFACES`` by name ("bowl", "ravine", "rosenbrock")."""
    if not isinstance(name, str) or name not in SURFACES:
        raise ValueError(f"get_surface: unknown surface {name!r}; choose one of {sorted(SURFACES)}")
    return SURFACES[name]
