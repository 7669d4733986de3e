"""The numpy MLP and its PyTorch twin, number for number (notebooks 06 and 07).

* ``pick_device`` -- ``cuda`` when a GPU is usable, else ``cpu``, and it says which.
* ``TorchMLP`` -- the ``nblib.layers.MLP`` architecture as an ``nn.Module``
  (``nn.Linear`` layers, the same activation between them, raw logits out).
* ``to_torch`` / ``copy_to_torch`` / ``copy_from_torch`` -- move the very same weights
  across. Our layers compute ``x @ W + b`` with ``W: (d, h)``; ``nn.Linear`` stores
  ``weight: (h, d)`` and computes ``x @ weight.T + bias``, so ``weight = W.T``.
* ``numpy_trace`` / ``torch_trace`` / ``forward_backward_table`` -- every activation, the
  loss and every gradient from both implementations, compared with ``nblib.gradcheck.compare``.
* ``TORCH_OPTIMIZERS`` and ``step_matched`` -- train both with the same optimizer settings on
  the same mini-batches, recording both loss curves and the parameter difference after each step.
* ``fit_torch`` -- the PyTorch version of ``nblib.train.fit`` (same batches, schedule,
  early stopping, history).

PyTorch is imported when this module is imported; the rest of nblib does not need it.
"""

from __future__ import annotations

import copy
import time

import numpy as np
import torch
from torch import nn

from . import layers as L
from . import optim as O
from ._validate import as_float_array, callable_arg, class_labels, describe, positive_number
from .data import make_rng
from .gradcheck import compare
from .train import TrainingHistory, accuracy, minibatches

__all__ = ["pick_device", "TorchMLP", "to_torch", "copy_to_torch", "copy_from_torch",
           "numpy_trace", "torch_trace", "forward_backward_table", "TORCH_OPTIMIZERS", "step_matched", "param_diff",
           "fit_torch"]


def pick_device(prefer: str | None = None, verbose: bool = True) -> torch.device:
    """``torch.device("cuda")`` when a CUDA GPU is available (or ``prefer`` asks for one), else CPU.

    ``prefer``: ``None`` (automatic), ``"cpu"`` or ``"cuda"``. Prints the choice when
    ``verbose`` (the GPU's name included), so a notebook always says where it runs.
    """
    if not (prefer is None or (isinstance(prefer, str) and prefer in ("cpu", "cuda"))):
        raise ValueError(f"pick_device: prefer must be None, 'cpu' or 'cuda', got {prefer!r}")
    if prefer == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("pick_device: prefer='cuda' but torch.cuda.is_available() is False "
                           "(no GPU, or a CPU-only PyTorch build)")
    use_cuda = prefer == "cuda" or (prefer is None and torch.cuda.is_available())
    device = torch.device("cuda" if use_cuda else "cpu")
    if verbose:
        what = f"cuda ({torch.cuda.get_device_name(0)})" if use_cuda else "cpu (no CUDA GPU available)"
        print(f"Using device: {what}")
    return device


_ACT = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "leaky_relu": nn.LeakyReLU,
        "elu": nn.ELU, "linear": nn.Identity}


class TorchMLP(nn.Module):
    """``Linear -> activation -> ... -> Linear``, logits out (no softmax: the loss does it).

    ``sizes``: ``[d, h1, ..., C]``; ``activation``: as in ``nblib.layers.MLP``.
    Layers are ``self.fc1, self.fc2, ...``; ``forward(x, trace=None)`` fills the dict
    ``trace`` (when given) with ``z1, a1, z2, ...`` (pre- and post-activations, the last
    ``z`` being the logits), each with ``retain_grad()`` so its gradient can be read.
    """

    def __init__(self, sizes, activation: str = "relu"):
        super().__init__()
        if activation not in _ACT:
            raise ValueError(f"TorchMLP: activation must be one of {tuple(_ACT)}, got {activation!r}")
        sizes = L._sizes(sizes, "TorchMLP")
        self.sizes, self.activation = sizes, activation
        for i in range(1, len(sizes)):
            setattr(self, f"fc{i}", nn.Linear(sizes[i - 1], sizes[i]))
        self.act = _ACT[activation]()

    def forward(self, x, trace: dict | None = None):
        n_layers = len(self.sizes) - 1
        for i in range(1, n_layers + 1):
            x = getattr(self, f"fc{i}")(x)
            if trace is not None:
                x.retain_grad()
                trace[f"z{i}"] = x
            if i < n_layers:
                x = self.act(x)
                if trace is not None:
                    x.retain_grad()
                    trace[f"a{i}"] = x
        return x


