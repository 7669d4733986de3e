"""nblib.train: mini-batches, the numpy fit loop (schedule, early stopping, history), metrics."""

import numpy as np
import pytest

from nblib import layers, optim, train
from nblib.data import blobs


def test_minibatches_cover_every_index_once():
    batches = train.minibatches(103, 10, np.random.default_rng(0))
    assert [len(b) for b in batches] == [10] * 10 + [3]
    assert np.array_equal(np.sort(np.concatenate(batches)), np.arange(103))
    again = train.minibatches(103, 10, 0)
    assert all(np.array_equal(a, b) for a, b in zip(train.minibatches(103, 10, 0), again))
    with pytest.raises(ValueError, match="batch_size must be > 0"):
        train.minibatches(10, 0, 0)


def test_confusion_matrix_and_accuracy():
    t = np.array([0, 0, 1, 2, 2, 2])
    p = np.array([0, 1, 1, 2, 0, 2])
    M = train.confusion_matrix(t, p, 3)
    expected = np.zeros((3, 3), int)
    for a, b in zip(t, p):
        expected[a, b] += 1
    np.testing.assert_array_equal(M, expected)
    assert train.accuracy(p, t) == pytest.approx(4 / 6)
    with pytest.raises(ValueError, match="y_pred has shape"):
        train.confusion_matrix(t, p[:3], 3)


def _data():
    X, y = blobs(n_per_class=60, centers=((-2, 0), (2, 0), (0, 2.5)), std=0.9, seed=0)
    return X[:120], y[:120], X[120:], y[120:]


def test_fit_equals_a_hand_written_loop():
    Xtr, ytr, Xva, yva = _data()
    net = layers.MLP([2, 8, 3], seed=1)
    ref = layers.MLP([2, 8, 3], seed=1)
    sched = optim.StepDecay(0.1, step_size=2, gamma=0.5)
    hist = train.fit(net, optim.SGD(0.1), Xtr, ytr, Xva, yva, epochs=5, batch_size=16, seed=4,
                     schedule=sched, progress=False)
    # the same loop written out: the batches of minibatches(seed 4), lr set per epoch
    rng, opt, val = np.random.default_rng(4), optim.SGD(0.1), []
    snapshots = []
    for epoch in range(5):
        opt.lr = sched(epoch)
        for idx in train.minibatches(len(ytr), 16, rng):
            _, g = ref.loss_and_grads(Xtr[idx], ytr[idx])
            opt.step(ref.params, g)
        val.append(ref.loss_and_grads(Xva, yva)[0])
        snapshots.append({k: v.copy() for k, v in ref.params.items()})
    np.testing.assert_allclose(hist.val_loss, val, rtol=1e-12)
    assert hist.lr == [0.1, 0.1, 0.05, 0.05, 0.025]
    best = int(np.argmin(val))
    assert hist.best_epoch == best
    for k in net.params:                                   # the best epoch's parameters are restored
        np.testing.assert_array_equal(net.params[k], snapshots[best][k])
    assert len(hist.epoch_time) == 5 and all(t > 0 for t in hist.epoch_time)


def test_early_stopping_stops_after_patience_and_restores_best():
    Xtr, ytr, Xva, yva = _data()
    net = layers.MLP([2, 64, 3], seed=0)
    # a large learning rate without decay: the validation loss stops improving quickly
    hist = train.fit(net, optim.Adam(0.05), Xtr, ytr, Xva, yva, epochs=200, batch_size=8, seed=0,
                     patience=3, progress=False)
    assert hist.stopped_early and hist.epochs < 200
    assert hist.epochs - 1 - hist.best_epoch == 3           # exactly `patience` epochs without improvement
    assert hist.val_loss[hist.best_epoch] == min(hist.val_loss)
    assert net.loss_and_grads(Xva, yva)[0] == pytest.approx(min(hist.val_loss), rel=1e-12)
    assert "stopped early" in repr(hist)


def test_fit_validates_inputs():
    Xtr, ytr, Xva, yva = _data()
    net = layers.MLP([2, 4, 3], seed=0)
    with pytest.raises(ValueError, match="y_train has shape"):
        train.fit(net, optim.SGD(0.1), Xtr, ytr[:-1], Xva, yva, progress=False)
    with pytest.raises(TypeError, match="net must be an nblib MLP"):
        train.fit(object(), optim.SGD(0.1), Xtr, ytr, Xva, yva, progress=False)
    with pytest.raises(TypeError, match="schedule must be a function"):
        train.fit(net, optim.SGD(0.1), Xtr, ytr, Xva, yva, schedule=0.1, progress=False)



