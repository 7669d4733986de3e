"""Draw small computational graphs with matplotlib only (notebooks 04 and 05).

A graph is a list of node dicts in topological order (inputs before the nodes computed
from them)::

    {"id": "c", "label": "c", "op": "*", "data": -6.0, "grad": 1.0, "inputs": ["a", "b"]}

* ``graph_from_value`` builds that list from an ``nblib.autograd.Value``;
  notebook 04 writes it by hand for a graph computed with plain numbers.
* ``draw_graph`` draws it left (inputs) to right (output): one box per node with its
  name, value and gradient, and a small circle for the operation that made it, as in
  micrograd's ``draw_dot`` but without the graphviz program.
* It returns a ``GraphArtists``; ``GraphArtists.update`` rewrites the numbers and
  the highlight in place (no redraw of the layout), which the backward-stepping widget uses.
"""

from __future__ import annotations

import numpy as np
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

from ._validate import describe
from .plots import BLUE, ORANGE, VERMILION, check_ax

__all__ = ["graph_from_value", "layout", "draw_graph", "GraphArtists"]

BOX_W, BOX_H = 1.25, 0.62
COL_DX, ROW_DY = 2.3, 1.0
OP_SYMBOLS = {"*": "×", "+": "+", "exp": "exp", "log": "log", "relu": "relu", "tanh": "tanh",
              "sigmoid": "σ"}


def graph_from_value(root) -> list:
    """The graph under ``root`` (a ``Value``) as a list of node dicts, inputs first.

    Node ids are ``"n0", "n1", ...`` in topological order; an unlabelled leaf (a number
    that entered the expression, e.g. the 2 in ``2 * a``) is labelled ``"const"``.
    Each dict also carries the ``Value`` itself under ``"value"``.
    """
    if not hasattr(root, "topological_order"):
        raise TypeError(f"graph_from_value: root must be an nblib.autograd.Value (the output of an expression), "
                        f"got {describe(root)}")
    order = root.topological_order()
    ids = {id(n): f"n{i}" for i, n in enumerate(order)}
    nodes = []
    for n in order:
        label = n.label or ("const" if not n._prev else "")
        nodes.append({"id": ids[id(n)], "label": label, "op": n._op, "data": n.data, "grad": n.grad,
                      "inputs": [ids[id(c)] for c in n._prev], "value": n})
    return nodes


def _check_nodes(nodes, where):
    if not isinstance(nodes, (list, tuple)) or not nodes:
        raise TypeError(f"{where}: nodes must be a non-empty list of node dicts, got {describe(nodes)}")
    seen = set()
    for k, node in enumerate(nodes):
        if not isinstance(node, dict) or "id" not in node:
            raise TypeError(f"{where}: node {k} must be a dict with at least 'id', got {node!r}"[:200])
        inputs = node.get("inputs", ())
        if not isinstance(inputs, (list, tuple)):
            raise TypeError(f"{where}: node {node['id']!r}: inputs must be a list of node ids, "
                            f"got {describe(inputs)}")
        for key in ("data", "grad"):
            v = node.get(key)
            if v is not None and not isinstance(v, (int, float, np.integer, np.floating)) or isinstance(v, bool):
                raise TypeError(f"{where}: node {node['id']!r}: {key} must be a number (or None), got {describe(v)}")
        for inp in inputs:
            if inp not in seen:
                raise ValueError(f"{where}: node {node['id']!r} uses input {inp!r} before it is defined; "
                                 f"list the nodes inputs-first (topological order)")
        seen.add(node["id"])


def layout(nodes) -> dict:
    """Positions ``{id: (x, y)}``: x from the depth (longest path from a leaf), y spread per column.

    Within a column nodes are sorted by the mean height of their inputs, which keeps
    edges from crossing in small graphs.
    """
    _check_nodes(nodes, "layout")
    depth = {}
    for node in nodes:
        ins = node.get("inputs", ())
        depth[node["id"]] = 1 + max(depth[i] for i in ins) if ins else 0
    # a leaf sits just left of its first consumer, so constants do not crowd column 0
    consumers = {}
    for node in nodes:
        for i in node.get("inputs", ()):
            consumers.setdefault(i, []).append(depth[node["id"]])
    for node in nodes:
        if not node.get("inputs") and node["id"] in consumers:
            depth[node["id"]] = min(consumers[node["id"]]) - 1
    columns = {}
    for node in nodes:
        columns.setdefault(depth[node["id"]], []).append(node)
    pos = {}
    for d in sorted(columns):
        col = columns[d]
        if d > 0:
            col = sorted(col, key=lambda n: np.mean([pos[i][1] for i in n.get("inputs", ()) if i in pos] or [0.0]))
        m = len(col)
        for k, node in enumerate(col):
            pos[node["id"]] = (d * COL_DX, (m - 1) / 2 * ROW_DY - k * ROW_DY)
    return pos


