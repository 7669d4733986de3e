"""Optimizers and learning-rate schedules with one shared step interface.

Introduced in notebook 03 (``03_sgd_and_optimizers.ipynb``); used again whenever a
network is trained (``opt.step(net.params, grads)``).

The interface (every optimizer)::

    opt = Adam(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    opt.step(params, grads)  # dicts name -> np.ndarray, same keys and shapes;
                             # updates params IN PLACE (p -= ...), returns None
    opt.lr                   # a plain attribute; change it between steps (schedules do)
    opt.state_dict()         # {"t": steps taken, "<buffer>": {name: copy}, hyper-parameters}

State (velocities, squared-gradient averages, the step counter) lives inside the
optimizer, one buffer per parameter *name*, created on first use as zeros. All
conventions follow ``torch.optim`` (so trajectories agree with it in float64 to ~1e-12):

* weight decay is L2 added to the gradient: ``g = grad + weight_decay * p``
  (as ``torch.optim.Adam(weight_decay=...)``, *not* AdamW's decoupled decay);
* ``Momentum``:  ``v = beta * v + g``;  ``p -= lr * v``   (no dampening, no (1 - beta));
* ``RMSProp``:   ``s = alpha * s + (1 - alpha) * g**2``;  ``p -= lr * g / (sqrt(s) + eps)``
  (eps *outside* the square root);
* ``Adam``: the counter ``t`` is incremented *before* it is used, so the first step has
  ``t = 1``; ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g**2``,
  ``m_hat = m / (1 - b1**t)``, ``v_hat = v / (1 - b2**t)``,
  ``p -= lr * m_hat / (sqrt(v_hat) + eps)`` (eps outside the root, after the correction).

Schedules are callables ``schedule(t) -> lr`` for ``t = 0, 1, 2, ...`` (an epoch or a
step index, whichever you count); set ``opt.lr = schedule(t)`` before step ``t``:
``StepDecay``, ``ExponentialDecay``, ``CosineDecay`` (closed forms of PyTorch's
``StepLR``, ``ExponentialLR`` and ``CosineAnnealingLR``).
"""

from __future__ import annotations

import math

import numpy as np

from ._validate import as_float_array, describe, positive_number

__all__ = ["Optimizer", "SGD", "Momentum", "RMSProp", "Adam",
           "StepDecay", "ExponentialDecay", "CosineDecay", "OPTIMIZERS"]


def _fraction(x, name, where, *, allow_zero=True):
    """A number in [0, 1) (or (0, 1) without allow_zero): a decay rate such as beta."""
    x = positive_number(x, name, where, allow_zero=True)
    if x >= 1 or (x == 0 and not allow_zero):
        low = "0 <=" if allow_zero else "0 <"
        raise ValueError(f"{where}: {name} must satisfy {low} {name} < 1, got {x}")
    return x