def test_a_diverging_run_stops_with_a_divergence_report():
    """SGD(1e6) on inputs scaled by 1e3 blows up in the first epoch. fit does not raise (it used to
    raise layers' "NaN or infinite ... diverging run?" ValueError) and emits no RuntimeWarning: it
    stops, History.diverged is True, History.step is the update where it happened (1-based, at most
    3 epochs of batches), History.cause names that step and the lr, no epoch is recorded, and the
    network keeps finite parameters (the initial ones, since no epoch finished)."""
    import warnings

    Xtr, ytr, Xva, yva = _data()
    net = layers.MLP([2, 8, 3], seed=0)
    before = {k: v.copy() for k, v in net.params.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hist = train.fit(net, optim.SGD(1e6), Xtr * 1e3, ytr, Xva * 1e3, yva, epochs=3, batch_size=8,
                         progress=False)
    steps_per_epoch = -(-len(ytr) // 8)
    assert hist.diverged is True
    assert isinstance(hist.step, int) and 1 <= hist.step <= 3 * steps_per_epoch
    assert f"step {hist.step}" in hist.cause and "lr=1e+06" in hist.cause and "diverged" in hist.cause
    assert hist.epochs == 0 and hist.best_epoch is None
    assert "diverged" in repr(hist)
    for k, v in net.params.items():
        np.testing.assert_array_equal(v, before[k])


def test_fit_accepts_a_bce_network_with_0_1_labels():
    Xtr, ytr, Xva, yva = _data()
    ytr, yva = (ytr == 2).astype(int), (yva == 2).astype(int)
    net = layers.MLP([2, 8, 1], head="bce", seed=0)
    hist = train.fit(net, optim.Adam(0.05), Xtr, ytr, Xva, yva, epochs=15, batch_size=16, progress=False)
    assert hist.val_acc[hist.best_epoch] > 0.9
    assert hist.val_loss[hist.best_epoch] == pytest.approx(net.loss_and_grads(Xva, yva)[0], rel=1e-12)
    with pytest.raises(ValueError, match=r"y_train must lie in \[0, 1\]"):
        train.fit(net, optim.Adam(0.05), Xtr, ytr + 1, Xva, yva, progress=False)


def test_fit_refuses_a_torch_optimizer_and_accuracy_refuses_scores():
    import torch
    Xtr, ytr, Xva, yva = _data()
    net = layers.MLP([2, 4, 3], seed=0)
    torch_opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(TypeError, match=r"fit: opt is a torch.optim optimizer \(SGD\).*nblib.optim"):
        train.fit(net, torch_opt, Xtr, ytr, Xva, yva, progress=False)
    probs = np.array([[0.9, 0.1], [0.2, 0.8]])
    with pytest.raises(ValueError, match=r"accuracy: pred has shape \(2, 2\).*argmax"):
        train.accuracy(probs, np.array([0, 1]))
    with pytest.raises(ValueError, match="non-integer"):
        train.accuracy(np.array([0.9, 0.2]), np.array([1, 0]))
    assert train.accuracy(np.array([1.0, 0.0]), np.array([1, 0])) == 1.0         # whole numbers are class ids


def test_fit_runs_on_a_given_loop_and_a_given_penalty():
    Xtr, ytr, Xva, yva = _data()
    calls = {"loop": 0, "penalty": 0}

    def loop(train_epoch, evaluate, params, max_epochs, patience):
        calls["loop"] += 1
        return train.train_early_stopping(train_epoch, evaluate, params, max_epochs, patience)

    def penalty(params, lam):
        calls["penalty"] += 1
        from nblib.regularize import l2_penalty
        return l2_penalty(params, lam)

    a, b = layers.MLP([2, 8, 3], seed=0), layers.MLP([2, 8, 3], seed=0)
    ha = train.fit(a, optim.SGD(0.1), Xtr, ytr, Xva, yva, epochs=4, batch_size=16, weight_decay=0.01,
                   loop=loop, penalty=penalty, progress=False)
    hb = train.fit(b, optim.SGD(0.1), Xtr, ytr, Xva, yva, epochs=4, batch_size=16, weight_decay=0.01, progress=False)
    assert calls["loop"] == 1 and calls["penalty"] == 4 * 8
    assert ha.val_loss == hb.val_loss
    with pytest.raises(TypeError, match="loop must be a function"):
        train.fit(a, optim.SGD(0.1), Xtr, ytr, Xva, yva, loop=3, progress=False)


def test_train_early_stopping_on_a_scripted_run():
    params = {"w": np.zeros(2)}
    losses = [3.0, 2.0, 2.5, 2.5, 1.0]

    def train_epoch(epoch):
        params["w"] += 1

    def evaluate():
        return losses[int(params["w"][0]) - 1]

    best, vals = train.train_early_stopping(train_epoch, evaluate, params, 5, 2)
    assert (best, vals) == (1, [3.0, 2.0, 2.5, 2.5]) and np.all(params["w"] == 2)


def test_kfold_indices_cover_every_sample_once():
    folds = train.kfold_indices(17, 5, seed=0)
    assert len(folds) == 5
    val = np.concatenate([v for _, v in folds])
    assert np.array_equal(np.sort(val), np.arange(17))
    assert sorted(len(v) for _, v in folds) == [3, 3, 3, 4, 4]
    for tr, va in folds:
        assert not set(tr) & set(va) and len(tr) + len(va) == 17
    with pytest.raises(ValueError, match="k must satisfy 2 <= k <= n"):
        train.kfold_indices(5, 6)


def test_one_divergence_rule_and_one_history_name():
    from nblib import gd
    assert not hasattr(train, "BLOWUP")                    # the threshold is gd.BLOWUP, used through gd.divergence
    assert train.TrainingHistory is not gd.History and "History" not in train.__all__
    Xtr, ytr, Xva, yva = _data()
    hist = train.fit(layers.MLP([2, 8, 3], seed=0), optim.SGD(1e6), Xtr * 1e3, ytr, Xva * 1e3, yva, epochs=3,
                     batch_size=8, progress=False)
    assert hist.diverged and hist.reason in (*gd.DIVERGENCE_CAUSES, "parameters non-finite", "outputs non-finite")
