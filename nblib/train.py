"""A numpy training loop with the habits of real training (notebooks 08 and 09).

The course's one training loop is ``train_early_stopping`` (notebook 08's exercise):
train an epoch, measure the validation loss, remember the best epoch's parameters, stop
when ``patience`` epochs in a row brought no improvement, and put the best parameters
back. ``fit`` wraps it for an ``nblib.layers.MLP`` (or
``nblib.regularize.DropoutMLP``) and any ``nblib.optim`` optimizer:

* mini-batches from ``minibatches`` (a fresh shuffle per epoch, from ``seed``; the
  PyTorch loop in ``nblib.torchbridge`` uses the very same batches);
* a learning-rate schedule (``schedule(epoch) -> lr``, e.g. ``nblib.optim.StepDecay``),
  set at the start of each epoch;
* an optional L2 penalty on the weights (``weight_decay=lam``: ``(lam/2) sum ||W||^2`` added
  to the loss, ``lam W`` to the weights' gradients, biases not decayed;
  ``nblib.regularize.l2_penalty``, or your own through ``penalty=``);
* after each epoch, loss and accuracy on the whole training and validation sets, measured
  in evaluation mode (``net.eval()``, when the network has modes: dropout off);
* early stopping through ``loop=`` (default ``train_early_stopping``; pass your own);
* a progress bar (``tqdm.auto``: a widget in Jupyter, text in a terminal);
* a ``TrainingHistory`` of everything, including the time each epoch's updates took;
* a divergence report, with the course's one rule (``nblib.gd.divergence``): when the
  loss or the parameters blow up training stops and ``TrainingHistory.diverged``, ``.step``
  and ``.cause`` say where and with which learning rate, without a flood of RuntimeWarnings.

The optimizer's own ``weight_decay`` (``Adam(..., weight_decay=1e-4)``: L2 added to the
gradient of *every* parameter, as ``torch.optim``) and ``AdamW``'s decoupled decay also work.
"""

from __future__ import annotations

import time

import numpy as np

from ._validate import (NonFiniteError, as_float_array, callable_arg, class_labels, describe,
                        positive_number)
from .data import make_rng
from .gd import divergence

__all__ = ["minibatches", "kfold_indices", "TrainingHistory", "train_early_stopping", "fit", "accuracy",
           "confusion_matrix", "plot_history"]