class GraphArtists:
    """The artists of a drawn graph: ``boxes[id]``, ``texts[id]``, ``ops[id]``, ``edges``.

    ``update`` changes the numbers and highlights without touching the layout.
    """

    def __init__(self, ax, boxes, texts, ops, edges, fmt, show_grad):
        self.ax, self.boxes, self.texts, self.ops, self.edges = ax, boxes, texts, ops, edges
        self.fmt, self.show_grad = fmt, show_grad

    def _text(self, node, show_grad):
        lines = []
        if node.get("label"):
            lines.append(str(node["label"]))
        lines.append(f"data {self.fmt.format(node.get('data', float('nan')))}")
        if show_grad:
            g = node.get("grad")
            lines.append("grad ?" if g is None else f"grad {self.fmt.format(g)}")
        return "\n".join(lines)

    def update(self, nodes, highlight=(), done=(), show_grad=None):
        """Rewrite each node's text from ``nodes`` (same ids as drawn).

        ``highlight``: ids drawn in orange (the node being processed); ``done``: ids whose
        gradient is final (drawn in light blue). Returns the list of changed artists.
        """
        show = self.show_grad if show_grad is None else show_grad
        highlight, done = set(highlight), set(done)
        changed = []
        for node in nodes:
            nid = node["id"]
            if nid not in self.texts:
                raise KeyError(f"GraphArtists.update: node {nid!r} was not in the drawn graph")
            self.texts[nid].set_text(self._text(node, show))
            face = "#FBE3B5" if nid in highlight else ("#D6EAF8" if nid in done else "white")
            edge = ORANGE if nid in highlight else BLUE
            self.boxes[nid].set_facecolor(face)
            self.boxes[nid].set_edgecolor(edge)
            changed += [self.boxes[nid], self.texts[nid]]
        return changed


def draw_graph(ax, nodes, show_grad: bool = True, fmt: str = "{:.4g}", title: str | None = None,
               highlight=(), fontsize: float = 10) -> GraphArtists:
    """Draw ``nodes`` (see the module docstring) on ``ax``; returns a ``GraphArtists``.

    ``show_grad=False`` draws the forward pass only. A node's ``grad`` may be ``None``
    (shown as "grad ?"). The axes are switched off; limits fit the graph.
    """
    check_ax(ax, "draw_graph")
    _check_nodes(nodes, "draw_graph")
    pos = layout(nodes)
    boxes, texts, ops, edges = {}, {}, {}, []
    for node in nodes:
        nid = node["id"]
        x, y = pos[nid]
        box = FancyBboxPatch((x - BOX_W / 2, y - BOX_H / 2), BOX_W, BOX_H,
                             boxstyle="round,pad=0.04,rounding_size=0.08",
                             facecolor="white", edgecolor=BLUE, lw=1.5, zorder=3)
        ax.add_patch(box)
        boxes[nid] = box
        texts[nid] = ax.text(x, y, "", ha="center", va="center", fontsize=fontsize, zorder=4,
                             family="monospace")
        if node.get("inputs"):
            ox, oy = x - BOX_W / 2 - 0.42, y
            circ = Circle((ox, oy), 0.24, facecolor="#F2F2F2", edgecolor="0.4", lw=1.0, zorder=3)
            ax.add_patch(circ)
            op = str(node.get("op", ""))
            sym = OP_SYMBOLS.get(op, op.replace("**", "^"))
            ops[nid] = ax.text(ox, oy, sym, ha="center", va="center", zorder=4,
                               fontsize=fontsize if len(sym) <= 2 else fontsize - 2.5)
            edges.append(ax.add_patch(FancyArrowPatch((ox + 0.24, oy), (x - BOX_W / 2 - 0.04, y),
                                                      arrowstyle="-|>", mutation_scale=10, color="0.4",
                                                      lw=1.0, zorder=2)))
            for inp in node["inputs"]:
                ix, iy = pos[inp]
                edges.append(ax.add_patch(FancyArrowPatch((ix + BOX_W / 2 + 0.04, iy), (ox - 0.24, oy),
                                                          arrowstyle="-|>", mutation_scale=10, color="0.4",
                                                          lw=1.0, zorder=2, connectionstyle="arc3,rad=0.0")))
    art = GraphArtists(ax, boxes, texts, ops, edges, fmt, show_grad)
    art.update(nodes, highlight=highlight)
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    ax.set_xlim(min(xs) - BOX_W / 2 - 1.0, max(xs) + BOX_W / 2 + 0.2)
    ax.set_ylim(min(ys) - BOX_H, max(ys) + BOX_H)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title)
    return art