def _check_net(net, where):
    if not (hasattr(net, "params") and hasattr(net, "sizes") and hasattr(net, "activation")):
        raise TypeError(f"{where}: net must be an nblib.layers.MLP, got {describe(net)}")


def _check_module(module, where):
    if not isinstance(module, TorchMLP):
        raise TypeError(f"{where}: module must be a TorchMLP (e.g. to_torch(net)), got {describe(module)}")


def _check_twins(net, module, where):
    _check_net(net, where)
    _check_module(module, where)
    if list(module.sizes) != list(net.sizes):
        raise ValueError(f"{where}: net has layer sizes {list(net.sizes)} but module has {list(module.sizes)}; "
                         f"use a network with its own twin (to_torch(net))")


def copy_to_torch(net, module: TorchMLP) -> TorchMLP:
    """Copy ``net.params`` (W_i: (d, h), b_i: (h,)) into ``module`` (weight = W.T, bias = b)."""
    _check_twins(net, module, "copy_to_torch")
    with torch.no_grad():
        for i in range(1, len(net.sizes)):
            fc = getattr(module, f"fc{i}")
            fc.weight.copy_(torch.as_tensor(net.params[f"W{i}"].T))
            fc.bias.copy_(torch.as_tensor(net.params[f"b{i}"]))
    return module


def copy_from_torch(module: TorchMLP, net):
    """Copy ``module``'s weights back into ``net.params`` (in place, as float64)."""
    _check_twins(net, module, "copy_from_torch")
    for i in range(1, len(net.sizes)):
        fc = getattr(module, f"fc{i}")
        net.params[f"W{i}"][...] = fc.weight.detach().cpu().double().numpy().T
        net.params[f"b{i}"][...] = fc.bias.detach().cpu().double().numpy()
    return net


def to_torch(net, device=None, dtype=torch.float64) -> TorchMLP:
    """A ``TorchMLP`` with ``net``'s architecture and exactly its weights (float64 by default)."""
    _check_net(net, "to_torch")
    module = TorchMLP(net.sizes, net.activation).to(dtype=dtype)
    copy_to_torch(net, module)
    return module.to(device) if device is not None else module


def numpy_trace(net, X, y) -> dict:
    """Forward and backward through ``net`` with the layer functions of ``nblib.layers``,
    keeping every intermediate (``net.loss_and_grads`` keeps only the parameter gradients;
    the tests check that both give the same numbers, bit for bit).

    X : (n, d) inputs; y : (n,) integer class ids. Returns a dict with the activations
    ``z1, a1, ..., zL`` (zL = logits), ``loss`` (mean softmax cross-entropy), the gradient of
    the loss w.r.t. each activation (``dz1, da1, ...``) and w.r.t. each parameter
    (``dW1, db1, ...``, in numpy layout: dW_i (d_{i-1}, d_i)).
    """
    _check_net(net, "numpy_trace")
    X = as_float_array(X, "X", "numpy_trace", ndim=2)
    y = class_labels(y, X.shape[0], net.sizes[-1], "numpy_trace", name="y", batch_name="X")
    act_f, act_b = L.ACTIVATIONS[net.activation]
    n_layers = len(net.sizes) - 1
    out, caches, h = {}, [], X
    for i in range(1, n_layers + 1):
        h, ac = L.affine_forward(h, net.params[f"W{i}"], net.params[f"b{i}"])
        out[f"z{i}"], cc = h, None
        if i < n_layers:
            h, cc = act_f(h)
            out[f"a{i}"] = h
        caches.append((ac, cc))
    out["loss"], dh = L.softmax_cross_entropy(h, y)
    for i in range(n_layers, 0, -1):
        ac, cc = caches[i - 1]
        if i < n_layers:
            out[f"da{i}"] = dh
            dh = act_b(dh, cc)
        out[f"dz{i}"] = dh
        dh, out[f"dW{i}"], out[f"db{i}"] = L.affine_backward(dh, ac)
    return out


