"""Optimizers and learning-rate schedules: each update rule written once, as a step function.

Introduced in notebook 03 (``03_sgd_and_optimizers.ipynb``); used again whenever a
network is trained (``opt.step(net.params, grads)``).

**The update rules** are plain functions of arrays (or floats) that return new values
and never modify their inputs. They are the functions notebook 03's exercises ask for,
with the same signatures; the optimizer classes below and the optimizer-race widget
call them, so every rule exists once::

    sgd_step(p, g, lr)                                   -> p
    momentum_step(p, g, v, lr, beta)                     -> (p, v)
    rmsprop_step(p, g, s, lr, rho, eps)                  -> (p, s)
    adam_step(p, g, m, v, t, lr, beta1, beta2, eps)      -> (p, m, v)
    adamw_step(p, g, m, v, t, lr, beta1, beta2, eps, weight_decay) -> (p, m, v)

All conventions follow ``torch.optim`` (trajectories agree with it in float64 to ~1e-12):

* Momentum:  v = beta * v + g;  p = p - lr * v   (no dampening, no (1 - beta));
* RMSProp:   s = rho * s + (1 - rho) * g**2;  p = p - lr * g / (sqrt(s) + eps)
  (eps *outside* the square root; torch calls rho ``alpha``);
* Adam: t counts this step, starting at 1; m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g**2,
  m_hat = m / (1 - b1**t), v_hat = v / (1 - b2**t), p = p - lr * m_hat / (sqrt(v_hat) + eps);
* AdamW: first p = p * (1 - lr * weight_decay) (decoupled weight decay), then the Adam step.

**The optimizer classes** keep the state (velocities, averages, the counter t) per
parameter *name* and update parameter arrays in place::

    opt = Adam(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    opt.step(params, grads)  # dicts name -> np.ndarray, same keys and shapes;
                             # updates params IN PLACE, returns None
    opt.lr                   # a plain attribute; change it between steps (schedules do)
    opt.state_dict()         # {"t": steps taken, "<buffer>": {name: copy}, hyper-parameters}

Weight decay, two kinds (they differ for Adam):

* ``weight_decay=`` of SGD, Momentum, RMSProp, Adam is L2 added to the gradient,
  g = grad + weight_decay * p, as ``torch.optim.Adam(weight_decay=...)``. With Adam that
  term is then divided by sqrt(v_hat) like the rest of the gradient.
* ``AdamW(weight_decay=0.01)`` decays the weights directly, p = p * (1 - lr * weight_decay),
  outside the adaptive scaling (``torch.optim.AdamW``, Loshchilov & Hutter 2019).

Every class takes ``rule=``: a step function with the signature above to use instead of
the course's, e.g. ``Adam(0.05, rule=my_adam_step)`` runs your own Adam step.

**Schedules** are callables ``schedule(t) -> lr`` for t = 0, 1, 2, ... (an epoch or a step
index); set ``opt.lr = schedule(t)`` before step t: ``StepDecay``, ``ExponentialDecay``,
``CosineDecay`` (closed forms of PyTorch's ``StepLR``, ``ExponentialLR`` and
``CosineAnnealingLR``). A learning rate that is negative or not finite (from a schedule
or set by hand) raises ``LearningRateError`` instead of silently running gradient ascent;
``scheduled_lr(schedule, t)`` calls a schedule and checks what it returns.
"""

from __future__ import annotations

import math

import numpy as np

from ._validate import as_float_array, describe, positive_number

__all__ = ["sgd_step", "momentum_step", "rmsprop_step", "adam_step", "adamw_step",
           "Optimizer", "SGD", "Momentum", "RMSProp", "Adam", "AdamW",
           "LearningRateError", "scheduled_lr", "OPTIMIZER_CLASSES",
           "StepDecay", "ExponentialDecay", "CosineDecay"]


# ---------------------------------------------------------------------------------
# the update rules: one function each, new values returned, inputs untouched
# ---------------------------------------------------------------------------------
def sgd_step(p, g, lr):
    """Plain gradient descent: ``p - lr * g``.

    p, g : the parameter and its gradient (arrays of one shape, or floats).
    Returns the new parameter.
    """
    return p - lr * g


def momentum_step(p, g, v, lr, beta):
    """Heavy-ball momentum, PyTorch's convention: returns ``(p_new, v_new)``.

        v_new = beta * v + g
        p_new = p - lr * v_new

    p, g, v : parameter, gradient, velocity (one shape; v starts at 0, so the first
    step equals plain SGD). lr : learning rate η. beta : 0 <= β < 1.
    Same as ``torch.optim.SGD(momentum=beta)`` (no dampening).
    """
    v = beta * v + g
    return p - lr * v, v


