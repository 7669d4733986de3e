"""Bad input to nblib.conv, nblib.mnist and the kernel explorer: each error names the argument,
what was expected and what came (rows in the format of tests/test_robustness.py)."""

import numpy as np
import pytest

from test_robustness import Bad, m, test_bad_input_gets_a_named_error as _run_row

z = np.zeros

ROWS = [
    Bad("conv_forward x 3-D", lambda: m("conv").conv_forward(z((1, 8, 8)), z((2, 1, 3, 3)), z(2)), ValueError,
        r"conv_forward: x", r"4-D", r"\(1, 8, 8\)"),
    Bad("conv_forward channel mismatch", lambda: m("conv").conv_forward(z((1, 3, 8, 8)), z((2, 1, 3, 3)), z(2)),
        ValueError, r"conv_forward: x has shape", r"= \(F, 3, HH, WW\)", r"\(2, 1, 3, 3\)"),
    Bad("conv_forward bias length", lambda: m("conv").conv_forward(z((1, 1, 8, 8)), z((2, 1, 3, 3)), z(3)),
        ValueError, r"b has shape", r"b must have shape \(2,\)", r"\(3,\)"),
    Bad("conv_forward float stride", lambda: m("conv").conv_forward(z((1, 1, 8, 8)), z((2, 1, 3, 3)), z(2), 1.5),
        TypeError, r"conv_forward: stride", r"integer >= 1", r"float 1.5"),
    Bad("conv_forward negative pad", lambda: m("conv").conv_forward(z((1, 1, 8, 8)), z((2, 1, 3, 3)), z(2), 1, -1),
        ValueError, r"conv_forward: pad", r"integer >= 0", r"-1"),
    Bad("conv_forward kernel too large", lambda: m("conv").conv2d(z((1, 1, 2, 2)), z((1, 1, 5, 5)), z(1)),
        ValueError, r"conv_forward: the kernel", r"does not fit", r"\(2, 2\)"),
    Bad("conv_forward NaN", lambda: m("conv").conv2d(np.full((1, 1, 4, 4), np.nan), z((1, 1, 3, 3)), z(1)),
        ValueError, r"conv_forward: x", r"NaN or infinite", r"16"),
    Bad("conv_backward bad cache", lambda: m("conv").conv_backward(z((1, 1, 4, 4)), (1, 2)), TypeError,
        r"conv_backward: cache", r"tuple returned by conv_forward", r"tuple"),
    Bad("conv_backward dout shape", lambda: m("conv").conv_backward(
        z((1, 2, 3, 3)), m("conv").conv_forward(z((1, 1, 4, 4)), z((2, 1, 3, 3)), z(2), 1, 1)[1]), ValueError,
        r"conv_backward: dout", r"\(1, 2, 4, 4\)", r"\(1, 2, 3, 3\)"),
    Bad("maxpool window too large", lambda: m("conv").maxpool_forward(z((1, 1, 3, 3)), 4), ValueError,
        r"maxpool_forward: a 4x4 window", r"does not fit", r"3x3"),
    Bad("maxpool size zero", lambda: m("conv").maxpool2d(z((1, 1, 4, 4)), 0), ValueError,
        r"maxpool_forward: size", r"integer >= 1", r"got 0"),
    Bad("output_size float", lambda: m("conv").output_size(7.0, 3), TypeError, r"output_size: size",
        r"integer", r"float 7.0"),
    Bad("flatten_size bad layer", lambda: m("conv").flatten_size((1, 8, 8), [("dense", 10)]), ValueError,
        r"flatten_size: layers\[0\]", r"\('conv', out_channels", r"\('dense', 10\)"),
    Bad("flatten_size in_shape", lambda: m("conv").flatten_size((8, 8), []), TypeError,
        r"flatten_size: in_shape", r"\(C, H, W\)", r"tuple \(8, 8\)"),
    Bad("SmallCNN forward wrong image size", lambda: m("conv").SmallCNN().forward(z((2, 1, 28, 28))), ValueError,
        r"SmallCNN.forward: X", r"8x8 one-channel images", r"\(2, 1, 28, 28\)"),
    Bad("SmallCNN float labels", lambda: m("conv").SmallCNN().loss_and_grads(z((2, 64)), np.array([0.0, 1.0])),
        TypeError, r"SmallCNN.loss_and_grads: y", r"integer class ids", r"float64"),
    Bad("SmallCNN channels", lambda: m("conv").SmallCNN(channels=8), TypeError, r"SmallCNN: channels",
        r"pair \(c1, c2\)", r"int 8"),
    Bad("load_mnist root int", lambda: m("mnist").load_mnist(42), TypeError, r"load_mnist: root",
        r"path", r"int 42"),
    Bad("load_mnist split", lambda: m("mnist").load_mnist(".", "val"), ValueError, r"split",
        r"'train' or 'test'", r"'val'"),
    Bad("load_mnist missing", lambda: m("mnist").load_mnist("/nonexistent-folder-g"), FileNotFoundError,
        r"load_mnist: no train-images-idx3-ubyte", r"pass the folder", r"/nonexistent-folder-g"),
    Bad("kernel_explorer images 2-D", lambda: m("widgets.conv").kernel_explorer(z((8, 8))), ValueError,
        r"kernel_explorer: images", r"3-D or 4-D", r"\(8, 8\)"),
    Bad("kernel_explorer unknown control", lambda: m("widgets.conv").kernel_explorer(preset={"lr": 1}), KeyError,
        r"Kernel explorer", r"the controls are", r"lr"),
    Bad("kernel_explorer entry out of range", lambda: m("widgets.conv").kernel_explorer(
        preset={"kernel": "custom", "k0": 9.0}), ValueError, r"control 'k0'", r"between -5 and 5", r"9.0"),
    Bad("conv checker given None", lambda: m("check").conv_forward(None), None, r"conv_forward",
        r"expected a function", r"NoneType None", kind="check"),
    Bad("kernel_explorer conv returning (out, cache)",
        lambda: m("widgets.conv").kernel_explorer(np.ones((2, 8, 8)), conv=m("conv").conv_forward), TypeError,
        r"^feature_maps: conv", r"return the feature maps only, an array", r"tuple of 2 \(an \(out, cache\) pair"),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_conv_bad_input_gets_a_named_error(row):
    _run_row(row)
