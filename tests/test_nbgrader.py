"""nbgrader: the stamped metadata (tools.nbgrader) and a real round trip with nbgrader 0.9.

The round trip (marker ``grading``, about a minute here) builds a course directory in a temp
folder, runs ``nbgrader generate_assignment`` on stamped copies of notebooks 01 and 02 (all
notebooks with ``NBGRADER_ALL=1``), autogrades four submissions and reads the scores back
through nbgrader's gradebook API:

* ``solved``: every solution region filled with the worked notebook's code -> full marks;
* ``stubs``: the released notebooks as they are -> 0;
* ``half``: the first half of the exercises solved -> exactly the points of their checker cells;
* ``wrong``: notebook 01 solved except ``my_mse_grad``, which forgets the factor 2 -> one point
  less, and that cell's error names the mistake.

An instructor's hidden test (``### BEGIN HIDDEN TESTS``) added to 01's first checker cell is
removed from the release and run by the autograder. ``test_otter_assign_leaks_the_solutions``
shows what otter-grader's ``assign`` makes of notebook 01 as it is (skipped unless ``otter`` is
installed or ``OTTER`` names its executable; otter is not in requirements-dev.txt because it
brings a JupyterLab extension).
"""

import copy
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from tools import edition
from tools import nbgrader as stamping

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
BIN = Path(sys.executable).parent


def _nb(*cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    return nb


def _code(src):
    return nbformat.v4.new_code_cell(src)


SOLUTION = "def my_mse_grad(y_pred, y_true):\n    ### BEGIN SOLUTION\n    return 2.0 * (y_pred - y_true) / y_pred.size\n    ### END SOLUTION"


# ---------------------------------------------------------------- what is a solution / checker cell

@pytest.mark.parametrize("src, graded", [
    ("feedback = check.mse_grad(my_mse_grad)\nfeedback", True),
    ("check.gradient_signs(my_signs)", True),
    ("fb: object = check.mse_grad(f)", True),
    ("# a comment first\n%time feedback = check.mse_grad(f)\nfeedback = check.mse_grad(f)", True),
    ("buggy = check.buggy_two_layer_backward(X, y, p)", False),          # a HELPER, not a checker
    ("from nblib.check.bugzoo import SNIPPETS", False),
    ("print(check.mse_grad(f))", False),                                 # nested in another call
    ("for f in fs:\n    check.mse_grad(f)", False),                       # not top level
    ("def again():\n    return check.mse_grad(f)", False),
    ("x = mycheck.mse_grad(f)", False),
    ("check.mse_grad(f", False),                                         # not Python: no crash
])
def test_checker_cell_rule(src, graded):
    meta = stamping.expected_metadata(_nb(_code(SOLUTION), _code(src)), "01_x.ipynb")
    assert meta[0]["solution"] is True and meta[0]["grade"] is False
    assert meta[0]["grade_id"] == "01_solution_my_mse_grad"
    assert (meta[1] is not None) == graded
    if graded:
        assert meta[1]["grade"] is True and meta[1]["locked"] is True and meta[1]["solution"] is False
        assert meta[1]["points"] == 1 and meta[1]["schema_version"] == stamping.SCHEMA_VERSION


def test_schema_version_is_nbgraders():
    from nbgrader.nbgraderformat import SCHEMA_VERSION
    assert stamping.SCHEMA_VERSION == SCHEMA_VERSION


def test_ids_follow_names_not_positions_and_points_set_by_hand_survive():
    nb = _nb(_code(SOLUTION), _code("feedback = check.mse_grad(my_mse_grad)"))
    stamping.stamp(nb, "01_x.ipynb")
    nb.cells[1].metadata.nbgrader["points"] = 3
    nb.cells.insert(0, nbformat.v4.new_markdown_cell("# a new intro"))
    nb.cells.insert(2, _code("print('a new cell')"))
    assert stamping.problems(nb, "01_x.ipynb") == []       # nothing moved, the 3 points are kept
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    assert ids == [None, "01_solution_my_mse_grad", None, "01_check_mse_grad"]
    assert nb.cells[3].metadata.nbgrader["points"] == 3


def test_a_new_exercise_is_reported_stale_then_stamped():
    nb = _nb(_code(SOLUTION), _code("feedback = check.mse_grad(my_mse_grad)"))
    stamping.stamp(nb, "01_x.ipynb")
    nb.cells += [_code("def my_signs():\n    ### BEGIN SOLUTION\n    return {}\n    ### END SOLUTION"),
                 _code("check.gradient_signs(my_signs)")]
    found = stamping.problems(nb, "01_x.ipynb")
    assert len(found) == 2 and all("has no nbgrader metadata" in f for f in found)
    nb.cells[1].source = "print('the checker call was removed')"
    assert any("cell 1 has stale nbgrader metadata" in f for f in stamping.problems(nb, "01_x.ipynb"))
    _, changed = stamping.stamp(nb, "01_x.ipynb")
    assert changed == 3 and stamping.problems(nb, "01_x.ipynb") == []
    assert "nbgrader" not in nb.cells[1].metadata


def test_repeated_checker_gets_a_unique_id_and_markdown_answers_are_graded_by_hand():
    nb = _nb(_code(SOLUTION), _code("check.mse_grad(my_mse_grad)"), _code("check.mse_grad(other)"),
             nbformat.v4.new_markdown_cell("Why?\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION"),
             _code("x = 1\n### BEGIN SOLUTION\nx = 2\n### END SOLUTION"))
    meta = stamping.expected_metadata(nb, "07_y.ipynb")
    assert [m["grade_id"] for m in meta] == ["07_solution_my_mse_grad", "07_check_mse_grad",
                                             "07_check_mse_grad_2", "07_solution_cell3", "07_solution_cell4"]
    assert meta[3]["grade"] is True and meta[3]["solution"] is True and meta[3]["points"] == 1


@pytest.mark.parametrize("cells, msg", [
    ([_code(SOLUTION + "\ncheck.mse_grad(my_mse_grad)")], "solution cell also calls a checker"),
    ([_code("check.mse_gard(f)")], r"check\.mse_gard\(\.\.\.\) is not a checker"),
])
def test_cells_the_rule_cannot_classify_are_errors(cells, msg):
    with pytest.raises(stamping.CellRuleError, match=msg):
        stamping.expected_metadata(_nb(*cells), "01_x.ipynb")


def test_command_line_check_and_stamp(tmp_path, capsys):
    nb = _nb(_code(SOLUTION), _code("feedback = check.mse_grad(my_mse_grad)"))
    path = tmp_path / "01_x.ipynb"
    path.write_text(stamping.dumps(nb), encoding="utf-8")
    assert stamping.main(["--check", "--src", str(tmp_path)]) == 1
    assert "need `python -m tools.nbgrader --stamp`" in capsys.readouterr().out
    assert stamping.main(["--stamp", "--src", str(tmp_path)]) == 0
    assert "1 solution cells, 1 test cells (1 points); 2 cells changed" in capsys.readouterr().out
    before = path.read_text(encoding="utf-8")
    assert stamping.main(["--check", "--src", str(tmp_path)]) == 0
    assert stamping.main(["--stamp", "--src", str(tmp_path)]) == 0 and path.read_text(encoding="utf-8") == before


def test_every_notebook_can_be_stamped_and_every_exercise_is_graded():
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text(encoding="utf-8"))
        sol, tests, points = stamping.summary(nb, path.name)
        assert sol >= 1 and tests >= sol, f"{path.name}: {sol} solution cells but {tests} checker cells"


