"""Make the student edition of the notebooks: solutions out, outputs cleared.

Usage (from the repository root)::

    python -m tools.edition            # writes student/NN_*.ipynb from notebooks/NN_*.ipynb
    python -m tools.edition --check    # exit 1 if student/ is out of date (used by the tests)
    python -m tools.edition --out DIR  # write somewhere else
    python -m tools.edition --reset student/01_loss_functions.ipynb --exercise my_mse_grad
                                       # put ONE exercise of a learner's notebook back to its stub

Convention (nbgrader's, so nbgrader users can adopt the notebooks as they are): in a
code cell, the lines from ``### BEGIN SOLUTION`` to ``### END SOLUTION`` are replaced
by nbgrader's stub, at the same indentation::

    # YOUR CODE HERE
    raise NotImplementedError()

In a markdown cell the region becomes ``YOUR ANSWER HERE``. Every exercise in this
course puts its solution inside a function body, so the stub only raises when the
checker calls the function, and the checker turns that into "not implemented yet".
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path

BEGIN = re.compile(r"^(\s*)###\s*BEGIN SOLUTION\s*$")
END = re.compile(r"^\s*###\s*END SOLUTION\s*$")
CODE_STUB = ["# YOUR CODE HERE", "raise NotImplementedError()"]
MARKDOWN_STUB = "YOUR ANSWER HERE"


class SolutionMarkerError(ValueError):
    """A ``### BEGIN SOLUTION`` without its ``### END SOLUTION`` (or the reverse)."""


def strip_solutions(source: str, cell_type: str = "code", where: str = "cell") -> tuple[str, int]:
    """Replace every solution region in ``source``; return ``(new_source, regions_replaced)``."""
    out, inside, indent, count = [], False, "", 0
    for line in source.split("\n"):
        begin, end = BEGIN.match(line), END.match(line)
        if begin:
            if inside:
                raise SolutionMarkerError(f"{where}: '### BEGIN SOLUTION' inside another solution region")
            inside, indent, count = True, begin.group(1), count + 1
            if cell_type == "code":
                out.extend(indent + s for s in CODE_STUB)
            else:
                out.append(indent + MARKDOWN_STUB)
        elif end:
            if not inside:
                raise SolutionMarkerError(f"{where}: '### END SOLUTION' without a BEGIN")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise SolutionMarkerError(f"{where}: '### BEGIN SOLUTION' is never closed by '### END SOLUTION'")
    return "\n".join(out), count


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def student_notebook(nb: dict, name: str = "notebook") -> dict:
    """Return a copy of notebook ``nb`` (a dict in nbformat 4) with solutions stubbed
    and all outputs, execution counts and widget state removed."""
    nb = copy.deepcopy(nb)
    for i, cell in enumerate(nb.get("cells", []), 1):
        new, _ = strip_solutions(_source(cell), cell.get("cell_type", "code"), f"{name}, cell {i}")
        cell["source"] = new
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        meta = cell.get("metadata", {})
        meta.pop("execution", None)
    nb.get("metadata", {}).pop("widgets", None)
    return nb


