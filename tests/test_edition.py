"""The student edition: solutions stubbed nbgrader-style, committed copy in sync, stubs run cleanly."""

import json
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tools import edition

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_strip_solutions_keeps_indentation_and_counts():
    src = "def f(x):\n    '''doc'''\n    ### BEGIN SOLUTION\n    y = x + 1\n    return y\n    ### END SOLUTION\nprint(1)"
    new, n = edition.strip_solutions(src)
    assert n == 1
    assert new == "def f(x):\n    '''doc'''\n    # YOUR CODE HERE\n    raise NotImplementedError()\nprint(1)"
    md, n = edition.strip_solutions("Answer:\n### BEGIN SOLUTION\nforty-two\n### END SOLUTION", "markdown")
    assert md == "Answer:\nYOUR ANSWER HERE" and n == 1


@pytest.mark.parametrize("src, msg", [
    ("### BEGIN SOLUTION\nx = 1", "never closed"),
    ("x = 1\n### END SOLUTION", "without a BEGIN"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "inside another"),
])
def test_unbalanced_markers_are_errors(src, msg):
    with pytest.raises(edition.SolutionMarkerError, match=msg):
        edition.strip_solutions(src, where="nb.ipynb, cell 3")


def test_student_notebook_clears_outputs_and_solutions():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 42\n    ### END SOLUTION")
    cell.outputs = [nbformat.v4.new_output("stream", text="hi")]
    cell.execution_count = 3
    nb.cells.append(cell)
    nb.metadata["widgets"] = {"state": {}}
    out = edition.student_notebook(json.loads(nbformat.writes(nb)))
    c = out["cells"][0]
    assert c["outputs"] == [] and c["execution_count"] is None and "42" not in c["source"]
    assert "widgets" not in out["metadata"]


def test_committed_student_edition_is_in_sync(capsys):
    assert edition.main(["--check"]) == 0, capsys.readouterr().out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_solution_sits_inside_a_function_body(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    for i, cell in enumerate(nb["cells"], 1):
        if cell["cell_type"] != "code":
            continue
        src = "".join(cell["source"])
        for m in re.finditer(r"^(\s*)###\s*BEGIN SOLUTION", src, flags=re.M):
            assert m.group(1), f"{path.name} cell {i}: a solution region at top level would make the student " \
                               f"edition raise NotImplementedError when the cell runs; put it inside a function"


@pytest.mark.parametrize("name", [p.name for p in NOTEBOOKS])
def test_student_notebook_runs_and_checkers_say_not_implemented(name, tmp_path):
    student = ROOT / "student" / name
    nb = nbformat.read(student, as_version=4)
    n_stubs = sum("raise NotImplementedError()" in c.source for c in nb.cells if c.cell_type == "code")
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=False,
                   resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    text = "\n".join(
        (o.get("text") or "") + (o.get("data", {}).get("text/plain") or "")
        for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    if n_stubs:
        assert "not implemented yet" in text
    assert "Traceback" not in text