class Optimizer:
    """Base class: validation of ``params``/``grads`` and per-parameter state.

    Subclasses implement ``_update(name, p, g)`` which changes ``p`` in place, using
    ``self.t`` (already incremented for this step) and their buffers in ``self._state``.
    """

    #: names of the per-parameter buffers, e.g. ("velocity",)
    buffers: tuple = ()

    def __init__(self, lr, weight_decay=0.0):
        where = type(self).__name__
        self.lr = positive_number(lr, "lr", where, allow_zero=True)
        self.weight_decay = positive_number(weight_decay, "weight_decay", where, allow_zero=True)
        self.t = 0
        self._state = {b: {} for b in self.buffers}

    # -- the shared interface -------------------------------------------------------
    def step(self, params, grads) -> None:
        """One update of every parameter, in place.

        params, grads : dict name -> np.ndarray (float), the same keys and shapes.
        The arrays in ``params`` are modified in place (so a network holding them sees
        the change); nothing is returned.
        """
        where = f"{type(self).__name__}.step"
        if not isinstance(params, dict) or not isinstance(grads, dict):
            raise TypeError(f"{where}: params and grads must be dicts name -> array, got "
                            f"{describe(params)} and {describe(grads)}")
        if set(params) != set(grads):
            missing = sorted(set(params) - set(grads))
            extra = sorted(set(grads) - set(params))
            raise ValueError(f"{where}: grads must have the same keys as params; "
                             f"missing in grads: {missing}, not in params: {extra}")
        lr = self.lr
        if isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating, np.integer)) \
                or not np.isfinite(lr) or lr < 0:
            raise ValueError(f"{where}: lr must be a finite number >= 0, got {describe(lr)}")
        checked = {}
        for name, p in params.items():
            if not isinstance(p, np.ndarray) or not np.issubdtype(p.dtype, np.floating):
                raise TypeError(f"{where}: params[{name!r}] must be a float numpy array (it is "
                                f"updated in place), got {describe(p)}")
            g = as_float_array(grads[name], f"grads[{name!r}]", where, ndim=p.ndim, finite=False)
            if g.shape != p.shape:
                raise ValueError(f"{where}: grads[{name!r}] has shape {g.shape} but params[{name!r}] "
                                 f"has shape {p.shape}; they must match exactly")
            checked[name] = g
        self.t += 1
        for name, p in params.items():
            g = checked[name]
            if self.weight_decay:
                g = g + self.weight_decay * p
            self._update(name, p, g)

    def state_dict(self) -> dict:
        """Copies of the step counter, the hyper-parameters and every per-parameter buffer."""
        out = {"t": self.t, "lr": self.lr, "weight_decay": self.weight_decay}
        out.update(self._hyper())
        for b in self.buffers:
            out[b] = {k: v.copy() for k, v in self._state[b].items()}
        return out

    def zero_state(self) -> None:
        """Forget every buffer and reset ``t`` to 0 (as a freshly made optimizer)."""
        self.t = 0
        self._state = {b: {} for b in self.buffers}

    def __repr__(self):
        hyper = ", ".join(f"{k}={v!r}" for k, v in {"lr": self.lr, **self._hyper(),
                                                     "weight_decay": self.weight_decay}.items())
        return f"{type(self).__name__}({hyper})"

    # -- for subclasses -------------------------------------------------------------
    def _hyper(self) -> dict:
        return {}

    def _buffer(self, kind, name, like):
        buf = self._state[kind].get(name)
        if buf is None or buf.shape != like.shape:
            buf = np.zeros_like(like, dtype=np.float64)
            self._state[kind][name] = buf
        return buf

    def _update(self, name, p, g):  # pragma: no cover - abstract
        raise NotImplementedError


class SGD(Optimizer):
    """Plain (stochastic) gradient descent: ``p -= lr * g``.

    ``g`` includes weight decay: ``g = grad + weight_decay * p``.
    """

    def _update(self, name, p, g):
        p -= self.lr * g


