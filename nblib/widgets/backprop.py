"""Explorers for notebooks 04 and 05.

* ``training_playground`` (notebook 04): a small MLP trained by full-batch gradient
  descent on a 2-D data set, in the spirit of TensorFlow Playground. Controls: data set,
  hidden layers and units, activation, learning rate, initialisation, and the epoch to
  show. Each setting is trained **once** (``train_run``, cached); moving the epoch
  slider only swaps the decision-region image (``set_data``) and a marker on the loss curve.
* ``backward_stepper`` (notebook 05): step through ``root.backward()`` one node at a
  time on the drawing of a small expression's graph.

The compute is in plain functions (``train_run``, ``backward_snapshots``) that tests call
without a browser.
"""

from __future__ import annotations

import html
import math
from collections import OrderedDict
from collections.abc import Sequence

import ipywidgets as widgets
import numpy as np

from .. import data as D
from .._validate import positive_number
from ..graphs import draw_graph, graph_from_value
from ..layers import ACTIVATIONS, INITS, MLP
from ..plots import BLUE, GREEN, ORANGE, VERMILION
from ._base import Explorer, new_figure
from ._presets import PresetExplorer, check_preset

__all__ = ["DATASETS", "PLAYGROUND_PRESETS", "make_dataset", "train_run", "SnapshotImages", "region_rgb",
           "training_playground", "backward_snapshots", "backward_stepper"]

DATASETS = ("moons", "xor", "spirals")
MAX_EPOCHS = 1000
SNAPSHOT_EVERY = 20
GRID = 72
EXTENT = (-2.6, 2.6, -2.6, 2.6)  # the standardised data lie inside this box
CLASS_COLORS = np.array([[0x00, 0x72, 0xB2], [0xE6, 0x9F, 0x00], [0x00, 0x9E, 0x73]]) / 255.0

PLAYGROUND_PRESETS = {
    "moons, ReLU (default)": dict(dataset="moons", layers=1, hidden=16, activation="relu", lr=0.5,
                                  init="he", epoch=MAX_EPOCHS),
    "linear cannot bend": dict(dataset="moons", layers=1, hidden=16, activation="linear", lr=0.5,
                               init="xavier", epoch=MAX_EPOCHS),
    "too few units": dict(dataset="spirals", layers=1, hidden=3, activation="tanh", lr=1.0,
                          init="xavier", epoch=MAX_EPOCHS),
    "spirals need capacity": dict(dataset="spirals", layers=2, hidden=32, activation="relu", lr=0.5,
                                  init="he", epoch=MAX_EPOCHS),
    "zero init: a constant network": dict(dataset="xor", layers=1, hidden=16, activation="tanh", lr=0.5,
                                          init="zeros", epoch=MAX_EPOCHS),
    "constant init: symmetry": dict(dataset="moons", layers=1, hidden=16, activation="tanh", lr=0.5,
                                    init="constant", epoch=MAX_EPOCHS),
    "small init, sigmoid: plateau, then learns": dict(dataset="xor", layers=1, hidden=16, activation="sigmoid",
                                                      lr=0.5, init="normal", epoch=MAX_EPOCHS),
    "learning rate too high": dict(dataset="moons", layers=1, hidden=16, activation="relu", lr=50.0,
                                   init="he", epoch=MAX_EPOCHS),
}
#: what training_playground's preset= takes, for its error message
PRESET_WHAT = f"a name from PLAYGROUND_PRESETS ({', '.join(map(repr, PLAYGROUND_PRESETS))})"


def make_dataset(name: str, seed: int = 0):
    """``(X (n, 2), y (n,))`` for ``name`` in ``DATASETS``, standardised to mean 0, std 1 per feature."""
    if name == "moons":
        X, y = D.moons(n=200, noise=0.15, seed=seed)
    elif name == "xor":
        X, y = D.xor(n=200, noise=0.25, seed=seed)
    elif name == "spirals":
        X, y = D.spirals(n_per_class=70, n_classes=3, noise=0.15, seed=seed)
    else:
        raise ValueError(f"make_dataset: dataset must be one of {DATASETS}, got {name!r}")
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    return X, y


def _grid():
    xs = np.linspace(EXTENT[0], EXTENT[1], GRID)
    ys = np.linspace(EXTENT[2], EXTENT[3], GRID)
    gx, gy = np.meshgrid(xs, ys)
    return np.c_[gx.ravel(), gy.ravel()]


