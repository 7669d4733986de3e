"""A numpy training loop with the habits of real training (notebook 09).

:func:`fit` trains an :class:`nblib.layers.MLP` with any :mod:`nblib.optim` optimizer:

* mini-batches from :func:`minibatches` (a fresh shuffle per epoch, from ``seed``; the
  PyTorch loop in :mod:`nblib.torchbridge` uses the very same batches);
* a learning-rate schedule (``schedule(epoch) -> lr``, e.g. :class:`nblib.optim.StepDecay`),
  set at the start of each epoch;
* after each epoch, loss and accuracy on the whole training and validation sets;
* early stopping: stop when the validation loss has not improved for ``patience``
  epochs, and put back the parameters of the best epoch;
* a progress bar (``tqdm.auto``: a widget in Jupyter, text in a terminal);
* a :class:`History` of everything, including the time each epoch's updates took;
* a divergence report: when the loss or the parameters blow up (inf/NaN, or a batch loss
  over ``BLOWUP`` times the starting loss) training stops and ``History.diverged``,
  ``.step`` and ``.cause`` say where and with which learning rate, without a flood of
  RuntimeWarnings.

Weight decay is the optimizer's (``Adam(..., weight_decay=1e-4)``), as in ``torch.optim``.
"""

from __future__ import annotations

import time

import numpy as np

from ._validate import as_float_array, callable_arg, class_labels, describe, positive_number
from .data import make_rng

#: training stops as diverged once a batch loss exceeds BLOWUP times the starting loss
BLOWUP = 1e6

__all__ = ["minibatches", "History", "fit", "accuracy", "confusion_matrix", "plot_history"]