class Momentum(Optimizer):
    """SGD with (heavy-ball) momentum, PyTorch's convention.

    ``v = beta * v + g``; ``p -= lr * v``, with ``v`` starting at 0 for each parameter
    (so the first step equals plain SGD). Same as ``torch.optim.SGD(momentum=beta)``.
    Buffer: ``"velocity"``.
    """

    buffers = ("velocity",)

    def __init__(self, lr, beta=0.9, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        self.beta = _fraction(beta, "beta", "Momentum")

    def _hyper(self):
        return {"beta": self.beta}

    def _update(self, name, p, g):
        v = self._buffer("velocity", name, p)
        v *= self.beta
        v += g
        p -= self.lr * v


class RMSProp(Optimizer):
    """RMSProp, PyTorch's convention (``torch.optim.RMSprop``, not centered, no momentum).

    ``s = alpha * s + (1 - alpha) * g**2``; ``p -= lr * g / (sqrt(s) + eps)``:
    epsilon is added *after* the square root. ``s`` starts at 0. Buffer: ``"square_avg"``.
    """

    buffers = ("square_avg",)

    def __init__(self, lr, alpha=0.99, eps=1e-8, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        self.alpha = _fraction(alpha, "alpha", "RMSProp")
        self.eps = positive_number(eps, "eps", "RMSProp", allow_zero=True)

    def _hyper(self):
        return {"alpha": self.alpha, "eps": self.eps}

    def _update(self, name, p, g):
        s = self._buffer("square_avg", name, p)
        s *= self.alpha
        s += (1 - self.alpha) * g * g
        p -= self.lr * g / (np.sqrt(s) + self.eps)


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015), PyTorch's convention (``torch.optim.Adam``, amsgrad off).

    The step counter ``t`` is incremented *before* use (first step: ``t = 1``)::

        m = b1 * m + (1 - b1) * g          # first moment,  buffer "exp_avg"
        v = b2 * v + (1 - b2) * g**2       # second moment, buffer "exp_avg_sq"
        m_hat = m / (1 - b1**t)            # bias correction: m, v start at 0
        v_hat = v / (1 - b2**t)
        p -= lr * m_hat / (sqrt(v_hat) + eps)   # eps outside the root

    weight_decay adds ``weight_decay * p`` to ``g`` (L2, not AdamW).
    """

    buffers = ("exp_avg", "exp_avg_sq")

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"Adam: betas must be a pair (beta1, beta2), got {describe(betas)}")
        self.betas = (_fraction(betas[0], "betas[0]", "Adam"), _fraction(betas[1], "betas[1]", "Adam"))
        self.eps = positive_number(eps, "eps", "Adam", allow_zero=True)

    def _hyper(self):
        return {"betas": self.betas, "eps": self.eps}

    def _update(self, name, p, g):
        b1, b2 = self.betas
        m = self._buffer("exp_avg", name, p)
        v = self._buffer("exp_avg_sq", name, p)
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * g * g
        m_hat = m / (1 - b1 ** self.t)
        v_hat = v / (1 - b2 ** self.t)
        p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


#: name -> class, for widgets and presets
OPTIMIZERS = {"SGD": SGD, "Momentum": Momentum, "RMSProp": RMSProp, "Adam": Adam}


# ---------------------------------------------------------------------------------
# learning-rate schedules: schedule(t) -> lr, t = 0, 1, 2, ...
# ---------------------------------------------------------------------------------
def _index(t, where):
    if isinstance(t, bool) or not isinstance(t, (int, np.integer)):
        raise TypeError(f"{where}: t must be a step or epoch index (an int >= 0), got {describe(t)}")
    if t < 0:
        raise ValueError(f"{where}: t must be >= 0, got {t}")
    return int(t)


class StepDecay:
    """``lr(t) = lr0 * gamma ** (t // step_size)``: drop by ``gamma`` every ``step_size``.

    Equals ``torch.optim.lr_scheduler.StepLR(opt, step_size, gamma)`` after ``t`` calls
    of ``scheduler.step()``.
    """

    def __init__(self, lr0, step_size, gamma=0.1):
        self.lr0 = positive_number(lr0, "lr0", "StepDecay")
        self.step_size = positive_number(step_size, "step_size", "StepDecay", integer=True)
        self.gamma = positive_number(gamma, "gamma", "StepDecay")

    def __call__(self, t):
        t = _index(t, "StepDecay")
        return self.lr0 * self.gamma ** (t // self.step_size)

    def __repr__(self):
        return f"StepDecay(lr0={self.lr0}, step_size={self.step_size}, gamma={self.gamma})"


class ExponentialDecay:
    """``lr(t) = lr0 * gamma ** t`` (``torch.optim.lr_scheduler.ExponentialLR``)."""

    def __init__(self, lr0, gamma):
        self.lr0 = positive_number(lr0, "lr0", "ExponentialDecay")
        self.gamma = positive_number(gamma, "gamma", "ExponentialDecay")

    def __call__(self, t):
        return self.lr0 * self.gamma ** _index(t, "ExponentialDecay")

    def __repr__(self):
        return f"ExponentialDecay(lr0={self.lr0}, gamma={self.gamma})"


class CosineDecay:
    """Half a cosine from ``lr0`` down to ``lr_min`` over ``total_steps``, then ``lr_min``.

    ``lr(t) = lr_min + (lr0 - lr_min) * (1 + cos(pi * t / total_steps)) / 2`` for
    ``0 <= t <= total_steps`` and ``lr_min`` afterwards. Within ``[0, total_steps]`` this
    is ``torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total_steps, eta_min=lr_min)``
    (PyTorch's goes back up after ``T_max``; this one stays at ``lr_min``).
    """

    def __init__(self, lr0, total_steps, lr_min=0.0):
        self.lr0 = positive_number(lr0, "lr0", "CosineDecay")
        self.total_steps = positive_number(total_steps, "total_steps", "CosineDecay", integer=True)
        self.lr_min = positive_number(lr_min, "lr_min", "CosineDecay", allow_zero=True)
        if self.lr_min > self.lr0:
            raise ValueError(f"CosineDecay: lr_min={self.lr_min} must not exceed lr0={self.lr0}")

    def __call__(self, t):
        t = min(_index(t, "CosineDecay"), self.total_steps)
        return self.lr_min + (self.lr0 - self.lr_min) * (1 + math.cos(math.pi * t / self.total_steps)) / 2

    def __repr__(self):
        return f"CosineDecay(lr0={self.lr0}, total_steps={self.total_steps}, lr_min={self.lr_min})"