def torch_trace(module: TorchMLP, X, y, device=None) -> dict:
    """The same quantities as ``numpy_trace``, from PyTorch autograd (float64 numpy arrays).

    Gradients come from one ``F.cross_entropy(...).backward()``; weight gradients are
    transposed back to numpy layout (``dW = weight.grad.T``).
    """
    _check_module(module, "torch_trace")
    device = device or next(module.parameters()).device
    dtype = next(module.parameters()).dtype
    X = as_float_array(X, "X", "torch_trace", ndim=2)
    y = class_labels(y, X.shape[0], module.sizes[-1], "torch_trace", name="y", batch_name="X")
    Xt = torch.as_tensor(X, dtype=dtype, device=device)
    yt = torch.as_tensor(y, dtype=torch.long, device=device)
    module.zero_grad(set_to_none=True)
    trace = {}
    logits = module(Xt, trace=trace)
    loss = nn.functional.cross_entropy(logits, yt)
    loss.backward()
    out = {}
    for k, t in trace.items():
        out[k] = t.detach().cpu().double().numpy()
    out["loss"] = float(loss.detach().cpu())
    for k, t in trace.items():
        out["d" + k] = t.grad.detach().cpu().double().numpy()
    for i in range(1, len(module.sizes)):
        fc = getattr(module, f"fc{i}")
        out[f"dW{i}"] = fc.weight.grad.detach().cpu().double().numpy().T
        out[f"db{i}"] = fc.bias.grad.detach().cpu().double().numpy()
    return out


def forward_backward_table(net, X, y, device=None, atol: float = 1e-12, rtol: float = 0.0):
    """Compare every forward activation, the loss and every gradient: numpy vs PyTorch, float64.

    Builds the torch twin with ``to_torch`` (on ``device``), runs ``numpy_trace`` and
    ``torch_trace`` and returns a ``nblib.gradcheck.Comparison`` with one row
    per tensor, in forward-then-backward order; "close" means ``|a - b| <= atol`` (1e-12).
    """
    ours = numpy_trace(net, X, y)
    theirs = torch_trace(to_torch(net, device=device), X, y)
    order = [k for k in ours if not k.startswith("d") and k != "loss"] + ["loss"]
    order += [k for k in ours if k.startswith("d")]
    return compare({k: (ours[k], theirs[k]) for k in order}, atol=atol, rtol=rtol)


#: name -> (nblib.optim optimizer factory, torch.optim optimizer factory): the same update in
#: both libraries, with the same hyper-parameters (for ``step_matched``; not to be confused with
#: ``nblib.optim.OPTIMIZERS``, which maps display names to nblib.optim classes)
TORCH_OPTIMIZERS = {
    "sgd": (lambda lr, **kw: O.SGD(lr, **kw), lambda ps, lr, **kw: torch.optim.SGD(ps, lr=lr, **kw)),
    "momentum": (lambda lr, beta=0.9, **kw: O.Momentum(lr, beta=beta, **kw),
                 lambda ps, lr, beta=0.9, **kw: torch.optim.SGD(ps, lr=lr, momentum=beta, **kw)),
    "rmsprop": (lambda lr, alpha=0.99, eps=1e-8, **kw: O.RMSProp(lr, alpha=alpha, eps=eps, **kw),
                lambda ps, lr, alpha=0.99, eps=1e-8, **kw: torch.optim.RMSprop(ps, lr=lr, alpha=alpha, eps=eps, **kw)),
    "adam": (lambda lr, betas=(0.9, 0.999), eps=1e-8, **kw: O.Adam(lr, betas=betas, eps=eps, **kw),
             lambda ps, lr, betas=(0.9, 0.999), eps=1e-8, **kw: torch.optim.Adam(ps, lr=lr, betas=betas, eps=eps, **kw)),
    "adamw": (lambda lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, **kw:
              O.AdamW(lr, betas=betas, eps=eps, weight_decay=weight_decay, **kw),
              lambda ps, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, **kw:
              torch.optim.AdamW(ps, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, **kw)),
}


