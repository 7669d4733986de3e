"""nblib.graphs: graph extraction from a Value, layout, drawing and in-place updates."""

import matplotlib
import pytest

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402

from nblib.autograd import Value  # noqa: E402
from nblib.graphs import draw_graph, graph_from_value, layout  # noqa: E402


def _expr():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c = a * b
    c.label = "c"
    d = (c + a) * 2.0
    d.label = "d"
    d.backward()
    return a, b, c, d


def test_graph_from_value_is_topological_with_data_and_grads():
    a, b, c, d = _expr()
    nodes = graph_from_value(d)
    ids = [n["id"] for n in nodes]
    assert len(ids) == len(set(ids)) == 6   # a, b, c, c+a, const 2, d
    seen = set()
    for n in nodes:
        assert all(i in seen for i in n["inputs"])
        seen.add(n["id"])
    by_label = {n["label"]: n for n in nodes}
    assert by_label["a"]["data"] == 2.0 and by_label["a"]["grad"] == a.grad == 2 * (-3.0 + 1.0)
    assert by_label["d"]["grad"] == 1.0 and by_label["d"]["op"] == "*"
    assert by_label["const"]["data"] == 2.0
    assert nodes[-1]["value"] is d


def test_layout_puts_inputs_left_of_their_consumers():
    nodes = graph_from_value(_expr()[3])
    pos = layout(nodes)
    for n in nodes:
        for i in n["inputs"]:
            assert pos[i][0] < pos[n["id"]][0]
    # nodes sharing a column never overlap
    cols = {}
    for nid, (x, y) in pos.items():
        cols.setdefault(x, []).append(y)
    for ys in cols.values():
        assert len(ys) == len(set(ys))


def test_hand_written_graph_and_update():
    nodes = [
        {"id": "x", "label": "x", "data": 1.0, "grad": None, "inputs": []},
        {"id": "w", "label": "w", "data": 3.0, "grad": None, "inputs": []},
        {"id": "z", "label": "z", "op": "*", "data": 3.0, "grad": None, "inputs": ["x", "w"]},
    ]
    fig = Figure()
    ax = fig.subplots()
    art = draw_graph(ax, nodes, show_grad=True)
    assert "grad ?" in art.texts["z"].get_text() and "data 3" in art.texts["z"].get_text()
    nodes[2]["grad"] = 1.0
    changed = art.update(nodes, highlight=["z"], done=["z"])
    assert "grad 1" in art.texts["z"].get_text() and len(changed) == 6
    assert art.boxes["z"].get_facecolor() != art.boxes["x"].get_facecolor()
    art2 = draw_graph(fig.subplots(), nodes, show_grad=False)
    assert "grad" not in art2.texts["z"].get_text()
    fig.canvas.draw() if fig.canvas else None


def test_bad_input():
    with pytest.raises(TypeError, match=r"graph_from_value: root must be an nblib.autograd.Value .*got float 1.0"):
        graph_from_value(1.0)
    with pytest.raises(ValueError, match="uses input 'y' before it is defined"):
        layout([{"id": "z", "inputs": ["y"]}, {"id": "y", "inputs": []}])
    with pytest.raises(TypeError, match="nodes must be a non-empty list"):
        layout([])
    fig = Figure()
    art = draw_graph(fig.subplots(), [{"id": "x", "data": 1.0, "inputs": []}])
    with pytest.raises(KeyError, match="node 'q' was not in the drawn graph"):
        art.update([{"id": "q", "data": 0.0}])
