"""nbgrader cell metadata for the worked notebooks, derived from the course's own conventions.

Usage (from the repository root)::

    python -m tools.nbgrader --stamp    # write the metadata into notebooks/NN_*.ipynb
    python -m tools.nbgrader --check    # exit 1 if any notebook's metadata is missing or stale
    python -m tools.nbgrader --check --src DIR    # another folder of notebooks

What gets which metadata (nbgrader schema version 3):

* **Solution cell** ("autograded answer"): a cell whose source holds a ``### BEGIN SOLUTION``
  line. ``solution: true, grade: false, locked: false``. Its ``grade_id`` is
  ``NN_solution_<name>``, ``<name>`` the top-level ``def``/``class`` holding the marker
  (``NN_solution_cellK`` when there is none; ``K`` the 0-based cell index).
* **Checker cell** ("autograder test", ``points``): a code cell that is not a solution cell and
  has, as one of its *top-level statements*, a call ``check.<checker>(...)`` either alone
  (``check.gradient_signs(my_signs)``) or assigned (``feedback = check.mse_grad(my_mse_grad)``),
  where ``<checker>`` is a checker exported by :mod:`nblib.check` (its ``__all__``, less the
  machinery and the ``HELPERS`` tuple). A call nested in an expression, a loop or a function,
  a helper such as ``check.two_layer_loss(...)`` and ``from nblib.check.x import ...`` do not
  count. ``solution: false, grade: true, locked: true``, ``points`` 1 (points an instructor set
  by hand are kept), ``grade_id`` ``NN_check_<checker>``. A call ``check.<name>(...)`` of a name
  that :mod:`nblib.check` does not export is an error (a typo, or a checker not exported yet).
* A markdown cell with a solution region is a written answer: ``solution: true, grade: true``
  with ``points`` (nbgrader leaves those to the instructor's manual grading).
* Every other cell carries no ``nbgrader`` metadata (a stale entry is removed).

``NN`` is the notebook's two-digit number; a repeated id gets ``_2``, ``_3``... in cell order.
Ids come from names, not positions, so inserting a cell does not renumber the others and a
gradebook keeps its grades. An exercise added later (a ``### BEGIN SOLUTION`` region and a
checker cell) is picked up by the next ``--stamp``; ``--check`` (run by the tests) says when
that is due.

Under nbgrader's autograder (``NBGRADER_EXECUTION`` set) a checker that does not pass makes
its cell fail, so the checker cell scores 0; see :mod:`nblib.check._core`.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from pathlib import Path

SCHEMA_VERSION = 3          # nbgrader.nbgraderformat.SCHEMA_VERSION in nbgrader 0.9.x
DEFAULT_POINTS = 1
BEGIN = re.compile(r"^\s*###\s*BEGIN SOLUTION\s*$", re.M)
_MACHINERY = {"CheckResult", "Diagnosis", "check_function"}


class CellRuleError(ValueError):
    """A cell the rules above cannot classify (a checker call inside a solution cell, an unknown checker)."""


def checker_names() -> tuple[frozenset, frozenset]:
    """``(checkers, helpers)``: the names :mod:`nblib.check` exports as checkers and as helpers."""
    from nblib import check

    helpers = frozenset(getattr(check, "HELPERS", ()))
    if hasattr(check, "CHECKERS"):          # the list nblib.check keeps itself
        return frozenset(check.CHECKERS), helpers | (frozenset(check.__all__) - frozenset(check.CHECKERS))
    return frozenset(n for n in check.__all__ if n not in _MACHINERY and n not in helpers), helpers


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _parse(source: str):
    """The cell's module AST (IPython magics and shell lines blanked), or None if it is not Python."""
    lines = ["" if l.lstrip().startswith(("%", "!")) else l for l in source.split("\n")]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


def called_checks(source: str) -> list[str]:
    """Names ``X`` of the top-level statements ``check.X(...)`` / ``target = check.X(...)``, in order."""
    tree = _parse(source)
    if tree is None:
        return []
    names = []
    for stmt in tree.body:
        value = stmt.value if isinstance(stmt, (ast.Expr, ast.Assign, ast.AnnAssign)) else None
        if (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
                and isinstance(value.func.value, ast.Name) and value.func.value.id == "check"):
            names.append(value.func.attr)
    return names


def solution_owner(source: str) -> str | None:
    """Name of the top-level def/class whose body holds the first ``### BEGIN SOLUTION``."""
    m = BEGIN.search(source)
    tree = _parse(source)
    if m is None or tree is None:
        return None
    line = source[:m.start()].count("\n") + 1
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) \
                and stmt.lineno <= line <= (stmt.end_lineno or stmt.lineno):
            return stmt.name
    return None


def _number(name: str) -> str:
    m = re.match(r"(\d\d)_", name)
    return m.group(1) if m else Path(name).stem


def _points(cell):
    """Points an instructor set by hand (a positive number) are kept; else DEFAULT_POINTS."""
    old = (cell.get("metadata", {}).get("nbgrader") or {}).get("points")
    ok = isinstance(old, (int, float)) and not isinstance(old, bool) and old > 0
    return old if ok else DEFAULT_POINTS