def rmsprop_step(p, g, s, lr, rho, eps):
    """RMSProp, PyTorch's convention: returns ``(p_new, s_new)``.

        s_new = rho * s + (1 - rho) * g**2          (elementwise)
        p_new = p - lr * g / (sqrt(s_new) + eps)    (eps outside the root)

    p, g, s : parameter, gradient, running average of g² (one shape; s starts at 0).
    lr : learning rate η. rho : the decay ρ, 0 <= ρ < 1 (torch's ``alpha``, default 0.99).
    eps : a small guard against dividing by 0 (1e-8).
    The new average is used in this step's update (s_new, not s).
    """
    s = rho * s + (1 - rho) * g * g
    return p - lr * g / (np.sqrt(s) + eps), s


def adam_step(p, g, m, v, t, lr, beta1, beta2, eps):
    """Adam (Kingma & Ba 2015), PyTorch's convention: returns ``(p_new, m_new, v_new)``.

        m_new = beta1 * m + (1 - beta1) * g           first moment
        v_new = beta2 * v + (1 - beta2) * g**2        second moment
        m_hat = m_new / (1 - beta1**t)                bias correction (m, v start at 0)
        v_hat = v_new / (1 - beta2**t)
        p_new = p - lr * m_hat / (sqrt(v_hat) + eps)  eps outside the root

    t : the number of THIS step, 1 on the first step. m_hat and v_hat are not kept:
    the state carried to the next step is the uncorrected (m_new, v_new).
    """
    if not t >= 1:
        raise ValueError(f"adam_step: t must be the number of this step, 1 on the first, got {t!r}")
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    m_hat = m / (1 - beta1 ** t)
    v_hat = v / (1 - beta2 ** t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def adamw_step(p, g, m, v, t, lr, beta1, beta2, eps, weight_decay):
    """AdamW: decoupled weight decay, then the Adam step. Returns ``(p_new, m_new, v_new)``.

        p_decayed = p * (1 - lr * weight_decay)
        p_new, m_new, v_new = adam_step(p_decayed, g, m, v, t, lr, beta1, beta2, eps)

    g is the gradient of the loss alone (no L2 term): the decay acts on the weights
    directly, not through m and v, so it is not rescaled by 1/sqrt(v_hat) as L2 in
    Adam's gradient is. Same as ``torch.optim.AdamW`` (amsgrad off).
    """
    return adam_step(p * (1 - lr * weight_decay), g, m, v, t, lr, beta1, beta2, eps)


# ---------------------------------------------------------------------------------
# learning rates
# ---------------------------------------------------------------------------------
class LearningRateError(ValueError):
    """A learning rate that is negative, NaN or infinite (often from a schedule).

    A negative rate would step *up* the gradient (gradient ascent) and a NaN one would
    poison every parameter, so both are refused with this error rather than run."""


def _checked_lr(lr, where, source="lr"):
    if isinstance(lr, bool) or not isinstance(lr, (int, float, np.integer, np.floating)) \
            or (isinstance(lr, np.ndarray) and lr.ndim):
        raise TypeError(f"{where}: {source} must be a number >= 0, got {describe(lr)}")
    if not math.isfinite(lr) or lr < 0:
        hint = " (a negative rate would run gradient ascent)" if lr < 0 else ""
        raise LearningRateError(f"{where}: {source} must be a finite number >= 0, got {lr}{hint}")
    return float(lr)


def scheduled_lr(schedule, t, where="schedule"):
    """``schedule(t)`` as a float, or ``LearningRateError`` if it is not a finite number >= 0.

    Use it wherever a loop asks a schedule for the next rate, so that a schedule that
    goes negative stops the run with a clear message instead of climbing the loss.
    """
    if not callable(schedule):
        raise TypeError(f"{where}: schedule must be a function t -> lr, got {describe(schedule)}")
    return _checked_lr(schedule(t), where, f"schedule({t})")


def _fraction(x, name, where):
    """A decay rate such as beta: a number with 0 <= x < 1."""
    x = positive_number(x, name, where, allow_zero=True)
    if x >= 1:
        raise ValueError(f"{where}: {name} must satisfy 0 <= {name} < 1, got {x}")
    return x


def _pair(x, name, where):
    if isinstance(x, np.ndarray) and x.shape == (2,):
        x = tuple(x.tolist())
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        raise TypeError(f"{where}: {name} must be a pair (beta1, beta2), got {describe(x)}")
    return _fraction(x[0], f"{name}[0]", where), _fraction(x[1], f"{name}[1]", where)


# ---------------------------------------------------------------------------------
# the optimizers: state per parameter name, the rule applied in place
# ---------------------------------------------------------------------------------
class Optimizer:
    """Base class: checks ``params``/``grads``, keeps the state, calls the step function.

    A subclass names its step function (``rule``), the state buffers the rule takes and
    returns after ``g`` (``buffers``, in that order), whether the rule takes the step
    counter ``t`` (``uses_t``) and its hyper-parameters after ``lr`` (``hyper_args``).
    The rule is called as ``rule(p, g, *buffers, [t,] lr, *hyper_args)``.
    """

    rule = staticmethod(sgd_step)
    #: names of the per-parameter buffers, e.g. ("velocity",)
    buffers: tuple = ()
    uses_t = False
    #: True when weight_decay is passed to the rule (AdamW) instead of added to g (L2)
    decoupled = False

    def __init__(self, lr, weight_decay=0.0, rule=None):
        where = type(self).__name__
        self.lr = _checked_lr(lr, where)
        self.weight_decay = positive_number(weight_decay, "weight_decay", where, allow_zero=True)
        if rule is not None and not callable(rule):
            raise TypeError(f"{where}: rule must be a step function such as "
                            f"{type(self).rule.__name__}, got {describe(rule)}")
        self.rule = type(self).rule if rule is None else rule
        self.t = 0
        self._state = {b: {} for b in self.buffers}

    def hyper_args(self) -> tuple:
        """The rule's arguments after ``lr``, e.g. ``(beta,)`` for Momentum."""
        return ()

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
            raise ValueError(f"{where}: grads must have the same keys as params; "
                             f"missing in grads: {sorted(set(params) - set(grads))}, "
                             f"not in params: {sorted(set(grads) - set(params))}")
        lr = _checked_lr(self.lr, where)
        checked = {name: self._checked_grad(name, p, grads[name], where) for name, p in params.items()}
        self.t += 1
        hyper = self.hyper_args()
        for name, p in params.items():
            g = checked[name]
            if self.weight_decay and not self.decoupled:
                g = g + self.weight_decay * p          # L2 in the gradient
            state = [self._buffer(b, name, p) for b in self.buffers]
            counter = (self.t,) if self.uses_t else ()
            out = self.rule(p.copy(), g, *state, *counter, lr, *hyper)
            new_p, new_state = self._unpack(out, p, where)
            p[...] = new_p
            for b, s in zip(self.buffers, new_state):
                self._state[b][name] = s

    def state_dict(self) -> dict:
        """Copies of the step counter, the hyper-parameters and every per-parameter buffer."""
        out = {"t": self.t, "lr": self.lr, "weight_decay": self.weight_decay}
        out.update(self._hyper())
        for b in self.buffers:
            out[b] = {k: v.copy() for k, v in self._state[b].items()}
        return out

    def __repr__(self):
        hyper = ", ".join(f"{k}={v!r}" for k, v in {"lr": self.lr, **self._hyper(),
                                                     "weight_decay": self.weight_decay}.items())
        return f"{type(self).__name__}({hyper})"

    # -- helpers ----------------------------------------------------------------------
    def _hyper(self) -> dict:
        return {}

    @staticmethod
    def _checked_grad(name, p, g, where):
        if not isinstance(p, np.ndarray) or not np.issubdtype(p.dtype, np.floating):
            raise TypeError(f"{where}: params[{name!r}] must be a float numpy array (it is "
                            f"updated in place), got {describe(p)}")
        if type(g) is np.ndarray and g.dtype == np.float64 and g.shape == p.shape:
            return g                       # fast path: already a float64 array of p's shape
        g = as_float_array(g, f"grads[{name!r}]", where, ndim=p.ndim, finite=False)
        if g.shape != p.shape:
            raise ValueError(f"{where}: grads[{name!r}] has shape {g.shape} but params[{name!r}] "
                             f"has shape {p.shape}; they must match exactly")
        return g

    def _buffer(self, kind, name, like):
        buf = self._state[kind].get(name)
        if buf is None or buf.shape != like.shape:
            buf = np.zeros_like(like, dtype=np.float64)
            self._state[kind][name] = buf
        return buf

    def _unpack(self, out, p, where):
        """``(new_p, [new buffers])`` from what the rule returned, checked."""
        rule = getattr(self.rule, "__name__", "rule")
        n = len(self.buffers)
        want = "the new p" if n == 0 else f"a tuple of {n + 1}: (p, {', '.join(self.buffers)})"
        if n:
            if not isinstance(out, (tuple, list)) or len(out) != n + 1:
                raise TypeError(f"{where}: the step function {rule} must return {want}, got {describe(out)}")
            values = list(out)
        else:
            values = [out]
        checked = []
        for label, val in zip(("p",) + self.buffers, values):
            arr = np.asarray(val, dtype=np.float64) if val is not None else None
            if arr is None or arr.shape != p.shape:
                raise ValueError(f"{where}: the step function {rule} returned {label} as {describe(val)}; "
                                 f"it must have the parameter's shape {p.shape} ({want})")
            checked.append(arr)
        return checked[0], checked[1:]


class SGD(Optimizer):
    """Plain (stochastic) gradient descent: ``p = p - lr * g`` (``sgd_step``).

    ``g`` includes L2 weight decay: ``g = grad + weight_decay * p``.
    Same as ``torch.optim.SGD(lr, weight_decay=...)``.
    """


class Momentum(Optimizer):
    """SGD with (heavy-ball) momentum, PyTorch's convention (``momentum_step``).

    ``v = beta * v + g``; ``p = p - lr * v``, with ``v`` starting at 0 for each parameter
    (so the first step equals plain SGD). Same as ``torch.optim.SGD(momentum=beta)``.
    Buffer: ``"velocity"``.
    """

    rule = staticmethod(momentum_step)
    buffers = ("velocity",)

    def __init__(self, lr, beta=0.9, weight_decay=0.0, rule=None):
        super().__init__(lr, weight_decay, rule)
        self.beta = _fraction(beta, "beta", "Momentum")

    def hyper_args(self):
        return (self.beta,)

    def _hyper(self):
        return {"beta": self.beta}


class RMSProp(Optimizer):
    """RMSProp, PyTorch's convention (``rmsprop_step``; ``torch.optim.RMSprop``).

    ``s = rho * s + (1 - rho) * g**2``; ``p = p - lr * g / (sqrt(s) + eps)``: epsilon is
    added *after* the square root; ``s`` starts at 0. The decay ρ is called ``alpha``
    here, as in torch (default 0.99). Not centered, no momentum. Buffer: ``"square_avg"``.
    """

    rule = staticmethod(rmsprop_step)
    buffers = ("square_avg",)

    def __init__(self, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, rule=None):
        super().__init__(lr, weight_decay, rule)
        self.alpha = _fraction(alpha, "alpha", "RMSProp")
        self.eps = positive_number(eps, "eps", "RMSProp", allow_zero=True)

    def hyper_args(self):
        return (self.alpha, self.eps)

    def _hyper(self):
        return {"alpha": self.alpha, "eps": self.eps}


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015), PyTorch's convention (``adam_step``; ``torch.optim.Adam``).

    The step counter ``t`` is incremented *before* use (first step: ``t = 1``)::

        m = b1 * m + (1 - b1) * g          # first moment,  buffer "exp_avg"
        v = b2 * v + (1 - b2) * g**2       # second moment, buffer "exp_avg_sq"
        m_hat = m / (1 - b1**t)            # bias correction: m, v start at 0
        v_hat = v / (1 - b2**t)
        p = p - lr * m_hat / (sqrt(v_hat) + eps)   # eps outside the root

    ``weight_decay`` adds ``weight_decay * p`` to ``g`` (L2, as torch's Adam). For
    decoupled weight decay use ``AdamW``.
    """

    rule = staticmethod(adam_step)
    buffers = ("exp_avg", "exp_avg_sq")
    uses_t = True

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, rule=None):
        super().__init__(lr, weight_decay, rule)
        where = type(self).__name__
        self.betas = _pair(betas, "betas", where)
        self.eps = positive_number(eps, "eps", where, allow_zero=True)

    def hyper_args(self):
        return (*self.betas, self.eps)

    def _hyper(self):
        return {"betas": self.betas, "eps": self.eps}


class AdamW(Adam):
    """Adam with decoupled weight decay (``adamw_step``; ``torch.optim.AdamW``).

    Each step first shrinks the weights, ``p = p * (1 - lr * weight_decay)``, then takes
    the Adam step with the loss's gradient alone. Unlike ``Adam(weight_decay=...)``
    (L2 added to g, then divided by sqrt(v_hat) with it) the decay here does not depend on
    the gradients' history. The default ``weight_decay=0.01`` is torch's.
    """

    rule = staticmethod(adamw_step)
    decoupled = True

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, rule=None):
        super().__init__(lr, betas, eps, weight_decay, rule)

    def hyper_args(self):
        return (*self.betas, self.eps, self.weight_decay)


#: name -> optimizer class, for widgets and presets
OPTIMIZER_CLASSES = {"SGD": SGD, "Momentum": Momentum, "RMSProp": RMSProp, "Adam": Adam, "AdamW": AdamW}


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