def minibatches(n: int, batch_size: int, rng) -> list:
    """Index arrays for one epoch: a random permutation of ``0..n-1`` cut into batches.

    ``rng``: a ``numpy.random.Generator`` (or an int seed). The last batch is smaller when
    ``batch_size`` does not divide ``n``. Returns a list of int arrays.
    """
    n = positive_number(n, "n", "minibatches", integer=True)
    batch_size = positive_number(batch_size, "batch_size", "minibatches", integer=True)
    order = make_rng(rng).permutation(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def kfold_indices(n: int, k: int, seed=0) -> list:
    """k-fold cross-validation: ``k`` pairs ``(train_idx, val_idx)`` of int arrays.

    The ``n`` samples are shuffled once (``seed``) and cut into ``k`` folds of sizes
    differing by at most one; fold ``i`` is the validation set of pair ``i`` and the other
    folds its training set. Every sample is validated on exactly once.
    """
    n = positive_number(n, "n", "kfold_indices", integer=True)
    k = positive_number(k, "k", "kfold_indices", integer=True)
    if not 2 <= k <= n:
        raise ValueError(f"kfold_indices: k must satisfy 2 <= k <= n = {n}, got {k}")
    folds = np.array_split(make_rng(seed, "kfold_indices").permutation(n), k)
    return [(np.concatenate(folds[:i] + folds[i + 1:]), folds[i]) for i in range(k)]


def accuracy(pred, y) -> float:
    """Fraction of predicted class ids ``pred`` (n,) equal to the labels ``y`` (n,).

    ``pred`` must be class ids (``net.predict(X)``, ``probs.argmax(axis=1)``), not
    probabilities or logits: those are refused with a message saying how to convert them.
    """
    where = "accuracy"
    pred = pred.detach().cpu().numpy() if hasattr(pred, "detach") else np.asarray(pred)
    y = y.detach().cpu().numpy() if hasattr(y, "detach") else np.asarray(y)
    if pred.ndim == 2 and y.ndim == 1 and pred.shape[0] == y.shape[0]:
        raise ValueError(f"{where}: pred has shape {pred.shape} (one row of scores per sample) but y has shape "
                         f"{y.shape}; pass predicted class ids: pred.argmax(axis=1)")
    if pred.shape != y.shape:
        raise ValueError(f"{where}: pred has shape {pred.shape} but y has shape {y.shape}")
    for name, a in (("pred", pred), ("y", y)):
        if a.dtype.kind == "f" and a.size and not np.all(a == np.round(a)):
            raise ValueError(f"{where}: {name} holds non-integer values (e.g. {a[a != np.round(a)][0]:g}): pass "
                             f"class ids, e.g. probs.argmax(axis=1), or (p > 0.5).astype(int) for one probability "
                             f"per sample")
    return float(np.mean(pred == y))


def confusion_matrix(y_true, y_pred, num_classes: int) -> np.ndarray:
    """Counts ``M[i, j]`` = number of samples of true class i predicted as class j; shape (C, C)."""
    y_true = class_labels(y_true, None, num_classes, "confusion_matrix", name="y_true")
    y_pred = class_labels(y_pred, len(y_true), num_classes, "confusion_matrix", name="y_pred",
                          batch_name="y_true")
    M = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(M, (y_true, y_pred), 1)
    return M


class TrainingHistory:
    """What happened during ``fit``: one entry per epoch in each list.

    (Not ``nblib.gd.History``, which records the path of a gradient-descent run.)

    Lists: ``train_loss``, ``val_loss``, ``train_acc``, ``val_acc`` (measured on the whole
    split after the epoch, in evaluation mode; the losses are the data loss, without the
    penalty), ``lr`` (used during the epoch), ``epoch_time`` (seconds spent on the epoch's
    updates, evaluation excluded). ``best_epoch`` (0-based) is the epoch whose parameters
    were kept; ``stopped_early`` says whether patience ran out. ``diverged`` is True when
    the loss blew up and training stopped there; then ``step`` is the update (1-based,
    counted over all epochs) at which it happened, ``reason`` the cause that
    ``nblib.gd.divergence`` (or the failing check) gave, and ``cause`` a sentence that
    says what blew up and with which ``lr``.
    """

    keys = ("train_loss", "val_loss", "train_acc", "val_acc", "lr", "epoch_time")

    def __init__(self, name: str = "model"):
        self.name = name
        for k in self.keys:
            setattr(self, k, [])
        self.best_epoch = None
        self.stopped_early = False
        self.diverged = False  # True when the training loss blew up and training stopped there
        self.step = None       # the update (1-based, over all epochs) at which it blew up
        self.reason = None     # "non-finite", "blew up", "parameters non-finite", "outputs non-finite"
        self.cause = ""        # what blew up, where, with which learning rate

    @property
    def epochs(self) -> int:
        return len(self.val_loss)

    @property
    def gap(self) -> float:
        """Generalisation gap at the best epoch: validation loss minus training loss."""
        b = self.best_epoch if self.best_epoch is not None else self.epochs - 1
        return float(self.val_loss[b] - self.train_loss[b]) if self.epochs else float("nan")

    def __repr__(self):
        kind = type(self).__name__
        if not self.epochs:
            if self.diverged:
                return f"{kind}({self.name!r}: no epoch finished; {self.cause})"
            return f"{kind}({self.name!r}: no epochs yet)"
        b = self.best_epoch if self.best_epoch is not None else self.epochs - 1
        return (f"{kind}({self.name!r}: {self.epochs} epochs{' (stopped early)' if self.stopped_early else ''}"
                f"{' (diverged at step ' + str(self.step) + ')' if self.diverged else ''}, "
                f"best epoch {b + 1}: val loss {self.val_loss[b]:.4f}, val acc {self.val_acc[b]:.1%})")


def train_early_stopping(train_epoch, evaluate, params, max_epochs, patience):
    """The course's training loop with early stopping (the reference for notebook 08's exercise).

    Parameters
    ----------
    train_epoch : ``train_epoch(epoch)`` runs one epoch of updates (epoch = 0, 1, ...); it
        changes the arrays in ``params`` in place.
    evaluate : ``evaluate()`` returns the validation loss (a float) of the current parameters.
    params : dict name -> np.ndarray: the model's parameters (the very arrays it uses).
    max_epochs : the most epochs to run (int >= 1).
    patience : stop once this many epochs in a row brought no strictly lower validation
        loss than the best so far (int >= 1), or None: never stop early.

    Returns ``(best_epoch, val_losses)``: the 0-based epoch with the lowest validation loss
    (the first one on a tie) and the list of validation losses, one per epoch run. On return
    the arrays in ``params`` hold (in place) the values they had after ``best_epoch``.
    """
    best_epoch, best_loss, best_params, waited = None, np.inf, None, 0
    val_losses = []
    for epoch in range(max_epochs):
        train_epoch(epoch)
        loss = float(evaluate())
        val_losses.append(loss)
        if loss < best_loss:
            best_epoch, best_loss, waited = epoch, loss, 0
            best_params = {k: v.copy() for k, v in params.items()}
        else:
            waited += 1
            if patience is not None and waited >= patience:
                break
    if best_params is not None:
        for k, v in best_params.items():
            params[k][...] = v
    return best_epoch, val_losses


class _Diverged(Exception):
    """Raised inside fit's epoch function to end the loop of a diverging run."""


def _is_torch_optimizer(opt) -> bool:
    return hasattr(opt, "param_groups") or type(opt).__module__.startswith("torch")


def fit(net, opt, X_train, y_train, X_val, y_val, *, epochs: int = 30, batch_size: int = 64, seed=0,
        schedule=None, patience=None, weight_decay: float = 0.0, penalty=None, loop=None,
        progress: bool = True, name: str = "numpy MLP") -> TrainingHistory:
    """Train ``net`` (an ``nblib.layers.MLP``) with ``opt`` (an ``nblib.optim`` optimizer).

    Parameters
    ----------
    X_train : (n, d); y_train : (n,) int class ids (0/1 for ``head="bce"``); X_val : (m, d); y_val : (m,).
    epochs : the most epochs to run.
    batch_size : mini-batch size; the batches come from ``minibatches`` with a
        generator made from ``seed`` (same seed, same batches, in any framework).
    schedule : optional callable ``epoch -> lr`` (epoch 0, 1, ...); sets ``opt.lr``.
    patience : stop after this many epochs without a lower validation loss (None: never);
        in every case the parameters of the best validation epoch are restored at the end.
    weight_decay : λ of the L2 penalty ``penalty(net.params, lam) -> (value, grads)``
        added to each batch's loss and gradients (default ``nblib.regularize.l2_penalty``:
        weights only). 0 (the default): no penalty.
    penalty : your own penalty function with that signature (used only when ``weight_decay > 0``).
    loop : the training loop, with the signature of ``train_early_stopping`` (the
        default); pass your own from notebook 08's exercise.
    progress : show a ``tqdm.auto`` progress bar with the latest validation accuracy.

    Returns a ``TrainingHistory``. ``net.params`` is changed in place. A network with
    ``train()``/``eval()`` modes is trained in training mode, measured in evaluation mode,
    and left in evaluation mode.

    Divergence (``nblib.gd.divergence``): if a batch loss is inf/NaN or exceeds
    ``nblib.gd.BLOWUP`` times the loss before training, if an update makes a parameter
    inf/NaN, or if the network's outputs overflow (the ``nblib._validate.NonFiniteError``
    that ``nblib.layers`` raises), training stops; ``hist.diverged`` is True,
    ``hist.step``, ``hist.reason`` and ``hist.cause`` say where, why and with which lr, and
    ``net.params`` are those of the best epoch so far (the initial ones if the first epoch
    did not finish).
    """
    where = "fit"
    for attr in ("params", "loss_and_grads", "predict"):
        if not hasattr(net, attr):
            raise TypeError(f"{where}: net must be an nblib MLP (with params, loss_and_grads, predict), "
                            f"got {describe(net)}; for a torch.nn.Module use nblib.torchbridge.fit_torch")
    if _is_torch_optimizer(opt):
        raise TypeError(f"{where}: opt is a torch.optim optimizer ({type(opt).__name__}); fit trains numpy "
                        f"arrays and needs an nblib.optim optimizer, e.g. nblib.optim.Adam(lr=0.01) "
                        f"(a PyTorch model is trained with nblib.torchbridge.fit_torch)")
    if not hasattr(opt, "step") or not hasattr(opt, "lr"):
        raise TypeError(f"{where}: opt must be an nblib.optim optimizer, got {describe(opt)}")
    X_train = as_float_array(X_train, "X_train", where, ndim=2)
    X_val = as_float_array(X_val, "X_val", where, ndim=2)
    if getattr(net, "head", "softmax") == "bce":
        num_classes = 2  # one output unit, labels 0/1
    else:
        num_classes = net.sizes[-1] if hasattr(net, "sizes") else int(np.max(y_train)) + 1
    y_train = class_labels(y_train, X_train.shape[0], num_classes, where, name="y_train", batch_name="X_train")
    y_val = class_labels(y_val, X_val.shape[0], num_classes, where, name="y_val", batch_name="X_val")
    epochs = positive_number(epochs, "epochs", where, integer=True)
    if schedule is not None:
        callable_arg(schedule, "schedule", where)
    if patience is not None:
        patience = positive_number(patience, "patience", where, integer=True)
    weight_decay = positive_number(weight_decay, "weight_decay", where, allow_zero=True)
    if penalty is None:
        from .regularize import l2_penalty as penalty
    callable_arg(penalty, "penalty", where)
    loop = train_early_stopping if loop is None else callable_arg(loop, "loop", where)

    rng = make_rng(seed)
    hist = TrainingHistory(name)
    initial = {k: v.copy() for k, v in net.params.items()}
    fallback = {"epoch": None, "loss": np.inf, "params": None}   # fit's own record, for a diverged run
    mode = {m: getattr(net, m) for m in ("train", "eval") if callable(getattr(net, m, None))}
    if "eval" in mode:
        mode["eval"]()
    with np.errstate(all="ignore"):
        try:
            start_loss = float(net.loss_and_grads(X_train, y_train)[0])
        except NonFiniteError:
            start_loss = np.inf
    state = {"step": 0}

    def diverge(reason, what, epoch):
        hist.diverged, hist.step, hist.reason = True, state["step"], reason
        hist.cause = f"diverged: {what} at step {state['step']} (epoch {epoch + 1}) with lr={float(opt.lr):.4g}"
        raise _Diverged()

    def train_epoch(epoch):
        if hist.diverged:
            raise _Diverged()
        if schedule is not None:
            opt.lr = float(schedule(epoch))
        if "train" in mode:
            mode["train"]()
        batches = minibatches(X_train.shape[0], batch_size, rng)
        start = time.perf_counter()
        with np.errstate(all="ignore"):
            for idx in batches:
                state["step"] += 1
                try:
                    loss, grads = net.loss_and_grads(X_train[idx], y_train[idx])
                    if weight_decay:
                        value, extra = penalty(net.params, weight_decay)
                        loss = loss + value
                        grads = {k: g + extra[k] for k, g in grads.items()}
                except NonFiniteError:
                    diverge("outputs non-finite", "the network's outputs became inf/NaN", epoch)
                reason = divergence(loss, start_loss)
                if reason is not None:
                    diverge(reason, f"the training loss {'became inf/NaN' if reason == 'non-finite' else 'exploded'} "
                                    f"({float(loss):.3g}, from {start_loss:.3g} at the start)", epoch)
                opt.step(net.params, grads)
                if not all(np.all(np.isfinite(v)) for v in net.params.values()):
                    diverge("parameters non-finite", "the parameters became inf/NaN", epoch)
        hist.epoch_time.append(time.perf_counter() - start)
        hist.lr.append(float(opt.lr))

    def evaluate():
        if hist.diverged:
            raise _Diverged()
        if "eval" in mode:
            mode["eval"]()
        epoch = len(hist.val_loss)
        measured = {}
        with np.errstate(all="ignore"):
            for split, X, y in (("train", X_train, y_train), ("val", X_val, y_val)):
                try:
                    measured[split] = _measure(net, X, y)
                except NonFiniteError:
                    hist.epoch_time.pop(), hist.lr.pop()
                    diverge("outputs non-finite", f"the network's outputs on the {split} set became inf/NaN", epoch)
        for split, (loss, acc) in measured.items():
            getattr(hist, f"{split}_loss").append(loss)
            getattr(hist, f"{split}_acc").append(acc)
        if hist.val_loss[-1] < fallback["loss"]:
            fallback.update(epoch=epoch, loss=hist.val_loss[-1],
                            params={k: v.copy() for k, v in net.params.items()})
        if bar is not None:
            bar.update(1)
            bar.set_postfix_str(f"val acc {hist.val_acc[-1]:.3f}", refresh=False)
        return hist.val_loss[-1]

    bar = _progress(epochs, name) if progress else None
    try:
        out = loop(train_epoch, evaluate, net.params, epochs, patience)
        if not (isinstance(out, (tuple, list)) and len(out) == 2 and isinstance(out[0], (int, np.integer))
                and not isinstance(out[0], bool) and 0 <= out[0] < max(hist.epochs, 1)):
            raise TypeError(f"{where}: loop must return (best_epoch, val_losses) as train_early_stopping does, "
                            f"with best_epoch an epoch it ran (0..{hist.epochs - 1}), got {describe(out)}")
        hist.best_epoch = int(out[0])
        hist.stopped_early = hist.epochs < epochs
    except _Diverged:
        restore = fallback["params"] if fallback["params"] is not None else initial
        for k, v in restore.items():
            net.params[k][...] = v
        hist.best_epoch = fallback["epoch"]
    finally:
        if bar is not None:
            if hist.diverged:
                bar.set_postfix_str(f"diverged at step {hist.step}", refresh=False)
            bar.close()
        if "eval" in mode:
            mode["eval"]()
    return hist


def _measure(net, X, y):
    """(mean data loss, accuracy) of ``net`` on ``(X, y)`` from one forward pass (an nblib MLP's
    heads); any other network is measured with its own ``loss_and_grads`` and ``predict``."""
    from .layers import MLP, sigmoid_bce, softmax_cross_entropy

    if isinstance(net, MLP):
        logits = net.forward(X)
        if net.head == "bce":
            loss, _ = sigmoid_bce(logits[:, 0], y.astype(np.float64))
            pred = (logits[:, 0] > 0).astype(np.int64)
        else:
            loss, _ = softmax_cross_entropy(logits, y)
            pred = logits.argmax(axis=1)
        return float(loss), float(np.mean(pred == y))
    loss, _ = net.loss_and_grads(X, y)
    return float(loss), accuracy(net.predict(X), y)


def _progress(total, desc):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="epoch", leave=True)