_GRID_POINTS = _grid()


def region_rgb(probs: np.ndarray) -> np.ndarray:
    """An ``(GRID, GRID, 3)`` image from class probabilities ``(GRID*GRID, C)``: each pixel the
    probability-weighted mix of the class colours, paled toward white where the net is unsure."""
    C = probs.shape[1]
    mix = probs @ CLASS_COLORS[:C]
    conf = (probs.max(axis=1, keepdims=True) - 1.0 / C) / (1.0 - 1.0 / C)  # 0 = unsure, 1 = sure
    rgb = 1.0 - (0.25 + 0.45 * conf) * (1.0 - mix)
    return rgb.reshape(GRID, GRID, 3)


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# The playground trains 1,000 full-batch steps per new setting while the learner waits, so
# its training loop is the same math as the lesson code of notebook 04 (layers.mlp_forward /
# mlp_backward, the loop the learner writes) written for speed: calling the lesson code
# would take several times the 50 ms a change may cost. A test checks that both take the
# same steps, step by step (tests/test_widgets_backprop.py). Small arrays make numpy's per-call overhead the cost, so the loop makes few
# calls: no validation; each layer's weights and bias in one matrix T = [W^T | b] of shape
# (d_out, d_in + 1), acting on feature-major activations (d + 1, n) whose last row is ones
# (so z^T = T @ h^T is one matmul, and every elementwise step runs on contiguous rows);
# every activation's derivative is computed from its output h (h > 0 exactly where z > 0).
def _act_into(activation, z, out):
    """``out[...] = f(z)`` for the playground's activations."""
    if activation == "relu":
        np.maximum(z, 0.0, out=out)
    elif activation == "tanh":
        np.tanh(z, out=out)
    elif activation == "sigmoid":
        np.multiply(z, 0.5, out=out)
        np.tanh(out, out=out)
        out += 1.0
        out *= 0.5
    elif activation == "leaky_relu":
        np.copyto(out, np.where(z > 0, z, 0.01 * z))
    elif activation == "elu":
        np.copyto(out, np.where(z > 0, z, np.expm1(np.minimum(z, 0.0))))
    else:  # linear
        np.copyto(out, z)


def _times_derivative(activation, d, h):
    """``d *= f'(z)`` in place, written with the activation's output ``h = f(z)``."""
    if activation == "relu":
        d *= h > 0
    elif activation == "tanh":
        d *= 1.0 - h * h
    elif activation == "sigmoid":
        d *= h * (1.0 - h)
    elif activation == "leaky_relu":
        d *= np.where(h > 0, 1.0, 0.01)
    elif activation == "elu":
        d *= np.where(h > 0, 1.0, h + 1.0)


def _layer_matrices(params, nl):
    """``[T_1, ..., T_L]``, ``T_i = [W_i^T | b_i]`` of shape ``(d_out, d_in + 1)`` (new arrays)."""
    return [np.hstack([params[f"W{i}"].T, params[f"b{i}"][:, None]]) for i in range(1, nl + 1)]


def _grid_image(T, activation) -> np.ndarray:
    """The ``(GRID, GRID, 3)`` uint8 decision-region image of the network with matrices ``T``."""
    h = _GRID_POINTS
    for i, t in enumerate(T):
        z = h @ t[:, :-1].T + t[:, -1]
        if i < len(T) - 1:
            h = np.empty_like(z)
            _act_into(activation, z, h)
    rgb = region_rgb(_softmax(z))
    return (rgb * 255).round().astype(np.uint8)   # uint8 draws faster than float


class SnapshotImages(Sequence):
    """The decision-region images of a ``train_run``, one per snapshot epoch, each a
    ``(GRID, GRID, 3)`` uint8 array. Only the parameters are stored during training; an image
    is computed (about 1 ms) the first time it is looked at, then kept."""

    def __init__(self, snapshots, activation):
        self._snapshots, self._activation = snapshots, activation
        self._images = {}

    def __len__(self):
        return len(self._snapshots)

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        k = range(len(self))[k]          # negative indices; IndexError when out of range
        if k not in self._images:
            self._images[k] = _grid_image(self._snapshots[k], self._activation)
        return self._images[k]


