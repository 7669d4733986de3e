"""Every notebook gives the same outputs on every run.

Three executions prove it for each notebook:

* the stored outputs (the committed, executed notebook);
* nbval strict's run in the same ``pytest`` call, compared with the stored outputs;
* the offline run of ``test_no_network.py``, also compared with the stored outputs.

Images are not compared there (nbval never compares ``image/png``; figures depend on the
machine's fonts); ``python -m tools.bench`` executes every notebook three times and also
compares the images, by SHA-256. This module holds the cheaper checks that make those
comparisons meaningful: the stored notebooks are fully executed in order; the output
comparison does detect a change; nblib's random functions depend only on their seed and
leave numpy's global random state alone; an explorer built twice draws the same thing.
"""

from __future__ import annotations

import copy
import hashlib

import nbformat
import numpy as np
import pytest

from tools.bench import discover_explorers
from tools.notebooks import comparable_outputs, first_difference
from notebook_runner import notebook_params


@pytest.mark.parametrize("path", notebook_params())
def test_stored_notebook_is_executed_in_order(path):
    """nbval strict compares only executed cells: every code cell must be executed, 1..n."""
    nb = nbformat.read(path, as_version=4)
    counts = [c.execution_count for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    assert counts == list(range(1, len(counts) + 1)), f"{path.name}: execution counts {counts}"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    errors = [o.get("ename") for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors, f"{path.name} is stored with errors: {errors}"


def _tiny_notebook():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print(1)", execution_count=1)
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="loss 0.125\n"),
        nbformat.v4.new_output("stream", name="stdout", text="took 12.3 ms\n"),
        nbformat.v4.new_output("display_data", data={"text/plain": "Figure", "image/png": "AAAA",
                                                     "application/vnd.jupyter.widget-view+json": {"model_id": "a"}}),
    ]
    nb.cells = [cell]
    return nb


def test_output_comparison_detects_changes():
    a = _tiny_notebook()
    same = copy.deepcopy(a)
    same.cells[0].outputs[1]["text"] = "took 99 ms\n"  # a timing: sanitized, as nbval does
    same.cells[0].outputs[2]["data"]["application/vnd.jupyter.widget-view+json"] = {"model_id": "b"}
    assert first_difference(comparable_outputs(a), comparable_outputs(same)) is None
    text = copy.deepcopy(a)
    text.cells[0].outputs[0]["text"] = "loss 0.126\n"
    assert "0.126" in first_difference(comparable_outputs(a), comparable_outputs(text))
    late = copy.deepcopy(a)                       # a long output that differs near its end
    late.cells[0].outputs[0]["text"] = "x" * 500 + " loss 0.125\n"
    later = copy.deepcopy(late)
    later.cells[0].outputs[0]["text"] = "x" * 500 + " loss 0.127\n"
    where = first_difference(comparable_outputs(late), comparable_outputs(later))
    assert "from character 510" in where and "0.125" in where and "0.127" in where
    image = copy.deepcopy(a)
    image.cells[0].outputs[2]["data"]["image/png"] = "AAAB"
    assert first_difference(comparable_outputs(a, images="hash"), comparable_outputs(image, images="hash"))
    assert first_difference(comparable_outputs(a, images="skip"), comparable_outputs(image, images="skip")) is None


def test_sanitizers_hide_rounding_noise_but_not_verdicts():
    """The nbval sanitize patterns (tests/nbval_sanitize.cfg) let a gradient check's
    rounding-level numbers differ between CPUs, and still catch a failed check or a
    changed ordinary number."""
    from tools.notebooks import load_sanitizers, sanitize as _sanitize
    from nblib.gradcheck import compare

    rules = load_sanitizers()
    a = np.linspace(0.1, 2.0, 6)

    def shown(report):
        return _sanitize(report._repr_html_(), rules), _sanitize(repr(report), rules)

    this_cpu = compare({"dW": (a, a + 1e-13), "db": (a, a)})
    other_cpu = compare({"dW": (a, a + 3e-14), "db": (a, a)})
    assert this_cpu._repr_html_() != other_cpu._repr_html_()
    assert shown(this_cpu) == shown(other_cpu)
    broken = compare({"dW": (a, a + 1e-3), "db": (a, a)})          # a wrong gradient
    assert shown(broken)[0] != shown(this_cpu)[0] and shown(broken)[1] != shown(this_cpu)[1]
    # numpy and PyTorch agreeing to the last bit ("exact") or to rounding ("close") depends on
    # the CPU too; both are a pass and compare equal, a MISMATCH does not
    last_bit = compare({"dW": (a, a), "db": (a, a)})
    assert "exact" in repr(last_bit) and "close" in repr(this_cpu)
    assert shown(last_bit) == shown(this_cpu)
    assert "MISMATCH" in shown(broken)[0] and "MISMATCH" in shown(broken)[1]
    assert _sanitize("row sums 2.8e-17", rules) == _sanitize("row sums -3.4e-17", rules)
    for ordinary in ("loss 7.76e-03 after 150 steps", "rel error 1.2e-08", "loss 0.1806"):
        assert _sanitize(ordinary, rules) == ordinary