def plot_history(axes, histories, colors=None, linewidths=None):
    """Learning curves: loss on ``axes[0]``, accuracy on ``axes[1]``, for each ``TrainingHistory``.

    Training curves dashed, validation solid; a dot marks each run's best epoch.
    ``colors``: one colour per history (defaults to the course palette); ``linewidths``:
    one width per history (e.g. a wide pale line under a thin one, when two runs coincide).
    """
    from .plots import PALETTE, check_ax

    if not hasattr(axes, "__len__") or len(axes) != 2:
        error = ValueError if hasattr(axes, "__len__") else TypeError
        raise error(f"plot_history: axes must be two axes (loss, accuracy), e.g. plt.subplots(1, 2)[1], "
                    f"got {describe(axes)}")
    for i, ax in enumerate(axes):
        check_ax(ax, "plot_history", f"axes[{i}]")
    if isinstance(histories, TrainingHistory):
        histories = [histories]
    bad = ([describe(h) for h in histories if not isinstance(h, TrainingHistory)]
           if isinstance(histories, (list, tuple)) else [describe(histories)])
    if bad:
        raise TypeError(f"plot_history: histories must be a list of History records (TrainingHistory, what fit "
                        f"returns), got {bad[0]}")
    colors = colors or PALETTE
    linewidths = linewidths or [2.0] * len(histories)
    for h, c, lw in zip(histories, colors, linewidths):
        ep = np.arange(1, h.epochs + 1)
        alpha = 0.55 if lw > 2.5 else 1.0
        for ax, key in zip(axes, ("loss", "acc")):
            ax.plot(ep, getattr(h, f"train_{key}"), ls="--", color=c, lw=lw, alpha=alpha, label=f"{h.name} (train)")
            ax.plot(ep, getattr(h, f"val_{key}"), color=c, lw=lw, alpha=alpha, label=f"{h.name} (validation)")
            if h.best_epoch is not None:
                ax.plot(h.best_epoch + 1, getattr(h, f"val_{key}")[h.best_epoch], "o", color=c, ms=7)
    axes[0].set(xlabel="epoch", ylabel="cross-entropy loss", yscale="log")
    axes[1].set(xlabel="epoch", ylabel="accuracy")
    return axes