def dumps(nb: dict) -> str:
    """Serialise like Jupyter does (indent 1, keys sorted, UTF-8 kept)."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def build(src_dir: Path, out_dir: Path) -> dict[str, str]:
    """Student versions of every ``NN_*.ipynb`` in ``src_dir``: ``{file name: JSON text}``."""
    result = {}
    for path in sorted(src_dir.glob("[0-9][0-9]_*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        result[path.name] = dumps(student_notebook(nb, path.name))
    return result


def exercises(nb: dict) -> dict[str, int]:
    """``{name: cell index}`` of the exercise cells of a student notebook: the top-level
    ``def``/``class`` names of each code cell that holds the stub."""
    found = {}
    for k, cell in enumerate(nb.get("cells", [])):
        src = _source(cell)
        if cell.get("cell_type") != "code" or CODE_STUB[1] not in src:
            continue
        for name in _defined(src):
            found.setdefault(name, k)
    return found


def _defined(src: str) -> list[str]:
    import ast

    try:
        tree = ast.parse("\n".join("" if l.lstrip().startswith(("%", "!")) else l for l in src.split("\n")))
    except SyntaxError:
        return []
    return [s.name for s in tree.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]


def reset_exercise(mine: dict, fresh: dict, name: str) -> tuple[dict, int]:
    """Return a copy of the learner's notebook ``mine`` in which the cell defining exercise
    ``name`` is replaced by that cell of the fresh student edition ``fresh`` (its stub, no
    output); every other cell is kept as it is. Returns ``(notebook, 0-based cell index)``."""
    available = exercises(fresh)
    if name not in available:
        raise ValueError(f"reset: no exercise {name!r} in this notebook; its exercises are "
                         f"{', '.join(available) or 'none'}")
    targets = [k for k, c in enumerate(mine.get("cells", []))
               if c.get("cell_type") == "code" and name in _defined(_source(c))]
    if not targets:
        raise ValueError(f"reset: no cell of your notebook defines {name!r} (deleted or renamed?); "
                         f"copy the cell from the fresh student edition instead")
    mine = copy.deepcopy(mine)
    cell, new = mine["cells"][targets[0]], fresh["cells"][available[name]]
    cell["source"] = _source(new)
    cell["outputs"], cell["execution_count"] = [], None
    cell["metadata"] = copy.deepcopy(new.get("metadata", {}))
    return mine, targets[0]


def _fresh_edition(path: Path, src_dir: Path) -> dict:
    """The student edition of ``path``, built from its worked notebook in ``src_dir``."""
    worked = src_dir / path.name
    if not worked.exists():
        raise FileNotFoundError(f"reset: no worked notebook {worked} to take the stub from")
    return student_notebook(json.loads(worked.read_text(encoding="utf-8")), worked.name)


def reset_main(path: Path, name, src_dir: Path) -> int:
    if not path.exists():
        print(f"reset: {path} does not exist", file=sys.stderr)
        return 1
    mine = json.loads(path.read_text(encoding="utf-8"))
    try:
        fresh = _fresh_edition(path, src_dir)
        if name is None:
            print(f"exercises of {path.name}: {', '.join(exercises(fresh))}\n"
                  f"reset one with: python -m tools.edition --reset {path} --exercise NAME")
            return 1
        new, k = reset_exercise(mine, fresh, name)
    except (ValueError, FileNotFoundError) as exc:
        print(exc, file=sys.stderr)
        return 1
    backup = path.with_name(path.name + ".bak")
    backup.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    path.write_text(dumps(new), encoding="utf-8")
    print(f"{path}: exercise {name} (cell {k + 1}) is back to its stub; every other cell is as you left it.\n"
          f"Your previous version: {backup}. If the notebook is open in JupyterLab, use "
          f"File > Reload Notebook from Disk (do not save the open copy first).")
    return 0


def main(argv=None) -> int:
    from . import repo_root

    root = repo_root()
    ap = argparse.ArgumentParser(prog="python -m tools.edition", description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", type=Path, default=root / "notebooks", help="folder of the worked notebooks")
    ap.add_argument("--out", type=Path, default=root / "student", help="folder for the student edition")
    ap.add_argument("--check", action="store_true", help="only check that --out is up to date")
    ap.add_argument("--reset", type=Path, metavar="NOTEBOOK",
                    help="put one exercise of this (learner's) notebook back to its stub; see --exercise")
    ap.add_argument("--exercise", metavar="NAME", help="with --reset: the function the exercise asks for "
                    "(e.g. my_mse_grad); without it, --reset lists the notebook's exercises")
    args = ap.parse_args(argv)
    if args.reset is not None:
        return reset_main(args.reset, args.exercise, args.src)
    built = build(args.src, args.out)
    if not built:
        print(f"no notebooks named NN_*.ipynb in {args.src}", file=sys.stderr)
        return 1
    stale = [n for n, text in built.items()
             if not (args.out / n).exists() or (args.out / n).read_text(encoding="utf-8") != text]
    extra = sorted(p.name for p in args.out.glob("*.ipynb") if p.name not in built) if args.out.exists() else []
    if args.check:
        for n in stale:
            print(f"out of date: {args.out / n}")
        for n in extra:
            print(f"no longer has a source notebook: {args.out / n}")
        if stale or extra:
            print("run `python -m tools.edition` to regenerate the student edition")
            return 1
        print(f"student edition up to date ({len(built)} notebooks)")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for n, text in built.items():
        (args.out / n).write_text(text, encoding="utf-8")
    for n in extra:
        (args.out / n).unlink()
    print(f"wrote {len(built)} student notebooks to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
