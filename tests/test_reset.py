"""Starting ONE exercise again without losing the others (README, Troubleshooting).

* ``python -m tools.edition --reset student/NN_x.ipynb --exercise NAME`` puts the cell that
  defines ``NAME`` back to its stub; every other cell, solved or not, stays as it was.
* On a JupyterHub with nbgitpuller: a deleted notebook comes back on the next pull, while a
  student's edited notebook is kept (so "delete, pull, copy the one cell over" works there).
"""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tools import edition

ROOT = Path(__file__).resolve().parent.parent
WORKED = ROOT / "notebooks" / "01_loss_functions.ipynb"


def _solved_copy(tmp_path):
    """A learner's notebook with every exercise done: the worked notebook, executed."""
    path = tmp_path / WORKED.name
    shutil.copy(WORKED, path)
    return path


def test_reset_puts_back_one_stub_and_keeps_every_other_cell(tmp_path):
    path = _solved_copy(tmp_path)
    before = json.loads(path.read_text(encoding="utf-8"))
    fresh = edition.student_notebook(before)
    names = list(edition.exercises(fresh))
    assert "my_mse_grad" in names and len(names) >= 3
    after, k = edition.reset_exercise(before, fresh, "my_mse_grad")
    assert "raise NotImplementedError()" in edition._source(after["cells"][k])
    assert "def my_mse_grad" in edition._source(after["cells"][k]) and after["cells"][k]["outputs"] == []
    changed = [i for i, (a, b) in enumerate(zip(before["cells"], after["cells"])) if a != b]
    assert changed == [k] and len(after["cells"]) == len(before["cells"])
    # the other exercises are still solved
    others = [edition._source(c) for i, c in enumerate(after["cells"]) if i != k]
    assert sum("### BEGIN SOLUTION" in s for s in others) == len(names) - 1


def test_reset_finds_the_cell_after_the_learner_added_cells(tmp_path):
    nb = json.loads(_solved_copy(tmp_path).read_text(encoding="utf-8"))
    fresh = edition.student_notebook(nb)
    nb["cells"].insert(3, {"cell_type": "code", "source": "print('my own cell')", "metadata": {},
                           "outputs": [], "execution_count": None})
    after, k = edition.reset_exercise(nb, fresh, "my_cross_entropy")
    assert k == edition.exercises(fresh)["my_cross_entropy"] + 1
    assert edition._source(after["cells"][3]) == "print('my own cell')"


@pytest.mark.parametrize("name, msg", [("my_mse_gard", "no exercise 'my_mse_gard'"),
                                       ("gone", "no cell of your notebook defines")])
def test_reset_errors_say_what_to_do(tmp_path, name, msg):
    nb = json.loads(_solved_copy(tmp_path).read_text(encoding="utf-8"))
    fresh = edition.student_notebook(nb)
    if name == "gone":
        name = "my_mse_grad"
        nb["cells"] = [c for c in nb["cells"] if "def my_mse_grad" not in edition._source(c)]
    with pytest.raises(ValueError, match=msg):
        edition.reset_exercise(nb, fresh, name)


def test_reset_command_line_keeps_a_backup(tmp_path, capsys):
    path = _solved_copy(tmp_path)
    original = path.read_text(encoding="utf-8")
    assert edition.main(["--reset", str(path), "--src", str(ROOT / "notebooks")]) == 1
    assert "my_mse_grad" in capsys.readouterr().out                  # lists the exercises
    assert edition.main(["--reset", str(path), "--exercise", "my_mse_grad", "--src", str(ROOT / "notebooks")]) == 0
    out = capsys.readouterr().out
    assert "back to its stub" in out and "Reload Notebook from Disk" in out
    assert (tmp_path / (path.name + ".bak")).read_text(encoding="utf-8") == original
    assert path.read_text(encoding="utf-8") != original
    assert not (tmp_path / (path.name + ".bak")).name.endswith(".ipynb")   # regenerating student/ keeps it


def test_nbgitpuller_restores_a_deleted_notebook_and_keeps_an_edited_one(tmp_path):
    pull = pytest.importorskip("nbgitpuller.pull")
    if shutil.which("git") is None:
        pytest.skip("git is missing")
    upstream = tmp_path / "upstream"
    (upstream / "student").mkdir(parents=True)
    for name in ("01_loss_functions.ipynb", "02_gradient_descent.ipynb"):
        shutil.copy(ROOT / "student" / name, upstream / "student" / name)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "init.defaultBranch=main"]
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "edition"]):
        subprocess.run([*git, *args], cwd=upstream, check=True, capture_output=True)
    home = tmp_path / "home" / "gd-course"

    def run_pull():
        for _ in pull.GitPuller(upstream.as_uri(), str(home), branch="main", depth=1).pull():
            pass

    run_pull()
    first, second = home / "student" / "01_loss_functions.ipynb", home / "student" / "02_gradient_descent.ipynb"
    edited = second.read_text(encoding="utf-8").replace("raise NotImplementedError()", "return 42", 1)
    second.write_text(edited, encoding="utf-8")
    first.unlink()
    run_pull()
    assert first.exists() and first.read_bytes() == (upstream / "student" / first.name).read_bytes()
    assert second.read_text(encoding="utf-8") == edited
