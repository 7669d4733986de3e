"""Bad input to nblib.norm and the notebook-07 explorer: every error names the function, the
argument, what was expected and what came (rows in the format of tests/test_robustness.py)."""

import numpy as np
import pytest

import test_robustness
from test_robustness import Bad, m

z = np.zeros

ROWS = [
    Bad("batchnorm_forward x 1-D", lambda: m("norm").batchnorm_forward(z(4), z(4), z(4), {"mode": "train"}),
        ValueError, r"^batchnorm_forward: x", r"must be 2-D", r"shape \(4,\)"),
    Bad("batchnorm_forward gamma of the wrong length",
        lambda: m("norm").batchnorm_forward(z((5, 3)), z(2), z(3), {"mode": "train"}),
        ValueError, r"^batchnorm_forward: .*gamma", r"must have shape \(3,\)", r"shape \(2,\)"),
    Bad("batchnorm_forward unknown mode", lambda: m("norm").batchnorm_forward(z((5, 3)), z(3), z(3), {"mode": "test"}),
        ValueError, r"batchnorm_forward: bn_param\['mode'\]", r"'train' or 'eval'", r"'test'"),
    Bad("batchnorm_forward bn_param not a dict", lambda: m("norm").batchnorm_forward(z((5, 3)), z(3), z(3), "train"),
        TypeError, r"batchnorm_forward: bn_param", r"must be a dict", r"str 'train'"),
    Bad("batchnorm_forward running_mean of the wrong shape",
        lambda: m("norm").batchnorm_forward(z((5, 3)), z(3), z(3), {"mode": "eval", "running_mean": z(2)}),
        ValueError, r"bn_param\['running_mean'\]", r"shape \(3,\)", r"shape \(2,\)"),
    Bad("batchnorm_forward one sample in training mode",
        lambda: m("norm").batchnorm_forward(z((1, 3)), z(3), z(3), {"mode": "train"}),
        ValueError, r"batchnorm_forward: training mode", r"at least 2 samples", r"shape \(1, 3\)"),
    Bad("batchnorm_forward momentum out of range",
        lambda: m("norm").batchnorm_forward(z((4, 3)), z(3), z(3), {"mode": "train", "momentum": 0.9 + 1}),
        ValueError, r"bn_param\['momentum'\]", r"in \[0, 1\]", r"1\.9"),
    Bad("batchnorm_backward cache not a dict", lambda: m("norm").batchnorm_backward(z((4, 3)), (1, 2)),
        TypeError, r"^batchnorm_backward: cache", r"dict returned by batchnorm_forward", r"tuple \(1, 2\)"),
    Bad("batchnorm_backward_compact dout of the wrong shape",
        lambda: m("norm").batchnorm_backward_compact(z((4, 2)), m("norm").batchnorm_forward(
            np.eye(4, 3), np.ones(3), z(3), {"mode": "train"})[1]),
        ValueError, r"^batchnorm_backward_compact: dout", r"output had shape \(4, 3\)", r"\(4, 2\)"),
    Bad("clip_grad_norm grads a list", lambda: m("norm").clip_grad_norm([z(3)], 1.0),
        TypeError, r"^clip_grad_norm: grads", r"non-empty dict", r"list"),
    Bad("clip_grad_norm negative max_norm", lambda: m("norm").clip_grad_norm({"W": z(3)}, -1.0),
        ValueError, r"^clip_grad_norm: max_norm", r"> 0", r"-1\.0"),
    Bad("DeepMLP unknown activation", lambda: m("norm").DeepMLP([2, 3, 2], activation="swish"),
        ValueError, r"^DeepMLP: activation", r"one of \(", r"'swish'"),
    Bad("DeepMLP batchnorm a string", lambda: m("norm").DeepMLP([2, 3, 2], batchnorm="yes"),
        TypeError, r"^DeepMLP: batchnorm", r"True or False", r"str 'yes'"),
    Bad("DeepMLP.forward wrong width", lambda: m("norm").DeepMLP([2, 3, 2]).forward(z((4, 5))),
        ValueError, r"^DeepMLP.forward: X", r"expects 2 features", r"\(4, 5\)"),
    Bad("train_sgd lr 0", lambda: m("norm").train_sgd(m("norm").DeepMLP([2, 3, 2]), z((4, 2)), np.zeros(4, int), lr=0),
        ValueError, r"^train_sgd: lr", r"> 0", r"got 0"),
    Bad("deepnet_explorer preset of the wrong type", lambda: m("widgets.deepnets").deepnet_explorer(preset=42),
        TypeError, r"deepnet_explorer: preset", r"preset name or a dict", r"got int"),
    Bad("deepnet_explorer depth out of range", lambda: m("widgets.deepnets").deepnet_explorer().set(depth=50),
        ValueError, r"control 'depth'", r"between 2 and 20", r"got 50"),
    Bad("deepnet_explorer clip not offered", lambda: m("widgets.deepnets").deepnet_explorer().set(clip="5"),
        ValueError, r"control 'clip'", r"must be one of \[", r"'5'"),
    Bad("deepnet_explorer cache_size 0", lambda: m("widgets.deepnets").deepnet_explorer(cache_size=0),
        ValueError, r"^deepnet_explorer: cache_size", r"> 0", r"got 0"),
    Bad("layer_stats depth 0", lambda: m("widgets.deepnets").layer_stats(depth=0),
        ValueError, r"^layer_stats: depth", r"> 0", r"got 0"),
    Bad("DeepMLP.backward dlogits of the wrong shape",
        lambda: (lambda n: (n.forward(z((4, 2))), n.backward(z((4, 3)))))(m("norm").DeepMLP([2, 3, 2])),
        ValueError, r"^DeepMLP.backward: dlogits", r"shaped like the last forward's logits \(4, 2\)", r"\(4, 3\)"),
    Bad("DeepMLP sizes an int", lambda: m("norm").DeepMLP(3),
        ValueError, r"^DeepMLP: sizes", r"at least two positive ints", r"got 3"),
    Bad("train_sgd net not a DeepMLP", lambda: m("norm").train_sgd("net", z((4, 2)), np.zeros(4, int)),
        TypeError, r"^train_sgd: net", r"must be a DeepMLP", r"str 'net'"),
    Bad("train_sgd float labels", lambda: m("norm").train_sgd(m("norm").DeepMLP([2, 3, 2]), z((4, 2)), z(4)),
        TypeError, r"^train_sgd: labels", r"integer class ids", r"float64"),
    Bad("train_sgd labels of another batch", lambda: m("norm").train_sgd(m("norm").DeepMLP([2, 3, 2]), z((4, 2)),
                                                                          np.zeros(5, int)),
        ValueError, r"^train_sgd: labels", r"\(4,\)|4", r"5"),
]


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_bad_input_gets_a_named_error(row):
    test_robustness.test_bad_input_gets_a_named_error(row)
