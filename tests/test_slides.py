"""Slide decks (tools.slides): slide metadata, offline decks, solutions left out on request.

The decks need reveal.js & co. from the npm registry once (cached in build/npm-cache/);
without npm and without that cache the deck tests skip and say why.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
import shutil
import tempfile
from pathlib import Path

import pytest

from tools import slides
from tools.edition import BEGIN, END

pytestmark = pytest.mark.slides  # deselect with -m 'not slides'

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = slides.notebooks(ROOT / "notebooks")
CHROMIUM = Path("/usr/bin/chromium")


# -------------------------------------------------------------------------------------
# helpers
# -------------------------------------------------------------------------------------
_ids = iter(range(10**6))


def md(text, **meta):
    return {"cell_type": "markdown", "id": f"c{next(_ids)}", "metadata": dict(meta), "source": text}


def code(text, outputs=(), **meta):
    return {"cell_type": "code", "id": f"c{next(_ids)}", "metadata": dict(meta), "source": text,
            "outputs": list(outputs), "execution_count": 1}


def png_output(width=6.0, height=3.0):
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    assert matplotlib  # imported for the Agg backend only
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.plot([0, 1, 2], [2, 0, 1])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    b64 = base64.b64encode(buf.getvalue()).decode("ascii")
    return {"output_type": "display_data", "metadata": {},
            "data": {"image/png": b64, "text/plain": "<Figure size 600x300 with 1 Axes>"}}


def notebook(cells):
    return {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                         "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def types(nb):
    return [c["metadata"].get("slideshow", {}).get("slide_type") for c in nb["cells"]]


def visible_text(page_html: str) -> str:
    """The text of a deck with tags removed (code is split into pygments spans)."""
    return html.unescape(re.sub(r"<[^>]+>", "", page_html))


def solution_lines(nb) -> list[str]:
    """Lines inside solution regions that appear nowhere else in the notebook's sources
    (so their absence from a deck proves the solution was left out)."""
    inside, outside = [], []
    for cell in nb["cells"]:
        src = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        region = False
        for line in src.split("\n"):
            if BEGIN.match(line):
                region = True
            elif END.match(line):
                region = False
            else:
                (inside if region else outside).append(line.strip())
    rest = "\n".join(outside)
    return [line for line in inside if len(line) >= 12 and line not in rest and not line.startswith("#")]


@pytest.fixture(scope="session")
def asset_cache():
    try:
        slides.ensure_assets(slides.default_cache(), quiet=True)
    except slides.AssetError as e:
        pytest.skip(f"offline slide assets unavailable: {e}")
    return slides.default_cache()


# -------------------------------------------------------------------------------------
# slide metadata
# -------------------------------------------------------------------------------------
def test_headings_start_slides_and_subslides():
    nb = notebook([
        md("# Title\n\nWhy this matters."),
        md("## Set-up\n\nWe import what we use."),
        code("import numpy as np\nnp.set_printoptions(precision=4)"),
        md("## A section"),
        code("from nblib.plots import (use_course_style,\n    BLUE)\nuse_course_style()"),
        md("Some prose."),
        code("x = 1"),
        md("### A sub-section\n\ntext"),
        md("Speaker hint", slideshow={"slide_type": "notes"}),
        md("## Next section", slideshow={"slide_type": "notes"}),  # a heading is never a note
    ])
    tagged, changed = slides.tag_notebook(nb)
    assert types(tagged) == ["slide", "skip", "skip", "slide", "skip", "-", "-", "subslide", "notes", "slide"]
    assert changed == 9  # the "notes" cell already had its type
    assert types(nb)[0] is None, "tag_notebook must not modify its argument"


def test_tagging_changes_only_metadata_and_is_idempotent(tmp_path):
    nb = notebook([md("# T"), code("print(1)", [{"output_type": "stream", "name": "stdout", "text": "1\n"}]),
                   md("## S\n\n$$a = b$$")])
    path = tmp_path / "01_x.ipynb"
    path.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    assert slides.tag_file(path) == 3
    once = json.loads(path.read_text(encoding="utf-8"))
    for before, after in zip(nb["cells"], once["cells"]):
        assert after["source"] == before["source"]
        assert after.get("outputs") == before.get("outputs")
        assert set(after["metadata"]) - set(before["metadata"]) == {"slideshow"}
    text = path.read_text(encoding="utf-8")
    assert slides.tag_file(path) == 0
    assert path.read_text(encoding="utf-8") == text
    assert slides.main(["--check-tags", str(path)]) == 0


def test_a_long_section_is_split_into_subslides():
    figure = png_output(7.5, 4.2)  # 420 px tall: two of them do not fit one 700 px slide
    nb = notebook([md("# T"), md("## Section"), code("plot()", [figure]), code("plot()", [figure]),
                   code("plot()", [figure])])
    tagged, _ = slides.tag_notebook(nb)
    assert types(tagged) == ["slide", "slide", "-", "subslide", "subslide"]


def test_a_split_keeps_the_prose_that_introduces_the_code():
    figure = png_output(7.5, 4.2)
    nb = notebook([md("# T"), md("## Section"), code("plot()", [figure]),
                   md("Now the same with a larger learning rate:"), code("plot(lr=1)", [figure])])
    tagged, _ = slides.tag_notebook(nb)
    assert types(tagged) == ["slide", "slide", "-", "subslide", "-"]


def test_a_heading_inside_a_cell_starts_its_own_slide_in_the_deck():
    nb = notebook([md("# T"), md("Closing words of section 1.\n\n## 2. Next\n\nIntro.\n\n```\n# not a heading\n```"
                                 "\n### Exercise\n\nDo it.")])
    tagged, _ = slides.tag_notebook(nb)
    cells = slides.prepare(tagged)["cells"]
    assert [c["source"].split("\n")[0] for c in cells] == ["# T", "Closing words of section 1.", "## 2. Next",
                                                           "### Exercise"]
    assert types({"cells": cells}) == ["slide", "-", "slide", "subslide"]
    assert "# not a heading" in cells[2]["source"]
    assert len({c["id"] for c in cells}) == 4
    assert types(tagged) == ["slide", "-"], "the notebook itself is not split"


def test_check_tags_reports_untagged_notebooks(tmp_path, capsys):
    path = tmp_path / "02_y.ipynb"
    path.write_text(json.dumps(notebook([md("# T"), md("## S")])), encoding="utf-8")
    assert slides.main(["--check-tags", str(path)]) == 1
    assert "--tag" in capsys.readouterr().out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_every_notebook_gets_slides_from_its_headings(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    tagged, _ = slides.tag_notebook(nb)
    kinds = types(tagged)
    assert kinds[0] == "slide"
    for cell, kind in zip(nb["cells"], kinds):
        src = "".join(cell["source"]).lstrip()
        if cell["cell_type"] == "markdown" and re.match(r"##?\s+set-?up", src, re.I):
            assert kind == "skip", src[:60]
        elif cell["cell_type"] == "markdown" and re.match(r"##?\s", src):
            assert kind == "slide", src[:60]
        elif cell["cell_type"] == "markdown" and src.startswith("### "):
            assert kind == "subslide", src[:60]
        else:
            assert kind in ("-", "skip", "subslide", "notes"), src[:60]
    assert kinds.count("slide") >= 2, "a notebook should have at least one '## ' section"


# -------------------------------------------------------------------------------------
# the offline check itself
# -------------------------------------------------------------------------------------
def test_remote_reference_finder_catches_each_kind_of_load():
    page = """<html><head>
    <script src="https://cdn.example.org/reveal.js"></script>
    <link rel="stylesheet" href="//cdn.example.org/theme.css">
    <style>@import url(https://fonts.example.org/css?family=Lato); .x{background:url('http://e.org/a.png')}</style>
    <script type="module">import mermaid from 'https://cdn.example.org/mermaid.mjs';</script>
    <script>require(["https://cdn.example.org/notes.js"]); s.src = "https://cdn.example.org/w.js";</script>
    <!-- <script src="https://commented.example.org/x.js"></script> -->
    </head><body><a href="https://example.org/docs">a plain link is not a load</a>
    <script src="_assets/local.js"></script></body></html>"""
    found = slides.remote_references(page)
    assert found == sorted(["https://cdn.example.org/reveal.js", "//cdn.example.org/theme.css",
                            "https://fonts.example.org/css?family=Lato", "http://e.org/a.png",
                            "https://cdn.example.org/mermaid.mjs", "https://cdn.example.org/notes.js",
                            "https://cdn.example.org/w.js"])


def test_nbconvert_default_slides_are_not_offline():
    """The reason this module exists: stock nbconvert decks load reveal.js from a CDN."""
    import nbformat
    from nbconvert import SlidesExporter

    nb = nbformat.reads(json.dumps(notebook([md("# T\n\n$x^2$")])), as_version=4)
    body, _ = SlidesExporter().from_notebook_node(nb)
    assert any("reveal.js" in url for url in slides.remote_references(body))


# -------------------------------------------------------------------------------------
# decks
# -------------------------------------------------------------------------------------
SECRET = "return 2 * (y_pred - y_true) / y_pred.size  # mean over the batch"


@pytest.fixture(scope="module")
def demo(tmp_path_factory, asset_cache):
    """A small executed-looking notebook: LaTeX, a figure, an exercise with a solution."""
    folder = tmp_path_factory.mktemp("demo")
    figure = png_output()
    nb = notebook([
        md("# Demo deck\n\nWhy this matters."),
        md("## The loss\n\n$$L = \\frac{1}{n}\\sum_i (\\hat y_i - y_i)^2,\\quad \\hat y: (n,)$$"),
        code("plot_loss()", [figure]),
        md("## Exercise"),
        code("def my_mse_grad(y_pred, y_true):\n    ### BEGIN SOLUTION\n    " + SECRET + "\n    ### END SOLUTION"),
    ])
    path = folder / "01_demo.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    full = slides.build_all(paths=[path], out=folder / "full", cache=asset_cache, quiet=True)[0]
    bare = slides.build_all(paths=[path], out=folder / "bare", solutions=False, cache=asset_cache, quiet=True)[0]
    return {"full": full.read_text(encoding="utf-8"), "bare": bare.read_text(encoding="utf-8"),
            "png": figure["data"]["image/png"], "full_path": full}


def local_refs(page_html: str) -> list[str]:
    refs = re.findall(r"""<(?:script|link)\b[^>]*?\b(?:src|href)\s*=\s*["']([^"']+)""", page_html)
    refs += re.findall(r"""widgetRendererSrc\s*=\s*'([^']+)'""", page_html)
    refs += re.findall(r'"(_assets/[^"]+\.js)"', page_html)  # require([...]) of reveal.js and its plugin
    return sorted(set(r.split("?")[0] for r in refs))


def test_demo_deck_is_offline_and_complete(demo):
    page = demo["full"]
    assert slides.remote_references(page) == []
    refs = local_refs(page)
    assert "_assets/reveal.js/dist/reveal.js" in refs and "_assets/mathjax/MathJax.js" in refs
    for ref in refs:
        assert (demo["full_path"].parent / ref).is_file(), f"the deck loads {ref}, which is not in the build folder"
    assert demo["png"] in page, "the executed figure must be embedded in the deck"
    assert page.count("<section") >= 3
    assert SECRET in visible_text(page)


def test_no_solutions_deck_leaves_the_solution_out(demo):
    text = visible_text(demo["bare"])
    assert SECRET not in text
    assert "raise NotImplementedError()" in text
    assert demo["png"] in demo["bare"], "outputs stay when solutions are left out"
    assert slides.remote_references(demo["bare"]) == []


def test_missing_npm_gives_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(slides.AssetError, match="needs the npm client"):
        slides.ensure_assets(tmp_path / "empty-cache")


def test_a_tampered_tarball_is_refused(tmp_path, asset_cache):
    for spec in slides.ASSETS:
        name = slides._tarball_name(spec)
        shutil.copy(asset_cache / name, tmp_path / name)
    victim = tmp_path / slides._tarball_name("jquery@3.7.1")
    victim.write_bytes(victim.read_bytes() + b"\0")
    with pytest.raises(slides.AssetError, match="sha512"):
        slides.ensure_assets(tmp_path)


@pytest.fixture(scope="module")
def course_decks(tmp_path_factory, asset_cache):
    assert NOTEBOOKS, "no notebooks/NN_*.ipynb to build decks from"
    out = tmp_path_factory.mktemp("decks")
    full = slides.build_all(out=out / "full", cache=asset_cache, quiet=True)
    bare = slides.build_all(out=out / "bare", solutions=False, cache=asset_cache, quiet=True)
    return {p.name: (f, b) for p, f, b in zip(NOTEBOOKS, full, bare)}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_course_deck(path, course_decks):
    full_path, bare_path = course_decks[path.name]
    full, bare = full_path.read_text(encoding="utf-8"), bare_path.read_text(encoding="utf-8")
    assert slides.remote_references(full) == [], "a deck must load nothing from the internet"
    assert slides.remote_references(bare) == []
    for ref in local_refs(full):
        assert (full_path.parent / ref).is_file(), f"the deck loads {ref}, which is not in the build folder"
    nb = json.loads(path.read_text(encoding="utf-8"))
    # every stored figure that is not a live widget is embedded as it is
    pngs = [o["data"]["image/png"] for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"]
            if "image/png" in o.get("data", {}) and "application/vnd.jupyter.widget-view+json" not in o["data"]]
    for b64 in pngs:
        b64 = "".join(b64) if isinstance(b64, list) else b64
        assert b64.strip() in full, "an executed plot is missing from the deck"
    # explorers come with their widget state, rendered offline by the local html-manager
    if any("application/vnd.jupyter.widget-view+json" in o.get("data", {})
           for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"]):
        assert "application/vnd.jupyter.widget-state+json" in full
    hidden = solution_lines(nb)
    text_full, text_bare = visible_text(full), visible_text(bare)
    for line in hidden:
        assert line in text_full
        assert line not in text_bare, f"--no-solutions deck still shows: {line}"


def test_deck_runs_offline_in_chromium(course_decks, tmp_path):
    """Open the first course deck from disk with every network request refused: reveal.js
    starts, MathJax typesets, the explorers render from their saved state."""
    playwright = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found (apt-get install chromium) — the offline browser check needs it")
    name = sorted(course_decks)[0]
    deck = course_decks[name][0]
    nb = json.loads((ROOT / "notebooks" / name).read_text(encoding="utf-8"))
    has_math = any("$" in "".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    has_widgets = "application/vnd.jupyter.widget-state+json" in deck.read_text(encoding="utf-8")
    refused, errors = [], []
    with playwright.sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        ctx = p.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), headless=True, viewport={"width": 1280, "height": 800},
            args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        try:
            def route(r):
                if r.request.url.split(":", 1)[0] in ("file", "data", "blob"):
                    r.continue_()
                else:
                    refused.append(r.request.url)
                    r.abort()
            ctx.route("**/*", route)
            page = ctx.pages[0]
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(deck.as_uri())
            page.wait_for_selector(".reveal.ready", state="attached", timeout=30000)
            if has_math:
                page.wait_for_function("window.MathJax && MathJax.Hub && MathJax.Hub.queue.pending === 0"
                                       " && document.querySelectorAll('.mjx-chtml').length > 0", timeout=30000)
            if has_widgets:
                page.wait_for_selector(".widget-image, .jupyter-widgets img", state="attached", timeout=30000)
            n = page.evaluate("document.querySelectorAll('.reveal .slides > section').length")
        finally:
            ctx.close()
    assert n >= 2
    assert refused == [], f"the deck tried to reach the network: {refused}"
    assert errors == [], f"JavaScript errors in the deck: {errors}"