def step_matched(net, X, y, optimizer: str = "sgd", lr: float = 0.1, steps: int = 100, batch_size: int = 32,
                 seed=0, device=None, **hyper) -> dict:
    """Train ``net`` (numpy) and its float64 torch twin side by side, step for step.

    Both start from ``net``'s current weights, see the same mini-batches (drawn with
    ``nblib.train.minibatches`` from ``seed``) and use ``optimizer`` (a key of
    ``TORCH_OPTIMIZERS``: ``"sgd"``, ``"momentum"``, ``"rmsprop"``, ``"adam"``, ``"adamw"``) with the same
    ``lr`` and ``hyper`` (e.g. ``beta=0.9``, ``betas=(0.9, 0.999)``, ``weight_decay``).
    ``net`` itself is not changed (a copy is trained).

    Returns a dict of float arrays of length ``steps``: ``loss_numpy``, ``loss_torch``
    (mini-batch loss before each update) and ``param_diff`` (largest ``|numpy - torch|``
    over all parameters after each update); plus the trained ``net`` copy and ``module``.
    """
    where = "step_matched"
    if optimizer not in TORCH_OPTIMIZERS:
        raise ValueError(f"{where}: optimizer must be one of {tuple(TORCH_OPTIMIZERS)}, got {optimizer!r}")
    _check_net(net, where)
    lr = positive_number(lr, "lr", where)
    steps = positive_number(steps, "steps", where, integer=True)
    batch_size = positive_number(batch_size, "batch_size", where, integer=True)
    X = as_float_array(X, "X", where, ndim=2)
    y = class_labels(y, X.shape[0], net.sizes[-1], where, batch_name="X")
    ours = copy.deepcopy(net)
    module = to_torch(ours, device=device)
    make_np, make_torch = TORCH_OPTIMIZERS[optimizer]
    opt_np, opt_t = make_np(lr, **hyper), make_torch(module.parameters(), lr, **hyper)
    dev = next(module.parameters()).device
    Xt = torch.as_tensor(X, device=dev)
    yt = torch.as_tensor(y, device=dev)
    rng = make_rng(seed)
    batches = []
    loss_np, loss_t, diff = np.zeros(steps), np.zeros(steps), np.zeros(steps)
    for s in range(steps):
        if not batches:
            batches = minibatches(X.shape[0], batch_size, rng)
        idx = batches.pop(0)
        loss_np[s], grads = ours.loss_and_grads(X[idx], y[idx])
        opt_np.step(ours.params, grads)
        it = torch.as_tensor(idx, device=dev)
        opt_t.zero_grad()
        loss = nn.functional.cross_entropy(module(Xt[it]), yt[it])
        loss.backward()
        opt_t.step()
        loss_t[s] = float(loss.detach().cpu())
        diff[s] = param_diff(ours, module)
    return {"loss_numpy": loss_np, "loss_torch": loss_t, "param_diff": diff, "net": ours, "module": module}


def param_diff(net, module) -> float:
    """Largest |numpy - torch| over all parameters of ``net`` and its twin ``module`` (numpy layout)."""
    _check_twins(net, module, "param_diff")
    worst = 0.0
    for i in range(1, len(net.sizes)):
        fc = getattr(module, f"fc{i}")
        worst = max(worst,
                    float(np.max(np.abs(net.params[f"W{i}"] - fc.weight.detach().cpu().double().numpy().T))),
                    float(np.max(np.abs(net.params[f"b{i}"] - fc.bias.detach().cpu().double().numpy()))))
    return worst