def test_committed_notebooks_are_stamped():
    """The lead stamps once every notebook edit is in: `python -m tools.nbgrader --stamp`."""
    stale = {p.name: stamping.problems(json.loads(p.read_text(encoding="utf-8")), p.name) for p in NOTEBOOKS}
    stale = {k: v for k, v in stale.items() if v}
    assert not stale, f"run `python -m tools.nbgrader --stamp`: {sorted(stale)} ({next(iter(stale.values()))[0]})"


# ---------------------------------------------------------------- the round trip with nbgrader

HIDDEN = ("\n### BEGIN HIDDEN TESTS\n"
          "assert np.allclose(my_mse_grad(np.array([3.0, 1.0]), np.array([1.0, 1.0])), [2.0, 0.0]), 'hidden test'\n"
          "### END HIDDEN TESTS")


def _nbgrader(course, *args, timeout=600):
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", OMP_NUM_THREADS="1")
    env.pop("NBGRADER_EXECUTION", None)
    proc = subprocess.run([str(BIN / "nbgrader"), *args], cwd=course, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def _graded(nb):
    return [c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade")
            and not c["metadata"]["nbgrader"].get("solution")]


@pytest.mark.grading
def test_nbgrader_round_trip(tmp_path):
    names = [p.name for p in NOTEBOOKS] if os.environ.get("NBGRADER_ALL") else \
        [p.name for p in NOTEBOOKS if p.name[:2] in ("01", "02")]
    course = tmp_path / "course"
    source = course / "source" / "ps1"
    source.mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.root = \".\"\n"
        f"c.CourseDirectory.course_id = 'gd-course'\nc.ExecutePreprocessor.timeout = 300\n")
    for name in names:
        nb = json.loads((ROOT / "notebooks" / name).read_text(encoding="utf-8"))
        nb, _ = stamping.stamp(nb, name)
        if name.startswith("01"):
            # an instructor's hidden test, run only by the autograder (students never see it)
            cell = next(c for c in nb["cells"] if "check.mse_grad(" in edition._source(c))
            cell["source"] = edition._source(cell).rstrip("\n") + HIDDEN
        (source / name).write_text(stamping.dumps(nb), encoding="utf-8")

    t0 = time.perf_counter()
    _nbgrader(course, "generate_assignment", "ps1", "--force")
    t_generate = time.perf_counter() - t0
    released, solutions, expected = {}, {}, {}
    for name in names:
        rel = json.loads((course / "release" / "ps1" / name).read_text(encoding="utf-8"))
        released[name] = rel
        # the release is the student edition: same cells, same sources, no outputs
        student = edition.student_notebook(json.loads((ROOT / "notebooks" / name).read_text(encoding="utf-8")))
        assert [edition._source(c).rstrip("\n") for c in rel["cells"]] == \
            [edition._source(c).rstrip("\n") for c in student["cells"]]
        assert "HIDDEN" not in json.dumps(rel) and "hidden test" not in json.dumps(rel)
        assert not any(c.get("outputs") for c in rel["cells"])
        src = json.loads((source / name).read_text(encoding="utf-8"))
        solutions[name] = {c["metadata"]["nbgrader"]["grade_id"]: edition._source(c) for c in src["cells"]
                           if c["metadata"].get("nbgrader", {}).get("solution")}

    def submit(student, name, fill):
        nb = copy.deepcopy(released[name])
        for c in nb["cells"]:
            gid = c["metadata"].get("nbgrader", {}).get("grade_id")
            if gid in fill:
                c["source"] = fill[gid]
        folder = course / "submitted" / student / "ps1"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(json.dumps(nb), encoding="utf-8")

    half_expected = 0.0
    for name in names:
        ids = list(solutions[name])
        submit("solved", name, solutions[name])
        submit("stubs", name, {})
        done = set(ids[: (len(ids) + 1) // 2])
        submit("half", name, {k: v for k, v in solutions[name].items() if k in done})
        # expected for "half": the points of the checker cells that follow a solved solution cell
        last = None
        for c in released[name]["cells"]:
            meta = c["metadata"].get("nbgrader", {})
            if meta.get("solution"):
                last = meta["grade_id"]
            elif meta.get("grade"):
                half_expected += meta["points"] if last in done else 0
    name01 = names[0]
    wrong = dict(solutions[name01])
    wrong["01_solution_my_mse_grad"] = wrong["01_solution_my_mse_grad"].replace(
        "2.0 * (y_pred - y_true)", "(y_pred - y_true)")
    assert wrong != solutions[name01]
    submit("wrong", name01, wrong)

    t0 = time.perf_counter()
    _nbgrader(course, "autograde", "ps1", "--create", "--force")
    t_autograde = time.perf_counter() - t0

    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        scores = {s: gb.find_submission("ps1", s) for s in ("solved", "stubs", "half", "wrong")}
        got = {s: (sub.score, sub.max_score) for s, sub in scores.items()}
        per_nb = {s: {n.name: n.score for n in sub.notebooks} for s, sub in scores.items()}
    total = sum(m["points"] for name in names for m in
                (c["metadata"]["nbgrader"] for c in _graded(released[name])))
    print(f"\nnbgrader {names}: generate_assignment {t_generate:.1f} s, autograde of 4 submissions "
          f"{t_autograde:.1f} s; scores {got}; per notebook {per_nb}")
    assert got["solved"] == (total, total)
    assert got["stubs"] == (0.0, total)
    assert 0 < got["half"][0] < total and got["half"][0] == half_expected
    points01 = sum(c["metadata"]["nbgrader"]["points"] for c in _graded(released[name01]))
    assert per_nb["wrong"][Path(name01).stem] == points01 - 1
    # the failing test cell shows the checker's diagnosis, not a bare traceback
    graded = json.loads((course / "autograded" / "wrong" / "ps1" / name01).read_text(encoding="utf-8"))
    cell = next(c for c in _graded(graded) if "check.mse_grad" in edition._source(c))
    errors = [o for o in cell["outputs"] if o["output_type"] == "error"]
    assert errors and errors[0]["ename"] == "AssertionError" and "mse_grad" in errors[0]["evalue"]


@pytest.mark.grading
def test_otter_assign_leaks_the_solutions(tmp_path):
    """otter-grader's ``assign`` strips solutions only inside its own question blocks, which these
    notebooks do not have: the "student" notebook it writes still holds every solution. Seen with
    otter-grader 7.0.0. The guide warns about it; use nbgrader (above) or the student edition."""
    otter = os.environ.get("OTTER") or shutil.which("otter")
    if not otter:
        pytest.skip("otter-grader is not installed (set OTTER=/path/to/otter to run this check)")
    name = "01_loss_functions.ipynb"
    shutil.copy(ROOT / "notebooks" / name, tmp_path / name)
    proc = subprocess.run([otter, "assign", "--no-run-tests", "--no-pdfs", name, "dist"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    released = (tmp_path / "dist" / "student" / name).read_text(encoding="utf-8")
    worked = json.loads((ROOT / "notebooks" / name).read_text(encoding="utf-8"))
    regions = sum(edition._source(c).count("### BEGIN SOLUTION") for c in worked["cells"])
    assert regions >= 4 and released.count("### BEGIN SOLUTION") == regions      # every solution is still there


def test_reference_answers_are_one_import_away(capsys):
    """What the guide tells instructors: every checker's reference ships with nblib, so a student's
    kernel can print it (after one try, by design for self-learners) or import it."""
    from nblib import check
    from nblib.check import bugzoo

    check.flat_features(lambda c, h, w, k: 0)
    check.reference("flat_features")
    assert "def _ref_flat_features" in capsys.readouterr().out
    assert bugzoo._ref_flat_features(64, 28, 28, 2) == 3136