def _fast_train(T, activation, X, y, C, lr, epochs, snapshot_every):
    """Full-batch gradient descent on mean softmax cross-entropy, in place on the matrices
    ``T`` (see ``_layer_matrices``). Returns ``(losses, acc, snap_epochs, snapshots,
    diverged_at)``."""
    n, nl = X.shape[0], len(T)
    H = [np.vstack([X.T, np.ones((1, n))])]                      # (d + 1, n), last row ones
    for t in T[:-1]:
        H.append(np.ones((t.shape[0] + 1, n)))
    H_T = [h.T for h in H]                                        # views, for the weight gradients
    W_T = [t[:, :-1].T for t in T]                                # views: follow the in-place updates
    Y_n = np.zeros((C, n))
    Y_n[y, np.arange(n)] = 1.0 / n
    pick = y * n + np.arange(n)                                   # flat index of each true logit
    ones_C = np.ones((1, C))
    losses = np.full(epochs + 1, np.nan)
    acc = np.full(epochs + 1, np.nan)
    snap_epochs, snapshots, diverged_at = [], [], None
    with np.errstate(all="ignore"):
        for ep in range(epochs + 1):
            for i in range(nl - 1):
                _act_into(activation, T[i] @ H[i], H[i + 1][:-1])
            z = T[-1] @ H[-1]                                     # logits (C, n)
            m = z[0].copy()
            for c in range(1, C):
                np.maximum(m, z[c], out=m)
            z -= m
            e = np.exp(z)
            s = ones_C @ e                                        # (1, n) sum over the classes
            loss = (np.log(s).sum() - z.take(pick).sum()) / n
            if not math.isfinite(loss):
                diverged_at = ep
                break
            losses[ep] = loss
            if ep % snapshot_every == 0 or ep == epochs:
                snap_epochs.append(ep)
                snapshots.append([t.copy() for t in T])
                acc[ep] = float((z.argmax(axis=0) == y).mean())
            if ep == epochs:
                break
            s *= n
            e /= s
            d = e - Y_n                                           # d loss / d logits, (C, n)
            for i in range(nl - 1, -1, -1):
                g = d @ H_T[i]                                    # d loss / d T_i
                if i:
                    d = W_T[i] @ d
                    _times_derivative(activation, d, H[i][:-1])
                g *= lr
                T[i] -= g
    return losses, acc, snap_epochs, snapshots, diverged_at


