"""README and instructor guide agree: one source of truth for what each notebook is and how long it takes."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
GUIDE = (ROOT / "notebooks" / "README.md").read_text(encoding="utf-8")
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def readme_rows():
    return {m.group(1): (m.group(2), int(m.group(3)))
            for m in re.finditer(r"^\| (\d\d) \| \[[^\]]+\]\(notebooks/([^)]+)\) \|.*\| (\d+) \|$", README, flags=re.M)}


def test_the_readme_table_has_one_row_per_notebook_in_order():
    rows = readme_rows()
    assert [f for f, _ in rows.values()] == [p.name for p in NOTEBOOKS]
    assert all(f.startswith(n) for n, (f, _) in rows.items())


def test_minutes_agree_with_the_instructor_guide():
    guide = {m.group(1): int(m.group(2)) for m in re.finditer(r"^### (\d\d) · .*\((\d+) min\)$", GUIDE, flags=re.M)}
    readme = {n: minutes for n, (_, minutes) in readme_rows().items()}
    assert guide == readme, f"guide {guide} vs README {readme}"


def test_the_guide_overview_table_agrees_with_its_own_lecture_plans():
    overview = {m.group(1): (m.group(2), int(m.group(3))) for m in re.finditer(
        r"^\| (\d\d) \| \[[^\]]+\]\(([^)]+\.ipynb)\) \| (\d+) min \|", GUIDE, flags=re.M)}
    plans = {m.group(1): int(m.group(2)) for m in re.finditer(r"^### (\d\d) · .*\((\d+) min\)$", GUIDE, flags=re.M)}
    assert [f for f, _ in overview.values()] == [p.name for p in NOTEBOOKS]
    assert {n: m for n, (_, m) in overview.items()} == plans
    for n, (f, _) in overview.items():
        assert f.startswith(n), f"guide row {n} links {f}"


def solution_lines(path):
    """Non-comment lines inside each ### BEGIN/END SOLUTION region of a notebook's code cells."""
    import json

    regions = []
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] != "code":
            continue
        inside = None
        for line in "".join(cell["source"]).split("\n"):
            if re.match(r"\s*### BEGIN SOLUTION", line):
                inside = 0
            elif re.match(r"\s*### END SOLUTION", line):
                regions.append(inside)
                inside = None
            elif inside is not None and line.strip() and not line.strip().startswith("#"):
                inside += 1
    return regions


def test_every_notebook_has_the_learner_build_something():
    """README: in each notebook the learner writes code the notebook then runs on (several hundred lines
    over the course); no notebook's exercises are only one-liners."""
    totals = {p.name: sum(solution_lines(p)) for p in NOTEBOOKS}
    assert all(t >= 10 for t in totals.values()), totals
    assert sum(totals.values()) >= 300, totals
    assert sum(max(solution_lines(p)) >= 10 for p in NOTEBOOKS) >= 9, totals