def expected_metadata(nb: dict, name: str) -> list[dict | None]:
    """The ``nbgrader`` metadata each cell of ``nb`` should carry (``None``: none)."""
    checkers, helpers = checker_names()
    nn, seen, out = _number(name), {}, []

    def unique(base):
        seen[base] = seen.get(base, 0) + 1
        return base if seen[base] == 1 else f"{base}_{seen[base]}"

    for k, cell in enumerate(nb.get("cells", [])):
        src, kind = _source(cell), cell.get("cell_type")
        where = f"{name}, cell {k}"
        if BEGIN.search(src):
            if kind == "code" and [c for c in called_checks(src) if c in checkers]:
                raise CellRuleError(f"{where}: a solution cell also calls a checker; put the checker call "
                                    f"in the next cell so that it can be graded")
            owner = solution_owner(src) if kind == "code" else None
            meta = {"grade": False, "grade_id": unique(f"{nn}_solution_{owner or f'cell{k}'}"),
                    "locked": False, "schema_version": SCHEMA_VERSION, "solution": True}
            if kind != "code":     # a written answer: nbgrader grades it by hand
                meta.update(grade=True, points=_points(cell))
            out.append(meta)
            continue
        calls = called_checks(src) if kind == "code" else []
        unknown = [c for c in calls if c not in checkers and c not in helpers]
        if unknown:
            raise CellRuleError(f"{where}: check.{unknown[0]}(...) is not a checker exported by nblib.check "
                                f"(a typo, or a checker missing from its module's __all__)")
        graded = [c for c in calls if c in checkers]
        if graded:
            out.append({"grade": True, "grade_id": unique(f"{nn}_check_{'_'.join(graded)}"),
                        "locked": True, "points": _points(cell), "schema_version": SCHEMA_VERSION,
                        "solution": False})
        else:
            out.append(None)
    return out


def stamp(nb: dict, name: str) -> tuple[dict, int]:
    """Write the expected metadata into ``nb`` (in place); return ``(nb, cells changed)``."""
    changed = 0
    for cell, meta in zip(nb.get("cells", []), expected_metadata(nb, name)):
        md = cell.setdefault("metadata", {})
        if md.get("nbgrader") != meta:
            changed += 1
            if meta is None:
                md.pop("nbgrader", None)
            else:
                md["nbgrader"] = meta
    return nb, changed


def problems(nb: dict, name: str) -> list[str]:
    """What ``--check`` reports for one notebook (empty: up to date)."""
    out = []
    for k, (cell, meta) in enumerate(zip(nb.get("cells", []), expected_metadata(nb, name))):
        have = cell.get("metadata", {}).get("nbgrader")
        if have != meta:
            what = "has stale nbgrader metadata" if meta is None else \
                "has no nbgrader metadata" if have is None else "has outdated nbgrader metadata"
            out.append(f"{name}, cell {k} {what} (expected {json.dumps(meta, sort_keys=True)})")
    return out


def summary(nb: dict, name: str) -> tuple[int, int, int]:
    """``(solution cells, test cells, total points)`` as stamped."""
    metas = [m for m in expected_metadata(nb, name) if m]
    tests = [m for m in metas if m["grade"]]
    return len(metas) - len(tests), len(tests), sum(m["points"] for m in tests)


def dumps(nb: dict) -> str:
    """Serialise like Jupyter does (indent 1, keys sorted, UTF-8 kept), as tools.edition does."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv=None) -> int:
    from . import repo_root

    ap = argparse.ArgumentParser(prog="python -m tools.nbgrader", description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", type=Path, default=None, help="folder of notebooks (default: notebooks/)")
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--stamp", action="store_true", help="write the nbgrader metadata")
    mode.add_argument("--check", action="store_true", help="exit 1 if metadata is missing or stale")
    args = ap.parse_args(argv)
    src = args.src or repo_root() / "notebooks"
    paths = sorted(src.glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        print(f"no notebooks named NN_*.ipynb in {src}", file=sys.stderr)
        return 1
    bad = 0
    for path in paths:
        nb = json.loads(path.read_text(encoding="utf-8"))
        try:
            if args.stamp:
                nb, changed = stamp(nb, path.name)
                if changed:
                    path.write_text(dumps(nb), encoding="utf-8")
                sol, tests, pts = summary(nb, path.name)
                print(f"{path.name}: {sol} solution cells, {tests} test cells ({pts} points); "
                      f"{changed} cells changed")
            else:
                found = problems(nb, path.name)
                for line in found:
                    print(line)
                bad += bool(found)
        except CellRuleError as exc:
            print(exc, file=sys.stderr)
            bad += 1
    if args.check:
        if bad:
            print(f"{bad} notebook(s) need `python -m tools.nbgrader --stamp`")
            return 1
        print(f"nbgrader metadata up to date ({len(paths)} notebooks)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
