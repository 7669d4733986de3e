"""The layout: ``nblib`` is the learner's library, ``tools`` the course's machinery.

Nothing in ``nblib`` and no notebook (worked or student) imports ``tools``; the commands of
``tools`` find the checkout from the working directory, not from where their file lies.
"""

import ast
import re
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tools import repo_root

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(source: str) -> set[str]:
    """Top-level names of every module that ``source`` imports (absolute imports only)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def notebook_imports(path: Path) -> set[str]:
    """What the code cells of a notebook import (IPython magics and shell lines left out)."""
    found = set()
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] != "code":
            continue
        src = "".join(cell["source"])
        try:
            found |= imported_modules(src)
        except SyntaxError:  # a cell with magics
            found |= imported_modules("\n".join(l for l in src.splitlines() if not l.lstrip().startswith(("%", "!"))))
    return found


def test_imported_modules_sees_both_import_forms():
    assert imported_modules("import tools.bench\nfrom tools.notebooks import x\nfrom . import y\n") == {"tools"}


@pytest.mark.parametrize("path", sorted((ROOT / "nblib").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_nblib_does_not_import_the_machinery(path):
    assert "tools" not in imported_modules(path.read_text(encoding="utf-8")), \
        f"{path.relative_to(ROOT)} imports tools: the learner's library must not depend on the course machinery"


@pytest.mark.parametrize("path", sorted([*(ROOT / "notebooks").glob("*.ipynb"), *(ROOT / "student").glob("*.ipynb")]),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_no_notebook_imports_the_machinery(path):
    assert "tools" not in notebook_imports(path), f"{path.relative_to(ROOT)} imports tools"


def test_machinery_modules_are_not_in_nblib():
    for name in ("bench", "slides", "edition"):
        assert not (ROOT / "nblib" / f"{name}.py").exists(), f"nblib/{name}.py is course machinery: it lives in tools/"
        assert (ROOT / "tools" / f"{name}.py").exists()


def test_network_guard_is_a_real_python_file():
    from tools import netguard

    assert netguard.GUARD_FILE.is_file()
    ast.parse(netguard.GUARD_FILE.read_text(encoding="utf-8"))          # plain Python, not a string in a module
    assert [p.name for p in netguard.SITE_DIR.iterdir() if p.suffix == ".py"] == ["sitecustomize.py"]
    assert netguard.offline_env(base={})["PYTHONPATH"].split(":")[0] == str(netguard.SITE_DIR)


def test_repo_root_is_found_from_the_working_directory(tmp_path):
    assert repo_root(ROOT / "notebooks") == ROOT
    assert repo_root(ROOT / "tools" / "netguard") == ROOT
    with pytest.raises(FileNotFoundError, match="no course checkout"):
        repo_root(tmp_path)


def test_edition_command_uses_the_working_directory(tmp_path):
    """A copy of the checkout's notebooks elsewhere: run from there, the command checks *that* copy."""
    (tmp_path / "nblib").mkdir()
    (tmp_path / "notebooks").mkdir()
    first = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))[0]
    (tmp_path / "notebooks" / first.name).write_bytes(first.read_bytes())
    env_path = str(ROOT)
    run = subprocess.run([sys.executable, "-m", "tools.edition", "--check"], cwd=tmp_path, capture_output=True,
                         text=True, env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"})
    assert run.returncode == 1 and f"out of date: {tmp_path / 'student' / first.name}" in run.stdout, run.stdout + run.stderr


def test_nblib_docstring_is_the_map():
    """Every module and subpackage of nblib is named in nblib's docstring, and each lesson row
    names a module that exists and the notebook that introduces it."""
    import nblib

    doc = nblib.__doc__
    present = {p.stem for p in (ROOT / "nblib").glob("*.py") if p.stem != "__init__"}
    present |= {p.name for p in (ROOT / "nblib").iterdir() if (p / "__init__.py").exists()}
    unnamed = sorted(n for n in present if f"``{n}``" not in doc)
    assert not unnamed, f"modules missing from nblib's map: {unnamed}"
    lesson_rows = re.findall(r"^``(\w+)``\s+(\d\d)", doc, flags=re.M)
    assert len(lesson_rows) >= 15
    for module, number in lesson_rows:
        assert module in present, f"the map names nblib.{module}, which does not exist"
        assert list((ROOT / "notebooks").glob(f"{number}_*.ipynb")), f"nblib.{module}: no notebook {number}"


SPHINX_ROLE = re.compile(r":(?:py:)?(?:func|class|mod|meth|data|attr|exc|obj|math):`")


@pytest.mark.parametrize("path", sorted((ROOT / "nblib").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_docstrings_read_well_in_jupyter(path):
    """Jupyter's `?` shows docstrings as plain text: a Sphinx role (nothing builds Sphinx docs here)
    shows as markup there."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        assert not SPHINX_ROLE.search(line), f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