def train_run(dataset="moons", layers=1, hidden=16, activation="relu", lr=0.5, init="he",
              epochs=MAX_EPOCHS, seed=0, snapshot_every=SNAPSHOT_EVERY) -> dict:
    """Train an ``nblib.layers.MLP`` by full-batch gradient descent; no widgets, no drawing.

    Returns a dict: ``losses`` (epochs + 1,) the loss before each step (NaN after a
    divergence); ``snap_epochs`` the epochs with a snapshot (every ``snapshot_every``, and
    the last); ``acc`` (epochs + 1,) the training accuracy at those epochs (NaN between);
    ``images`` a ``SnapshotImages`` sequence of ``(GRID, GRID, 3)`` uint8
    decision-region images at those epochs; ``diverged_at`` (epoch or None); ``X``, ``y``;
    ``net`` (the MLP in its final state).
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"train_run: activation must be one of {tuple(ACTIVATIONS)}, got {activation!r}")
    layers = positive_number(layers, "layers", "train_run", integer=True)
    hidden = positive_number(hidden, "hidden", "train_run", integer=True)
    lr = positive_number(lr, "lr", "train_run")
    epochs = positive_number(epochs, "epochs", "train_run", integer=True, allow_zero=True)
    snapshot_every = positive_number(snapshot_every, "snapshot_every", "train_run", integer=True)
    X, y = make_dataset(dataset, seed=seed)
    C = int(y.max()) + 1
    net = MLP([2] + [int(hidden)] * int(layers) + [C], activation=activation, init=init, seed=seed)
    T = _layer_matrices(net.params, net.num_layers)
    losses, acc, snap_epochs, snapshots, diverged_at = _fast_train(T, activation, X, y, C, lr, epochs,
                                                                    snapshot_every)
    for i, t in enumerate(T, start=1):
        net.params[f"W{i}"] = t[:, :-1].T.copy()
        net.params[f"b{i}"] = t[:, -1].copy()
    return dict(losses=losses, acc=acc, snap_epochs=snap_epochs, images=SnapshotImages(snapshots, activation),
                diverged_at=diverged_at, X=X, y=y, net=net)


def training_playground(preset=None, cache_size: int = 48) -> Explorer:
    """The training playground (notebook 04). ``preset``: a name from ``PLAYGROUND_PRESETS`` or a dict.

    Left: the decision regions at the chosen epoch over the data. Right: the training loss
    per epoch (log scale) with the chosen epoch marked. The status line gives loss and
    accuracy at that epoch, and says when training diverged.
    """
    check_preset("training_playground", preset, PRESET_WHAT)      # before the first training run
    style = {"description_width": "initial"}
    # sliders that retrain (1000 epochs: tens of milliseconds) report only where the drag ends
    # (continuous_update=False); the epoch slider only picks a stored snapshot and follows the drag
    controls = {
        "dataset": widgets.Dropdown(options=DATASETS, value="moons", description="data"),
        "layers": widgets.IntSlider(value=1, min=1, max=3, description="hidden layers", style=style,
                                      continuous_update=False),
        "hidden": widgets.IntSlider(value=16, min=1, max=32, description="units", style=style,
                                      continuous_update=False),
        "activation": widgets.Dropdown(options=tuple(ACTIVATIONS), value="relu", description="activation",
                                       style=style),
        "lr": widgets.FloatLogSlider(value=0.5, base=10, min=-3, max=2, step=0.1, description="learning rate",
                                     style=style, continuous_update=False),
        "init": widgets.Dropdown(options=INITS, value="he", description="init"),
        "epoch": widgets.IntSlider(value=MAX_EPOCHS, min=0, max=MAX_EPOCHS, step=SNAPSHOT_EVERY,
                                   description="epoch", style=style),
    }
    fig, axes = new_figure(10.0, 4.2, ncols=2)
    ax_r, ax_l = axes[0]
    image = ax_r.imshow(np.ones((GRID, GRID, 3)), origin="lower", extent=EXTENT, interpolation="bilinear",
                        aspect="auto")
    scatter = ax_r.scatter(np.zeros(1), np.zeros(1), s=14, edgecolors="white", linewidths=0.5)
    ax_r.set(xlim=EXTENT[:2], ylim=EXTENT[2:], xlabel="feature x1 (standardised)",
             ylabel="feature x2 (standardised)", title="Decision regions at the chosen epoch")
    ax_r.grid(False)
    loss_line, = ax_l.plot([], [], color=VERMILION, label="training loss")
    marker, = ax_l.plot([], [], "o", color=BLUE, ms=8, label="chosen epoch")
    vline = ax_l.axvline(0, color=BLUE, lw=1, alpha=0.6)
    ax_l.set(xlabel="epoch (full-batch gradient descent steps)", ylabel="cross-entropy loss",
             title="Training loss (log scale)", yscale="log", xlim=(0, MAX_EPOCHS), ylim=(1e-3, 30))
    ax_l.legend(loc="upper right")
    cache = OrderedDict()
    state = {"key": None}

    def setting(dataset, layers, hidden, activation, lr, init, epoch):
        return (dataset, int(layers), int(hidden), activation, round(float(lr), 6), init)

    def get_run(key):
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
        run = train_run(*key)
        cache[key] = run
        if len(cache) > cache_size:
            cache.popitem(last=False)
        return run

    def update(dataset, layers, hidden, activation, lr, init, epoch):
        key = setting(dataset, layers, hidden, activation, lr, init, epoch)
        run = get_run(key)
        if state["key"] != key:       # a new setting: the loss curve and the data points
            state["key"] = key
            ok = np.isfinite(run["losses"])
            ep = np.arange(len(run["losses"]))
            loss_line.set_data(ep[ok], np.clip(run["losses"][ok], 1e-3, 30))
            colors = CLASS_COLORS[run["y"]]
            scatter.set_offsets(run["X"])
            scatter.set_facecolors(colors)
        snaps = run["snap_epochs"]
        k = int(np.searchsorted(snaps, epoch, side="right")) - 1
        k = max(k, 0)
        shown = snaps[k]
        image.set_data(run["images"][k])
        marker.set_data([shown], [np.clip(run["losses"][shown], 1e-3, 30)])
        vline.set_xdata([shown, shown])
        loss, acc = run["losses"][shown], run["acc"][shown]
        msg = f"epoch {shown}: loss {loss:.4f}, training accuracy {100 * acc:.1f}%"
        if run["diverged_at"] is not None:
            msg += (f" — <b>diverged at epoch {run['diverged_at']}</b> (loss became inf/NaN): "
                    f"the learning rate is too high for this network; showing the last finite state")
        elif loss > 1.05 * run["losses"][0] and shown > 0:
            msg += (" — <b>the loss is higher than at the start</b>: the steps overshoot; "
                    "lower the learning rate")
        elif loss > 0.98 * run["losses"][0] and shown >= MAX_EPOCHS // 2:
            msg += " — the loss has hardly moved: look at the initialisation and the activation"
        return msg

    explorer = PresetExplorer("Training playground", controls, update, fig, presets=PLAYGROUND_PRESETS,
                              dynamic=[image, scatter, loss_line, marker, vline],
                              background_key=lambda **v: 0)   # axes never change: every redraw is a blit
    explorer.cache = cache
    return explorer.start(preset, PRESET_WHAT)     # trains once, with the preset


# ------------------------------------------------------------------ backward stepping
def backward_snapshots(root) -> list:
    """Run ``root.backward()`` one node at a time and record every intermediate state.

    Returns a list of stages. Stage 0 is the forward pass (no gradient known yet); stage
    ``s`` (1..N) is right after the ``s``-th node in reverse topological order has passed
    its gradient to its inputs. Each stage is a dict: ``grads`` ``{node id: grad or None}``
    (None = not reached yet), ``node`` (id just processed), ``done`` (ids whose grad is final),
    ``sent`` ``[(input id, amount added)]``. Leaves the Values with their final gradients.
    """
    nodes = graph_from_value(root)
    order = [n["value"] for n in nodes]
    ids = {id(n["value"]): n["id"] for n in nodes}
    for v in order:
        v.grad = 0.0
    stages = [dict(grads={n["id"]: None for n in nodes}, node=None, done=[], sent=[])]
    reached = {ids[id(root)]}
    root.grad = 1.0
    done = []
    for v in reversed(order):
        before = {id(c): c.grad for c in v._prev}
        v._backward()
        done.append(ids[id(v)])
        sent, seen = [], set()
        for c in v._prev:
            reached.add(ids[id(c)])
            if id(c) not in seen:          # the same input twice (a * a): report its total once
                seen.add(id(c))
                sent.append((ids[id(c)], c.grad - before[id(c)]))
        grads = {ids[id(u)]: (u.grad if ids[id(u)] in reached else None) for u in order}
        stages.append(dict(grads=grads, node=ids[id(v)], done=list(done), sent=sent))
    return stages


def backward_stepper(root, width: float = 10.0, height: float = 3.6) -> Explorer:
    """Step through the backward pass of ``root`` (a ``Value``) on a drawing of its graph.

    The slider picks the stage (0 = forward pass only, N = backward done). The node just
    processed is orange, nodes whose gradient is final are blue; the status line says what
    was passed to which input (``input.grad += node.grad × local derivative``).
    """
    stages = backward_snapshots(root)
    nodes = graph_from_value(root)
    labels = {n["id"]: (n["label"] or n["id"]) for n in nodes}
    ops = {n["id"]: n["op"] for n in nodes}
    fig, axes = new_figure(width, height)
    ax = axes[0][0]
    art = draw_graph(ax, nodes, show_grad=True)
    controls = {"stage": widgets.IntSlider(value=0, min=0, max=len(stages) - 1, description="step")}

    def update(stage):
        st = stages[int(stage)]
        shown = [dict(n, grad=st["grads"][n["id"]]) for n in nodes]
        hl = [st["node"]] if st["node"] else []
        art.update(shown, highlight=hl, done=st["done"])
        if st["node"] is None:
            return (f"Forward pass done: every node holds its value. Move the slider to start the "
                    f"backward pass ({len(stages) - 1} steps).")
        nid = st["node"]
        g = st["grads"][nid]
        head = f"Step {stage}/{len(stages) - 1}: <b>{html.escape(labels[nid])}</b>"
        if ops[nid]:
            head += f" (made by {html.escape(ops[nid])})"
        if stage == 1:
            head += " is the output: its grad is seeded with 1"
        if not st["sent"]:
            return head + f", grad {g:.4g}, is a leaf: nothing to pass on."
        parts = [f"{html.escape(labels[i])}.grad += {amt:.4g}" for i, amt in st["sent"]]
        return head + f", grad {g:.4g}, passes grad × local derivative to its inputs: " + "; ".join(parts)

    dyn = list(art.boxes.values()) + list(art.texts.values())
    return Explorer("Backward pass, one node at a time", controls, update, fig,
                    dynamic=dyn, background_key=lambda stage: 0)
