"""Notebook 04-05 explorers: the training runs, the fast training path, the playground's
updates and presets, and the backward stepper's stages."""

import warnings

import numpy as np
import pytest

from nblib import layers as L
from nblib.autograd import Value
from nblib.widgets import backprop as B


@pytest.mark.parametrize("activation", list(L.ACTIVATIONS))
@pytest.mark.parametrize("init", ["xavier", "constant"])
def test_fast_training_equals_the_lesson_loop_step_by_step(activation, init):
    """The playground's speed path takes the same steps as the lesson code of notebook 04,
    ``layers.mlp_loss_and_grads`` (the loop the learner writes) + plain gradient descent:
    the same loss, accuracy and parameters at every one of 6 steps."""
    X, y = B.make_dataset("spirals")
    sizes = [2, 7, 5, 3]
    params = L.init_params(sizes, init=init, seed=3)
    net = L.MLP(sizes, activation=activation, init=init, seed=3)
    lr, steps = 0.3, 6
    T = B._layer_matrices(net.params, net.num_layers)
    losses, acc, snap_epochs, snapshots, diverged = B._fast_train(T, activation, X, y, 3, lr, steps, 1)
    assert diverged is None and snap_epochs == list(range(steps + 1))
    for ep in range(steps + 1):
        loss, grads = L.mlp_loss_and_grads(X, y, params, activation)
        logits, _ = L.mlp_forward(X, params, activation)
        assert losses[ep] == pytest.approx(loss, rel=1e-12), ep
        assert acc[ep] == (logits.argmax(axis=1) == y).mean()
        for t, (W, b) in zip(snapshots[ep], params):         # parameters before step ep
            np.testing.assert_allclose(t[:, :-1].T, W, rtol=1e-10, atol=1e-13)
            np.testing.assert_allclose(t[:, -1], b, rtol=1e-10, atol=1e-13)
        params = [(W - lr * dW, b - lr * db) for (W, b), (dW, db) in zip(params, grads)]


def test_snapshot_images_are_computed_when_looked_at():
    run = B.train_run("xor", layers=2, hidden=8, activation="tanh", lr=0.5, init="xavier", epochs=40,
                      snapshot_every=10)
    images = run["images"]
    assert len(images) == len(run["snap_epochs"]) == 5 and images._images == {}
    first, last = images[0], images[-1]
    assert images[-1] is last and sorted(images._images) == [0, 4]      # computed once, kept
    assert [im.shape for im in images[1:3]] == [(B.GRID, B.GRID, 3)] * 2
    assert not np.array_equal(first, last)                              # training moved the boundary
    with pytest.raises(IndexError):
        images[5]


def test_train_run_learns_moons_and_records_snapshots():
    run = B.train_run("moons", layers=1, hidden=16, activation="relu", lr=0.5, init="he", epochs=300)
    assert run["diverged_at"] is None
    assert run["losses"][-1] < 0.3 * run["losses"][0]
    assert run["acc"][-1] > 0.95
    assert run["snap_epochs"][0] == 0 and run["snap_epochs"][-1] == 300
    assert len(run["images"]) == len(run["snap_epochs"])
    img = run["images"][-1]
    assert img.shape == (B.GRID, B.GRID, 3) and img.dtype == np.uint8
    # the image is the class-probability picture of the final network
    probs = B._softmax(run["net"].forward(B._GRID_POINTS))
    expected = (B.region_rgb(probs) * 255).round()
    assert np.abs(img.astype(float) - expected).max() <= 1.0
    # the final network (same object) reproduces the recorded accuracy
    assert (run["net"].predict(run["X"]) == run["y"]).mean() == pytest.approx(run["acc"][-1])


def test_zero_init_is_a_constant_network_and_constant_init_keeps_units_identical():
    """All-zero weights: every weight gradient is exactly 0, so the weights never move (only
    the last bias learns the class balance). Constant non-zero weights: the weights move, but
    every hidden unit stays identical to the others (the symmetry problem)."""
    zero = B.train_run("xor", layers=1, hidden=8, activation="tanh", lr=0.5, init="zeros", epochs=50)
    for k, v in zero["net"].params.items():
        if k.startswith("W"):
            assert not v.any(), k
    assert zero["losses"][-1] > 0.69
    const = B.train_run(**{k: v for k, v in B.PLAYGROUND_PRESETS["constant init: symmetry"].items() if k != "epoch"})
    one = B.train_run("moons", layers=1, hidden=1, activation="tanh", lr=0.5, init="he")
    W1 = const["net"].params["W1"]
    assert np.allclose(W1, W1[:, :1]) and not np.allclose(W1, 1 / np.sqrt(2))   # moved, but all columns alike
    assert const["acc"][-1] <= one["acc"][-1] + 0.01 < 0.9     # 16 identical units do no better than one


def test_small_init_sigmoid_preset_plateaus_then_learns():
    """What the instructor guide says about the preset (notebooks/README.md, section 04)."""
    values = dict(B.PLAYGROUND_PRESETS["small init, sigmoid: plateau, then learns"])
    values.pop("epoch")
    run = B.train_run(**values)
    L = run["losses"]
    assert abs(L[300] - L[0]) < 0.02 and L[300] > 0.68     # a plateau near log 2 for 300 epochs
    assert L[-1] < 0.1 and run["acc"][-1] == 1.0           # then it learns XOR


