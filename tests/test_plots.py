"""nblib.plots: the course style and the small plotting helpers the notebooks and
explorers share (they return their artists, so widgets can move them)."""

import matplotlib as mpl
import numpy as np
import pytest
from matplotlib.figure import Figure

from nblib import gd, plots


@pytest.fixture
def ax():
    return Figure().add_subplot()


def test_course_style_sets_the_colour_blind_safe_cycle():
    saved = mpl.rcParams.copy()
    try:
        plots.use_course_style()
        assert mpl.rcParams["axes.prop_cycle"].by_key()["color"] == plots.PALETTE
        assert mpl.rcParams["font.size"] >= 12          # readable on a projector
    finally:
        mpl.rcParams.update(saved)
    assert len(set(plots.PALETTE)) == 8 and plots.BLUE == "#0072B2"


def test_loss_curve_plots_one_point_per_step(ax):
    line = plots.loss_curve(ax, [4.0, 2.0, 1.0], logy=True)
    np.testing.assert_array_equal(line.get_xdata(), [0, 1, 2])
    np.testing.assert_array_equal(line.get_ydata(), [4.0, 2.0, 1.0])
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "step"
    with pytest.raises(ValueError, match=r"loss_curve: losses must be 1-D .* got shape \(2, 2\)"):
        plots.loss_curve(ax, np.ones((2, 2)))


def test_loss_contour_levels_start_near_the_floor_and_mark_the_minimum(ax):
    x, y = np.array([0.0, 1.0, 2.0, 3.0]), np.array([1.0, 3.0, 5.0, 7.0])   # y = 2x + 1 exactly
    W, B = np.meshgrid(np.linspace(0, 4, 41), np.linspace(-1, 3, 41))
    Z = gd.linreg_loss_grid(W, B, x, y)
    cs = plots.loss_contour(ax, W, B, Z, minimum=(2.0, 1.0))
    levels = np.asarray(cs.levels)
    assert len(levels) == 15 and np.all(np.diff(levels) > 0)
    assert levels[0] < 0.01 * Z.max() and levels[-1] == pytest.approx(Z.max())
    star = [ln for ln in ax.lines if ln.get_marker() == "*"]
    assert len(star) == 1 and list(star[0].get_xdata()) == [2.0] and list(star[0].get_ydata()) == [1.0]
    assert ax.get_xlim() == (0.0, 4.0) and ax.get_ylim() == (-1.0, 3.0)


def test_linreg_loss_grid_is_the_mse_at_every_grid_point():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=20), rng.normal(size=20)
    W, B = np.meshgrid(np.linspace(-2, 2, 5), np.linspace(-1, 1, 3))
    Z = gd.linreg_loss_grid(W, B, x, y)
    assert Z.shape == (3, 5)
    for i in range(3):
        for j in range(5):
            assert Z[i, j] == pytest.approx(np.mean((W[i, j] * x + B[i, j] - y) ** 2), rel=1e-12)


def test_trajectory_returns_the_path_and_its_start(ax):
    path = np.array([[0.0, 0.0], [1.0, 0.5], [1.5, 0.7]])
    line, start = plots.trajectory(ax, path, label="GD")
    np.testing.assert_array_equal(line.get_xydata(), path)
    np.testing.assert_array_equal(start.get_xydata(), path[:1])
    assert line.get_label() == "GD" and line.get_marker() == "o"
    line2, _ = plots.trajectory(ax, path, markers=False)
    assert line2.get_marker() in (None, "None", "")
    with pytest.raises(ValueError, match=r"trajectory: path must have shape \(k\+1, 2\).*got shape \(3,\)"):
        plots.trajectory(ax, np.ones(3))


def test_loss_curves_colours_in_palette_order_and_subtracts_the_floor(ax):
    lines = plots.loss_curves(ax, {"SGD": [3.0, 2.0], "Adam": [2.5, 1.5]}, floor=1.0)
    assert [ln.get_label() for ln in lines] == ["SGD", "Adam"]
    assert [ln.get_color() for ln in lines] == plots.PALETTE[:2]
    np.testing.assert_array_equal(lines[1].get_ydata(), [1.5, 0.5])
    assert ax.get_ylabel() == "loss − minimum" and ax.get_legend() is not None


def test_check_ax_accepts_axes_and_names_what_came(ax):
    assert plots.check_ax(ax, "f") is ax
    with pytest.raises(TypeError, match=r"^f: ax must be a matplotlib Axes .* got list \[1\]"):
        plots.check_ax([1], "f")


def test_course_style_shows_figures_as_drawn_in_a_kernel(tmp_path):
    """use_course_style() in Jupyter switches off the inline backend's tight bounding box (which
    draws every figure twice): a 6×3 in figure at 100 dpi arrives as 600×300 pixels."""
    import base64
    import io

    import nbformat
    from PIL import Image

    from tools.notebooks import execute_notebook

    code = ("import matplotlib.pyplot as plt\nfrom nblib.plots import use_course_style\nuse_course_style()\n"
            "fig, ax = plt.subplots(figsize=(6, 3))\nax.plot([1, 2, 3]); ax.set_title('t'); ax.set_xlabel('x')")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "fig.ipynb"
    nbformat.write(nb, path)
    run = execute_notebook(path, timeout=120)
    assert run.error is None, run.error
    pngs = [o["data"]["image/png"] for o in run.nb.cells[0].outputs if "image/png" in o.get("data", {})]
    assert len(pngs) == 1
    assert Image.open(io.BytesIO(base64.b64decode(pngs[0]))).size == (600, 300)