def fit_torch(module: nn.Module, opt, X_train, y_train, X_val, y_val, *, epochs: int = 30, batch_size: int = 64,
              seed=0, schedule=None, patience=None, progress: bool = True, device=None,
              name: str = "PyTorch MLP") -> TrainingHistory:
    """``nblib.train.fit`` for an ``nn.Module`` and a ``torch.optim`` optimizer.

    The same mini-batches (same ``seed``), schedule (``schedule(epoch)`` sets every param
    group's ``lr``), evaluation, early stopping (best ``state_dict`` restored) and
    ``nblib.train.TrainingHistory``. ``X_train`` (n, d) and ``X_val`` (m, d) are arrays (numpy,
    lists or tensors); ``y_train`` (n,), ``y_val`` (m,) integer class ids below the module's
    number of outputs. Inputs are converted once to the
    module's dtype on ``device`` (default: the module's). Each step is the classic five
    lines: ``zero_grad``, forward, loss, ``backward``, ``step``; evaluation runs under
    ``torch.no_grad()`` in ``eval()`` mode.
    """
    where = "fit_torch"
    if not isinstance(module, nn.Module):
        raise TypeError(f"{where}: module must be a torch.nn.Module, got {describe(module)}")
    if not isinstance(opt, torch.optim.Optimizer):
        raise TypeError(f"{where}: opt must be a torch.optim optimizer, got {describe(opt)}")
    epochs = positive_number(epochs, "epochs", where, integer=True)
    batch_size = positive_number(batch_size, "batch_size", where, integer=True)
    if schedule is not None:
        callable_arg(schedule, "schedule", where)
    if patience is not None:
        patience = positive_number(patience, "patience", where, integer=True)
    p0 = next(module.parameters(), None)
    if p0 is None:
        raise ValueError(f"{where}: module has no parameters, so there is nothing to train")
    device = device or p0.device
    module.to(device)
    X_train = as_float_array(X_train, "X_train", where, ndim=2)
    X_val = as_float_array(X_val, "X_val", where, ndim=2)
    if X_val.shape[1] != X_train.shape[1]:
        raise ValueError(f"{where}: X_val has {X_val.shape[1]} features per sample but X_train has "
                         f"{X_train.shape[1]}; pass the same features, shape (m, {X_train.shape[1]})")
    Xtr = torch.as_tensor(X_train, dtype=p0.dtype, device=device)
    Xva = torch.as_tensor(X_val, dtype=p0.dtype, device=device)
    with torch.no_grad():
        n_classes = int(module(Xtr[:1]).shape[-1])
    ytr = torch.as_tensor(class_labels(y_train, Xtr.shape[0], n_classes, where, name="y_train",
                                       batch_name="X_train"), device=device)
    yva = torch.as_tensor(class_labels(y_val, Xva.shape[0], n_classes, where, name="y_val",
                                       batch_name="X_val"), device=device)
    loss_fn = nn.functional.cross_entropy
    rng = make_rng(seed)
    hist = TrainingHistory(name)
    best, best_loss, waited = None, np.inf, 0
    bar = None
    if progress:
        from .train import _progress
        bar = _progress(epochs, name)
    for epoch in range(epochs):
        if schedule is not None:
            for group in opt.param_groups:
                group["lr"] = float(schedule(epoch))
        batches = minibatches(Xtr.shape[0], batch_size, rng)
        module.train()
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for idx in batches:
            it = torch.as_tensor(idx, device=device)
            opt.zero_grad()
            loss = loss_fn(module(Xtr[it]), ytr[it])
            loss.backward()
            opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        hist.epoch_time.append(time.perf_counter() - start)
        hist.lr.append(float(opt.param_groups[0]["lr"]))
        module.eval()
        with torch.no_grad():
            for split, X, y in (("train", Xtr, ytr), ("val", Xva, yva)):
                logits = module(X)
                getattr(hist, f"{split}_loss").append(float(loss_fn(logits, y)))
                getattr(hist, f"{split}_acc").append(accuracy(logits.argmax(1).cpu().numpy(), y.cpu().numpy()))
        if hist.val_loss[-1] < best_loss:
            best_loss, waited, hist.best_epoch = hist.val_loss[-1], 0, epoch
            best = copy.deepcopy(module.state_dict())
        else:
            waited += 1
        if bar is not None:
            bar.update(1)
            bar.set_postfix_str(f"val acc {hist.val_acc[-1]:.3f}", refresh=False)
        if patience is not None and waited >= patience:
            hist.stopped_early = True
            break
    if bar is not None:
        bar.close()
    if best is None:  # the validation loss was never finite (a diverged run): keep the last parameters
        hist.best_epoch = hist.epochs - 1
    else:
        module.load_state_dict(best)
    module.eval()
    return hist