def minibatches(n: int, batch_size: int, rng) -> list:
    """Index arrays for one epoch: a random permutation of ``0..n-1`` cut into batches.

    ``rng``: a ``numpy.random.Generator`` (or an int seed). The last batch is smaller when
    ``batch_size`` does not divide ``n``. Returns a list of int arrays.
    """
    n = positive_number(n, "n", "minibatches", integer=True)
    batch_size = positive_number(batch_size, "batch_size", "minibatches", integer=True)
    order = make_rng(rng).permutation(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def accuracy(pred, y) -> float:
    """Fraction of ``pred`` (n,) equal to ``y`` (n,)."""
    pred, y = np.asarray(pred), np.asarray(y)
    if pred.shape != y.shape:
        raise ValueError(f"accuracy: pred has shape {pred.shape} but y has shape {y.shape}")
    return float(np.mean(pred == y))


def confusion_matrix(y_true, y_pred, num_classes: int) -> np.ndarray:
    """Counts ``M[i, j]`` = number of samples of true class i predicted as class j; shape (C, C)."""
    y_true = class_labels(y_true, None, num_classes, "confusion_matrix", name="y_true")
    y_pred = class_labels(y_pred, len(y_true), num_classes, "confusion_matrix", name="y_pred",
                          batch_name="y_true")
    M = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(M, (y_true, y_pred), 1)
    return M


class History:
    """What happened during :func:`fit`: one entry per epoch in each list.

    Lists: ``train_loss``, ``val_loss``, ``train_acc``, ``val_acc`` (measured on the whole
    split after the epoch), ``lr`` (used during the epoch), ``epoch_time`` (seconds spent
    on the epoch's updates, evaluation excluded). ``best_epoch`` (0-based) is the epoch
    whose parameters were kept; ``stopped_early`` says whether patience ran out.
    ``diverged`` is True when the loss blew up and training stopped there; then ``step``
    is the update (1-based, counted over all epochs) at which it happened and ``cause`` says
    what blew up and with which ``lr``.
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
        self.cause = ""        # what blew up, where, with which learning rate

    @property
    def epochs(self) -> int:
        return len(self.val_loss)

    def __repr__(self):
        if not self.epochs:
            if self.diverged:
                return f"History({self.name!r}: no epoch finished; {self.cause})"
            return f"History({self.name!r}: no epochs yet)"
        b = self.best_epoch if self.best_epoch is not None else self.epochs - 1
        return (f"History({self.name!r}: {self.epochs} epochs{' (stopped early)' if self.stopped_early else ''}"
                f"{' (diverged at step ' + str(self.step) + ')' if self.diverged else ''}, "
                f"best epoch {b + 1}: val loss {self.val_loss[b]:.4f}, val acc {self.val_acc[b]:.1%})")


def fit(net, opt, X_train, y_train, X_val, y_val, *, epochs: int = 30, batch_size: int = 64, seed=0,
        schedule=None, patience=None, progress: bool = True, name: str = "numpy MLP") -> History:
    """Train ``net`` (an :class:`nblib.layers.MLP`) with ``opt`` (an :mod:`nblib.optim` optimizer).

    Parameters
    ----------
    X_train : (n, d); y_train : (n,) int; X_val : (m, d); y_val : (m,) int.
    epochs : the most epochs to run.
    batch_size : mini-batch size; the batches come from :func:`minibatches` with a
        generator made from ``seed`` (same seed, same batches, in any framework).
    schedule : optional callable ``epoch -> lr`` (epoch 0, 1, ...); sets ``opt.lr``.
    patience : stop after this many epochs without a lower validation loss (None: never);
        in every case the parameters of the best validation epoch are restored at the end.
    progress : show a ``tqdm.auto`` progress bar with the latest validation accuracy.

    Returns a :class:`History`. ``net.params`` is changed in place.

    Divergence: if a batch loss is inf/NaN or exceeds ``BLOWUP`` times the loss before
    training, if an update makes a parameter inf/NaN, or if the network's outputs overflow
    (the ``ValueError`` that :mod:`nblib.layers` raises on non-finite values), training
    stops; ``hist.diverged`` is True, ``hist.step`` and ``hist.cause`` say where and with
    which lr, and ``net.params`` are those of the best epoch so far (the initial ones if the
    first epoch did not finish).
    """
    where = "fit"
    for attr in ("params", "loss_and_grads", "predict"):
        if not hasattr(net, attr):
            raise TypeError(f"{where}: net must be an nblib MLP (with params, loss_and_grads, predict), "
                            f"got {describe(net)}")
    if not hasattr(opt, "step"):
        raise TypeError(f"{where}: opt must be an nblib.optim optimizer, got {describe(opt)}")
    X_train = as_float_array(X_train, "X_train", where, ndim=2)
    X_val = as_float_array(X_val, "X_val", where, ndim=2)
    num_classes = net.sizes[-1] if hasattr(net, "sizes") else int(np.max(y_train)) + 1
    y_train = class_labels(y_train, X_train.shape[0], num_classes, where, name="y_train", batch_name="X_train")
    y_val = class_labels(y_val, X_val.shape[0], num_classes, where, name="y_val", batch_name="X_val")
    epochs = positive_number(epochs, "epochs", where, integer=True)
    if schedule is not None:
        callable_arg(schedule, "schedule", where)
    if patience is not None:
        patience = positive_number(patience, "patience", where, integer=True)
    rng = make_rng(seed)
    hist = History(name)
    best, best_loss, waited = None, np.inf, 0
    initial = {k: v.copy() for k, v in net.params.items()}
    with np.errstate(all="ignore"):
        try:
            start_loss = float(net.loss_and_grads(X_train, y_train)[0])
        except ValueError as exc:
            if not _non_finite(exc):
                raise
            start_loss = np.inf
    limit = BLOWUP * max(start_loss if np.isfinite(start_loss) else 1.0, 1.0)
    step = 0

    def diverge(what, epoch):
        hist.diverged, hist.step = True, step
        hist.cause = f"diverged: {what} at step {step} (epoch {epoch + 1}) with lr={float(opt.lr):.4g}"

    bar = _progress(epochs, name) if progress else None
    for epoch in range(epochs):
        if schedule is not None:
            opt.lr = float(schedule(epoch))
        batches = minibatches(X_train.shape[0], batch_size, rng)
        start = time.perf_counter()
        with np.errstate(all="ignore"):
            for idx in batches:
                step += 1
                try:
                    loss, grads = net.loss_and_grads(X_train[idx], y_train[idx])
                except ValueError as exc:
                    if not _non_finite(exc):
                        raise
                    diverge("the network's outputs became inf/NaN", epoch)
                    break
                if not np.isfinite(loss) or loss > limit:
                    diverge(f"the training loss {'became inf/NaN' if not np.isfinite(loss) else 'exploded'} "
                            f"({float(loss):.3g}, from {start_loss:.3g} at the start)", epoch)
                    break
                opt.step(net.params, grads)
                if not all(np.all(np.isfinite(v)) for v in net.params.values()):
                    diverge("the parameters became inf/NaN", epoch)
                    break
            if not hist.diverged:
                measured = {}
                try:
                    for split, X, y in (("train", X_train, y_train), ("val", X_val, y_val)):
                        loss, _ = net.loss_and_grads(X, y)
                        measured[split] = (float(loss), accuracy(net.predict(X), y))
                except ValueError as exc:
                    if not _non_finite(exc):
                        raise
                    diverge(f"the network's outputs on the {split} set became inf/NaN", epoch)
        if hist.diverged:
            break
        hist.epoch_time.append(time.perf_counter() - start)
        hist.lr.append(float(opt.lr))
        for split, (loss, acc) in measured.items():
            getattr(hist, f"{split}_loss").append(loss)
            getattr(hist, f"{split}_acc").append(acc)
        if hist.val_loss[-1] < best_loss:
            best_loss, waited, hist.best_epoch = hist.val_loss[-1], 0, epoch
            best = {k: v.copy() for k, v in net.params.items()}
        else:
            waited += 1
        if bar is not None:
            bar.update(1)
            bar.set_postfix_str(f"val acc {hist.val_acc[-1]:.3f}", refresh=False)
        if patience is not None and waited >= patience:
            hist.stopped_early = True
            break
    if bar is not None:
        if hist.diverged:
            bar.set_postfix_str(f"diverged at step {hist.step}", refresh=False)
        bar.close()
    if best is None:  # no finished epoch had a finite validation loss (a diverged run)
        if hist.diverged:
            for k, v in initial.items():
                net.params[k][...] = v
        hist.best_epoch = hist.epochs - 1 if hist.epochs else None
    else:
        for k, v in best.items():
            net.params[k][...] = v
    return hist


def _non_finite(exc: ValueError) -> bool:
    """Whether ``exc`` is nblib's "contains NaN or infinite value(s)" error (a diverging run)."""
    return "NaN or infinite" in str(exc)


def _progress(total, desc):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="epoch", leave=True)


def plot_history(axes, histories, colors=None, linewidths=None):
    """Learning curves: loss on ``axes[0]``, accuracy on ``axes[1]``, for each :class:`History`.

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
    if isinstance(histories, History):
        histories = [histories]
    bad = ([describe(h) for h in histories if not isinstance(h, History)] if isinstance(histories, (list, tuple))
           else [describe(histories)])
    if bad:
        raise TypeError(f"plot_history: histories must be a list of History (what fit returns), got {bad[0]}")
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