def _digest(obj) -> str:
    h = hashlib.sha256()
    for part in obj if isinstance(obj, tuple) else (obj,):
        h.update(np.ascontiguousarray(part).tobytes())
    return h.hexdigest()


def _seeded_calls():
    from nblib import data
    calls = {name: (lambda f=getattr(data, name): f(seed=3)) for name in ("blobs", "moons", "spirals", "xor")}
    calls["linear_data"] = lambda: data.linear_data(seed=3)
    try:
        from nblib import layers
        calls["layers.MLP init"] = lambda: tuple(layers.MLP([4, 5, 3], seed=3).params.values())
    except ImportError:
        pass
    try:
        from nblib import train
        calls["train.minibatches"] = lambda: tuple(train.minibatches(10, 3, 3))
    except ImportError:
        pass
    try:
        from nblib import digits
        calls["digits.stratified_split"] = lambda: digits.stratified_split(np.arange(40) % 4, seed=3)
    except ImportError:
        pass
    return calls


@pytest.mark.parametrize("name", list(_seeded_calls()))
def test_seeded_functions_repeat_and_leave_global_state_alone(name):
    call = _seeded_calls()[name]
    np.random.seed(12345)
    before = np.random.get_state()[1].copy()
    first, second = _digest(call()), _digest(call())
    assert first == second, f"{name} gave different results for the same seed"
    assert np.array_equal(np.random.get_state()[1], before), f"{name} used numpy's global random state"


def test_explorers_draw_the_same_twice():
    found, _ = discover_explorers()
    assert found, "discover_explorers found no explorer in nblib.widgets"
    for name, factory in found:
        a, b = factory(), factory()
        assert a.summary() == b.summary(), name
        assert hashlib.sha256(a._image.value).digest() == hashlib.sha256(b._image.value).digest(), name


# ------------------------------------------------------------------------------------
# The benchmark's own yardsticks (python -m tools.bench) measure what they claim
# ------------------------------------------------------------------------------------
def test_bench_reference_step_is_the_course_step():
    """The 'minimal numpy' step of the benchmark does the same work as nblib's MLP + SGD:
    same loss, same updated parameters (float64, to 1e-12)."""
    layers, optim = pytest.importorskip("nblib.layers"), pytest.importorskip("nblib.optim")
    from tools.bench import numpy_reference_step
    r = np.random.default_rng(5)
    X, y = r.normal(size=(16, 6)), r.integers(0, 3, size=16)
    net = layers.MLP([6, 7, 5, 3], activation="relu", seed=1)
    params = {k: v.copy() for k, v in net.params.items()}
    loss_ref = numpy_reference_step(params, X, y, lr=0.1)
    loss, grads = net.loss_and_grads(X, y)
    optim.SGD(lr=0.1).step(net.params, grads)
    assert abs(loss - loss_ref) <= 1e-12 * max(1.0, abs(loss))
    for k in net.params:
        np.testing.assert_allclose(params[k], net.params[k], rtol=0, atol=1e-12)


def test_bench_flop_count():
    from tools.bench import mlp_flops
    n, d, h, c = 64, 64, 128, 10
    forward = 2 * n * d * h + 2 * n * h * c            # X W1, A W2
    backward = 2 * n * d * h + 2 * n * h * c + 2 * n * c * h  # dW1, dW2, dA1 (no dX)
    assert mlp_flops((d, h, c), n) == forward + backward


def test_bench_sweeps_every_control_over_its_range():
    import ipywidgets as w
    from tools.bench import sweep_values
    assert sweep_values(w.FloatSlider(min=-1.0, max=3.0), 5) == [-1.0, 0.0, 1.0, 2.0, 3.0]
    assert sweep_values(w.IntSlider(min=1, max=3), 12) == [1, 2, 3]
    assert sweep_values(w.Dropdown(options=["a", "b"]), 12) == ["a", "b"]
    assert sweep_values(w.FloatLogSlider(base=10, min=-2, max=0), 3) == pytest.approx([0.01, 0.1, 1.0])
    assert sweep_values(w.SelectMultiple(options=["x", "y"]), 12) == [("x",), ("y",), ("x", "y")]
    assert sweep_values(w.Button(), 5) == []
