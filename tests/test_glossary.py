"""The Chinese layer: the glossary (中英术语表) exists, is well formed, and every notebook and the
README link to it; every notebook ends with a 中文要点 cell."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GLOSSARY = ROOT / "notebooks" / "glossary.md"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def glossary_rows():
    rows = []
    for line in GLOSSARY.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 4 and cells[0] not in ("English", "---"):
            rows.append(cells)
    return rows


def test_glossary_has_about_eighty_terms_each_with_chinese_and_a_notebook():
    rows = glossary_rows()
    assert len(rows) >= 80, len(rows)
    english = [r[0].lower() for r in rows]
    assert len(set(english)) == len(english), "a term is listed twice"
    numbers = {p.name[:2] for p in NOTEBOOKS}
    for en, zh, where, _ in rows:
        assert re.search(r"[\u4e00-\u9fff]", zh), f"{en}: no Chinese term"
        assert where in numbers, f"{en}: notebook {where!r} does not exist"


def test_central_terms_are_in_the_glossary():
    text = GLOSSARY.read_text(encoding="utf-8")
    for zh in ["梯度下降", "反向传播", "权重", "偏置", "全连接层", "多层感知机", "训练集", "验证集", "测试集",
               "混淆矩阵", "过拟合", "权重衰减", "卷积", "展平", "初始化", "标准化", "学习率", "链式法则"]:
        assert zh in text, zh


def test_readme_links_the_glossary():
    assert "(notebooks/glossary.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


def markdown(path):
    return ["".join(c["source"]) for c in json.loads(path.read_text(encoding="utf-8"))["cells"]
            if c["cell_type"] == "markdown"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_links_the_glossary_and_ends_with_chinese_key_points(path):
    cells = markdown(path)
    assert any("glossary.md" in c for c in cells), f"{path.name} does not link notebooks/glossary.md"
    last = cells[-1]
    assert last.lstrip().startswith("## 中文要点"), f"{path.name}: the last markdown cell is not '## 中文要点'"
    assert len(re.findall(r"[\u4e00-\u9fff]", last)) >= 150, f"{path.name}: 中文要点 is too short"


SEED_NAME = re.compile(r"\bseeds?[- ]?00\d", flags=re.I)
LEARNER_FACING = [*NOTEBOOKS, *sorted((ROOT / "nblib").rglob("*.py")), ROOT / "README.md", ROOT / "notebooks" / "README.md"]


@pytest.mark.parametrize("path", LEARNER_FACING, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_learner_facing_seed_numbers(path):
    """The source articles are named by title, never "seed 00x" (a learner has no seeds, and
    "seed" means a random seed here): in every cell and output, the library and the guides."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        assert not SEED_NAME.search(line), f"{path.relative_to(ROOT)}:{number} says 'seed 00x': {line.strip()[:100]}"


def source_article_rows():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### The source articles"):]
    section = section[:section.index("\n\n", section.index("| Short name"))]
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in section.splitlines()
            if line.startswith("| 《")]
    return rows


def test_readme_names_the_five_source_articles():
    rows = source_article_rows()
    assert len(rows) == 5
    for short, title, *_ in rows:
        assert short.startswith("《") and re.search(r"[\u4e00-\u9fff]", title)


@pytest.mark.parametrize("row", source_article_rows(), ids=lambda r: r[0])
def test_each_correction_the_readme_promises_is_in_its_notebook(row):
    """README says which notebooks correct each article: each of them has a
    '原文错在哪里' box that names the article."""
    short, title, _, wrong = row
    numbers = sorted(set(re.findall(r"\b(0[1-9]|1[01])\b", wrong)))
    assert numbers, f"{short}: no notebook named"
    for number in numbers:
        path = next(p for p in NOTEBOOKS if p.name.startswith(number))
        boxes = [c for c in markdown(path) if "原文错在哪里" in c]
        names = {short, short.strip("《》")} | ({title, title.strip("《》").split("：")[0]} if title.startswith("《") else set())
        assert any(name in c for c in boxes for name in names), \
            f"{path.name} has no '原文错在哪里' box naming {short}"