def test_playground_updates_presets_and_cache():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pg = B.training_playground()
        n_runs = len(pg.cache)
        statuses = set()
        for e in range(0, B.MAX_EPOCHS + 1, 100):
            pg.set(epoch=e)
            statuses.add(pg.status_text)
        assert len(pg.cache) == n_runs == 1      # moving the epoch never retrains
        assert len(statuses) == 11
        for name, values in B.PLAYGROUND_PRESETS.items():
            pg.preset(name)
            assert pg.values() == values
    assert "higher than at the start" in B.training_playground("learning rate too high").status_text
    assert "hardly moved" in B.training_playground("zero init: a constant network").status_text
    with pytest.raises(KeyError, match="no preset"):
        pg.preset("nope")
    text = pg._repr_mimebundle_()["text/plain"]
    assert text.startswith("Training playground [dataset=")


def test_train_run_bad_input():
    with pytest.raises(ValueError, match="make_dataset: dataset must be one of"):
        B.train_run("circles")
    with pytest.raises(ValueError, match="train_run: activation must be one of"):
        B.train_run("moons", activation="swish")


def _expr():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c = a * b
    c.label = "c"
    out = (c + a * a).tanh()
    out.label = "out"
    return a, b, out


def test_backward_snapshots_end_at_backward_and_accumulate():
    a, b, out = _expr()
    stages = B.backward_snapshots(out)
    final = (a.grad, b.grad)
    out.backward()
    assert (a.grad, b.grad) == final
    assert len(stages) == len(out.topological_order()) + 1
    assert all(g is None for g in stages[0]["grads"].values())
    assert stages[1]["grads"][stages[1]["node"]] == 1.0     # the root is seeded with 1
    a_id = [n for n, v in zip(stages[-1]["grads"], out.topological_order()) if v is a][0]
    # a receives from two nodes (c = a*b and a*a): its grad grows in two steps
    seen = [st["grads"][a_id] for st in stages if st["grads"][a_id] is not None]
    assert len(set(seen)) == 2 and seen[-1] == final[0]


def test_backward_stepper_walks_all_stages():
    _, _, out = _expr()
    st = B.backward_stepper(out)
    n = st.controls["stage"].max
    texts = set()
    for s in range(n + 1):
        st.set(stage=s)
        texts.add(st.status_text)
    assert len(texts) == n + 1
    assert "Forward pass done" in B.backward_stepper(out).status_text


def test_train_run_validates_its_numbers():
    with pytest.raises(ValueError, match="train_run: lr must be > 0, got -1"):
        B.train_run(lr=-1.0, epochs=5)
    with pytest.raises(ValueError, match="train_run: epochs must be >= 0, got -5"):
        B.train_run(epochs=-5)
    with pytest.raises(ValueError, match="train_run: layers must be > 0, got 0"):
        B.train_run(layers=0, epochs=5)
    with pytest.raises(TypeError, match="train_run: hidden must be an integer"):
        B.train_run(hidden=2.5, epochs=5)
    run = B.train_run(epochs=0)
    assert run["snap_epochs"] == [0] and len(run["losses"]) == 1


def test_playground_sliders_that_retrain_update_only_when_released():
    """layers, hidden and lr retrain (1000 epochs) on change: dragging them must not retrain at
    every intermediate value (continuous_update=False); the epoch slider only shows a stored
    snapshot and follows the drag."""
    pg = B.training_playground()
    for name in ("layers", "hidden", "lr"):
        assert pg.controls[name].continuous_update is False, name
    assert pg.controls["epoch"].continuous_update is True


def _perturbed_datasets(monkeypatch, eps):
    """make_dataset with every coordinate changed in its ~16th significant digit: the size of
    the rounding differences between two CPUs (SIMD kernels, summation order)."""
    original = B.make_dataset

    def make(name, seed=0):
        X, y = original(name, seed=seed)
        return X * (1.0 + eps * np.random.default_rng(7).standard_normal(X.shape)), y

    monkeypatch.setattr(B, "make_dataset", make)


@pytest.mark.parametrize("eps", [1e-15, -3e-15])
def test_printed_training_results_do_not_depend_on_rounding_noise(monkeypatch, eps):
    """What notebook 04 prints after training (the initialisation table of section 7 and the
    playground presets' status lines) must be the same on any CPU. Chaotic settings (e.g.
    three tanh layers at learning rate 0.5) change their printed loss when the data move by
    1e-15; those settings must not be the ones printed."""
    def printed():
        table = []
        for init in L.INITS:                      # notebook 04, section 7: the same loop and settings
            for act in ("tanh", "relu"):
                X, y = B.make_dataset("moons")
                params = L.init_params([2, 16, 16, 16, 2], init=init, seed=0)
                for _ in range(200):
                    loss, grads = L.mlp_loss_and_grads(X, y, params, act)
                    params = [(W - 0.3 * dW, b - 0.3 * db) for (W, b), (dW, db) in zip(params, grads)]
                logits, _ = L.mlp_forward(X, params, act)
                table.append(f"{L.mlp_loss_and_grads(X, y, params, act)[0]:10.4f} "
                             f"{(logits.argmax(1) == y).mean():6.1%}")
        presets = [B.training_playground(preset=name).status_text for name in B.PLAYGROUND_PRESETS]
        return table, presets

    reference = printed()
    _perturbed_datasets(monkeypatch, eps)
    assert printed() == reference
