"""Lecture slides: one offline reveal.js deck per notebook.

Usage (from the repository root)::

    python -m tools.slides                  # build/slides/NN_name.slides.html + build/slides/index.html
    python -m tools.slides --no-solutions   # decks without solution code (build/slides-exercises/)
    python -m tools.slides --out DIR        # somewhere else
    python -m tools.slides --tag            # (re)write the slide metadata of every notebook
    python -m tools.slides --check-tags     # exit 1 if a notebook's slide metadata is out of date

Open ``build/slides/index.html`` (or one deck) in a browser: no internet needed. The folder
is self-contained (the decks and an ``_assets/`` folder), so it can be copied to a USB
stick or the lecture-hall computer as it is. Keys: arrows to move, ``s`` speaker notes,
``o`` overview, ``f`` full screen.

How it stays offline
    nbconvert's slides load reveal.js, require.js, jQuery, MathJax and the widget renderer
    from CDNs when the deck is opened. Here those packages are fetched from the npm
    registry at *build* time (``npm pack``, pinned versions with their sha512 checked) into
    ``build/npm-cache/`` (git-ignored; later builds reuse it and need no network), unpacked
    into ``<out>/_assets/``, and the exporter is pointed at those local copies. A deck's
    HTML references no remote script or stylesheet (``tests/test_slides.py`` checks it).

Slide metadata (``cell.metadata.slideshow.slide_type``), written by :func:`tag_notebook`
    * a markdown cell starting with ``# `` or ``## `` starts a new slide,
      one starting with ``### `` a sub-slide (reveal.js: down arrow);
    * the "Set-up" section (a ``## Set-up`` heading and its cells) and any other code
      cell made only of imports / ``use_course_style()`` are skipped;
    * every other cell continues the current slide (``-``), except that when the
      estimated height of a slide passes one screen the next cell starts a sub-slide
      (together with the paragraph that introduces it, when it is code), so a long
      section becomes a column of sub-slides rather than one tall slide;
    * cells an author marked ``notes`` (speaker notes) keep that mark.
    Tagging changes only cell metadata, never sources or outputs.

Executed outputs (plots, explorers in their initial state) come from the notebooks as
committed (they are executed; nbval checks that the outputs are what the code produces).
``--no-solutions`` replaces every ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` region by
the student stub (the same rule as :mod:`tools.edition`) and keeps all other outputs.
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import html
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from . import repo_root
from .edition import dumps, strip_solutions

__all__ = ["ASSETS", "tag_notebook", "tag_file", "ensure_assets", "build_deck", "build_all",
           "remote_references", "main"]



def default_cache() -> Path:
    """Where npm tarballs are kept: ``build/npm-cache`` of the checkout."""
    return repo_root() / "build" / "npm-cache"

#: npm packages a deck needs: spec -> sha512 integrity of the tarball (as npm reports it).
ASSETS = {
    "reveal.js@4.6.0": "sha512-QC80rYsZldAe95bW9VImucIPTjfsKhI0jRQrIOXU4P92ZyXb/dfw9L3EE96bN6i7UmeUl1qBieH4UNTr25erYw==",
    "requirejs@2.3.7": "sha512-DouTG8T1WanGok6Qjg2SXuCMzszOo0eHeH9hDZ5Y4x8Je+9JB38HdTLT4/VA8OaUhBa0JPVHJ0pyBkM1z+pDsw==",
    "jquery@3.7.1": "sha512-m4avr8yL8kmFN8psrbFFFmB/If14iN5o9nw/NgnnM+kybDJpRsAynV2BsfpTYrTRysYUdADVD7CkUUizgkpLfg==",
    "mathjax@2.7.9": "sha512-NOGEDTIM9+MrsqnjPEjVGNx4q0GQxqm61yQwSK+/5S59i26wId5IC5gNu9/bu8+CCVl5p9G2IHcAl/wJa+5+BQ==",
    "@jupyter-widgets/html-manager@1.0.15": "sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA==",
}

# Where each package's files go under <out>/_assets/ ({name in the tarball: folder}), and
# which parts are left out (MathJax ships 60 MB of fonts and outputs a deck never uses).
_LAYOUT = {
    "reveal.js": ("reveal.js", ["dist", "plugin", "LICENSE"]),
    "requirejs": ("requirejs", ["require.js", "README.md"]),
    "jquery": ("jquery", ["dist/jquery.min.js", "LICENSE.txt"]),
    "mathjax": ("mathjax", ["MathJax.js", "LICENSE", "config", "extensions", "jax/input", "jax/element",
                            "jax/output/CommonHTML", "jax/output/PreviewHTML", "jax/output/HTML-CSS",
                            "jax/output/NativeMML", "jax/output/PlainSource",
                            "fonts/HTML-CSS/TeX/woff", "fonts/HTML-CSS/TeX/otf", "localization/en"]),
    "@jupyter-widgets/html-manager": ("html-manager", ["dist", "LICENSE"]),
}
_SKIP = ("*.map", "embed.js", "*.esm.js")  # source maps, non-AMD bundles: never loaded by a deck

# Paths the exporter is given, relative to the deck (decks and _assets/ share a folder).
_URLS = {
    "reveal_url_prefix": "_assets/reveal.js",
    "require_js_url": "_assets/requirejs/require.js",
    "jquery_url": "_assets/jquery/dist/jquery.min.js",
    # MathJax.js itself, not latest.js (which asks a CDN for the newest version).
    "mathjax_url": "_assets/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe",
    "widget_renderer_url": "_assets/html-manager/dist/embed-amd.js",
}

# The reveal template imports mermaid as an ES module from a CDN in every deck; the
# course has no mermaid diagrams, so that block is left empty.
_TEMPLATE = """{%- extends 'index.html.j2' -%}
{% block html_head_js_mermaidjs %}{% endblock html_head_js_mermaidjs %}
{% block html_head_css %}
<style type="text/css">
/* A slide taller than the screen scrolls (wheel, trackpad, or the scrollbar) instead of being cut off. */
.reveal .slides section:not(.stack) { max-height: 100%; overflow-y: auto; overflow-x: hidden; }
/* Long code lines wrap instead of running off the slide. */
.reveal .jp-InputArea-editor pre, .reveal .jp-OutputArea pre { white-space: pre-wrap; word-break: break-word; }
/* Figures never wider than the slide. */
.reveal .slides img { max-width: 100%; height: auto; }
</style>
{% endblock html_head_css %}
"""

# -------------------------------------------------------------------------------------
# slide metadata
# -------------------------------------------------------------------------------------
SCREEN_PX = 640        # usable height of a 960x700 reveal.js slide, in its own pixels
TEXT_WIDTH_PX = 850    # width of a cell's content on a slide
_SETUP_HEADING = re.compile(r"\s*##?\s+(\d+\.\s*)?set[- ]?up\b", re.I)
_IMPORT_LINE = re.compile(r"^\s*(#.*|import\s.+|from\s+\S+\s+import\s.+|use_course_style\(\)\s*(#.*)?|%\w.*)?$")


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _heading_level(cell) -> int:
    if cell.get("cell_type") != "markdown":
        return 0
    m = re.match(r"\s*(#{1,6})\s", _source(cell))
    return len(m.group(1)) if m else 0


def _is_setup_cell(cell) -> bool:
    """A code cell made only of imports, comments, magics and ``use_course_style()``."""
    if cell.get("cell_type") != "code":
        return False
    src = _source(cell).strip()
    if not src:
        return False
    # "from x import (a,\n b)" continuation lines
    joined = re.sub(r"import\s*\([^)]*\)", "import names", src)
    return all(_IMPORT_LINE.match(line) for line in joined.split("\n")) and \
        ("import" in src or "use_course_style" in src)


def _wrapped_lines(text: str, chars: int) -> int:
    return sum(max(1, -(-len(line) // chars)) for line in text.split("\n"))


def _png_size(b64: str) -> tuple[int, int]:
    try:
        head = base64.b64decode(b64[:64])
        return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    except Exception:  # not a PNG header: assume a typical figure
        return 750, 420


def _image_height(data: dict) -> float:
    w, h = _png_size("".join(data["image/png"]) if isinstance(data["image/png"], list) else data["image/png"])
    return h * min(1.0, TEXT_WIDTH_PX / max(w, 1))


def _output_height(out) -> float:
    kind = out.get("output_type")
    if kind == "stream":
        text = "".join(out.get("text", ""))
        return 24 * min(_wrapped_lines(text.rstrip("\n"), 80), 30)
    if kind == "error":
        return 24 * 12
    data = out.get("data", {})
    h = 0.0
    if "image/png" in data:
        h += _image_height(data)
        if "application/vnd.jupyter.widget-view+json" in data:
            h += 110  # an explorer: header, controls and status above its figure
    elif "text/html" in data:
        text = "".join(data["text/html"])
        h += 32 * max(1, text.count("<tr")) + 24 * text.count("<br")
    elif "text/markdown" in data or "text/latex" in data:
        h += 60
    elif "text/plain" in data:
        h += 24 * min(_wrapped_lines("".join(data["text/plain"]), 80), 30)
    return h


def estimate_height(cell) -> float:
    """A rough height of ``cell`` on a slide, in reveal.js pixels (slides are 960x700)."""
    src = _source(cell)
    if cell.get("cell_type") == "markdown":
        level = _heading_level(cell)
        body = src
        h = 0.0
        if level:
            first, _, body = src.lstrip().partition("\n")
            h += 60 if level <= 2 else 45
        blocks = re.findall(r"\$\$.*?\$\$", body, flags=re.S)
        body = re.sub(r"\$\$.*?\$\$", "", body, flags=re.S)
        h += 70 * len(blocks)
        h += 26 * _wrapped_lines(body.strip(), 88) if body.strip() else 0
        return h + 10
    if cell.get("cell_type") == "code":
        return 26 * _wrapped_lines(src, 72) + 20 + sum(_output_height(o) for o in cell.get("outputs", []))
    return 30 * _wrapped_lines(src, 80)


def assign_slide_types(cells) -> list[str]:
    """The slide type for each cell (see the module docstring for the rule)."""
    types, heights, used, setup = [], [], 0.0, False
    for i, cell in enumerate(cells):
        old = cell.get("metadata", {}).get("slideshow", {}).get("slide_type")
        level = _heading_level(cell)
        h = estimate_height(cell)
        if level in (1, 2):
            setup = bool(_SETUP_HEADING.match(_source(cell)))
        if old == "notes" and not level:
            kind = "notes"
        elif setup:
            kind = "skip"
        elif i == 0 or level in (1, 2):
            kind = "slide"
        elif level == 3:
            kind = "subslide"
        elif _is_setup_cell(cell):
            kind = "skip"
        elif (used > 0 and used + h > SCREEN_PX and not (h < 100 and used + h < SCREEN_PX + 100)
              and not (types and types[-1] in ("slide", "subslide") and used == heights[-1]
                       and cells[i - 1].get("cell_type") == "markdown")):
            # (a slide holding only the paragraph that introduces this cell keeps it, and scrolls)
            kind = "subslide"  # (a short cell may overflow a little: the slide scrolls)
            prev = len(types) - 1
            if (cell.get("cell_type") == "code" and prev > 0 and types[prev] == "-"
                    and cells[prev].get("cell_type") == "markdown" and used > heights[prev]):
                # keep the prose that introduces this code with it: split before the prose
                types[prev] = "subslide"
                kind = "-"
                used = heights[prev]
        else:
            kind = "-"
        if kind in ("slide", "subslide"):
            used = h
        elif kind == "-":
            used += h
        types.append(kind)
        heights.append(h)
    return types


def tag_notebook(nb: dict) -> tuple[dict, int]:
    """Return ``(copy of nb with slide metadata, number of cells whose slide type changed)``."""
    nb = copy.deepcopy(nb)
    cells = nb.get("cells", [])
    changed = 0
    for cell, kind in zip(cells, assign_slide_types(cells)):
        meta = cell.setdefault("metadata", {})
        if meta.get("slideshow", {}).get("slide_type") != kind:
            changed += 1
        meta.setdefault("slideshow", {})["slide_type"] = kind
    return nb, changed


def tag_file(path: Path, write: bool = True) -> int:
    """Tag the notebook at ``path`` in place (metadata only). Returns the cells changed."""
    text = path.read_text(encoding="utf-8")
    nb, changed = tag_notebook(json.loads(text))
    if changed and write:
        path.write_text(dumps(nb), encoding="utf-8")
    return changed


def has_slide_metadata(nb: dict) -> bool:
    return any("slideshow" in c.get("metadata", {}) for c in nb.get("cells", []))



# -------------------------------------------------------------------------------------
# offline assets
# -------------------------------------------------------------------------------------
class AssetError(RuntimeError):
    """The offline copies of reveal.js & co. could not be fetched or checked."""


def _tarball_name(spec: str) -> str:
    name, version = spec.rsplit("@", 1)
    return f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"


def _integrity(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode("ascii")


def ensure_assets(cache: Path | None = None, quiet: bool = False) -> dict[str, Path]:
    """The npm tarballs of :data:`ASSETS` in ``cache``, fetched with ``npm pack`` if missing.

    Returns ``{package name: tarball path}``. Raises :class:`AssetError` when npm is not
    installed or the registry cannot be reached, or a tarball's sha512 is not the pinned one.
    """
    cache = Path(cache or default_cache())
    cache.mkdir(parents=True, exist_ok=True)
    missing = [s for s in ASSETS if not (cache / _tarball_name(s)).exists()]
    if missing:
        npm = shutil.which("npm")
        if npm is None:
            raise AssetError(
                "building offline slides needs the npm client once, to fetch "
                f"{', '.join(missing)} into {cache} (install Node.js/npm, e.g. `apt-get install npm`; "
                "or copy a filled build/npm-cache/ from another machine)")
        if not quiet:
            print(f"fetching {', '.join(missing)} from the npm registry into {cache}", file=sys.stderr)
        proc = subprocess.run([npm, "pack", *missing, "--pack-destination", str(cache), "--silent"],
                              cwd=cache, capture_output=True, text=True)
        if proc.returncode != 0:
            raise AssetError(f"`npm pack {' '.join(missing)}` failed (no network?):\n{proc.stderr[-2000:]}")
    result = {}
    for spec, expected in ASSETS.items():
        path = cache / _tarball_name(spec)
        if not path.exists():
            raise AssetError(f"npm pack did not write {path}")
        got = _integrity(path)
        if got != expected:
            raise AssetError(f"{path}: sha512 is {got}, expected {expected} (pinned in tools.slides.ASSETS); "
                             "delete the file to fetch it again")
        result[spec.rsplit("@", 1)[0]] = path
    return result


def _layout_stamp() -> str:
    return "\n".join(ASSETS) + f"\nlayout {hashlib.sha1(repr((_LAYOUT, _SKIP)).encode()).hexdigest()[:12]}\n"


def _unpacked(cache: Path, quiet: bool = False) -> Path:
    """The files a deck needs, unpacked once into ``cache/assets-<hash>/`` and reused."""
    stamp = _layout_stamp()
    folder = Path(cache) / f"assets-{hashlib.sha1(stamp.encode()).hexdigest()[:12]}"
    if (folder / "VERSIONS.txt").exists():
        return folder
    tarballs = ensure_assets(cache, quiet=quiet)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        staging = Path(tmp) / "assets"
        for name, tarball in tarballs.items():
            sub, keep = _LAYOUT[name]
            unpacked = Path(tmp) / "tar" / sub
            with tarfile.open(tarball) as tf:
                tf.extractall(unpacked, filter="data")
            pkg = unpacked / "package"
            for part in keep:
                src, dst = pkg / part, staging / sub / part
                if not src.exists():
                    continue
                dst.parent.mkdir(parents=True, exist_ok=True)
                if src.is_dir():
                    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(*_SKIP))
                else:
                    shutil.copy2(src, dst)
        (staging / "VERSIONS.txt").write_text(stamp)
        if not (folder / "VERSIONS.txt").exists():  # another build may have finished first
            shutil.rmtree(folder, ignore_errors=True)
            staging.rename(folder)
    return folder


def install_assets(out: Path, cache: Path | None = None, quiet: bool = False) -> Path:
    """Copy the assets into ``out/_assets`` (skipped when already there). Returns that folder."""
    target = Path(out) / "_assets"
    stamp = target / "VERSIONS.txt"
    if stamp.exists() and stamp.read_text() == _layout_stamp():
        return target
    source = _unpacked(Path(cache or default_cache()), quiet=quiet)
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)
    return target


# -------------------------------------------------------------------------------------
# decks
# -------------------------------------------------------------------------------------
def _exporter():
    from jinja2 import DictLoader
    from nbconvert import SlidesExporter

    exporter = SlidesExporter(extra_loaders=[DictLoader({"offline_slides.html.j2": _TEMPLATE})],
                              template_file="offline_slides.html.j2")
    exporter.reveal_url_prefix = _URLS["reveal_url_prefix"]
    exporter.reveal_theme = "white"        # its fonts ship with reveal.js (other themes use Google Fonts)
    exporter.reveal_number = "c/t"
    exporter.require_js_url = _URLS["require_js_url"]
    exporter.jquery_url = _URLS["jquery_url"]
    exporter.mathjax_url = _URLS["mathjax_url"]
    exporter.widget_renderer_url = _URLS["widget_renderer_url"]
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    return exporter


def split_at_headings(cells) -> list:
    """Markdown cells that carry a ``#``/``##``/``###`` heading after their first line are
    cut there, so that every heading can start its own slide. The first part keeps the
    cell's slide type; a part that starts with a heading gets ``slide`` (``#``, ``##``) or
    ``subslide`` (``###``). Used for decks only: the notebooks are not changed."""
    out = []
    for cell in cells:
        if cell.get("cell_type") != "markdown":
            out.append(cell)
            continue
        parts, current, fenced = [], [], False
        for line in _source(cell).split("\n"):
            if line.lstrip().startswith("```"):
                fenced = not fenced
            if current and not fenced and re.match(r"#{1,3}\s", line) and "".join(current).strip():
                parts.append("\n".join(current))
                current = []
            current.append(line)
        parts.append("\n".join(current))
        for k, part in enumerate(parts):
            piece = copy.deepcopy(cell)
            piece["source"] = part.strip("\n") if k else part.rstrip("\n")
            if k:
                piece["id"] = f"{cell.get('id', 'cell')}-{k}"[:64]
                level = _heading_level(piece)
                piece.setdefault("metadata", {})["slideshow"] = {"slide_type": "slide" if level <= 2 else "subslide"}
            out.append(piece)
    return out


def prepare(nb: dict, solutions: bool = True, name: str = "notebook") -> dict:
    """The notebook as it goes into a deck: markdown cells cut at headings
    (:func:`split_at_headings`), slide metadata added when it has none, solution
    regions replaced by the student stub when ``solutions`` is False."""
    if not has_slide_metadata(nb):
        nb, _ = tag_notebook(nb)
    else:
        nb = copy.deepcopy(nb)
    nb["cells"] = split_at_headings(nb.get("cells", []))
    if not solutions:
        for i, cell in enumerate(nb.get("cells", []), 1):
            new, n = strip_solutions(_source(cell), cell.get("cell_type", "code"), f"{name}, cell {i}")
            if n:
                cell["source"] = new
    return nb


def build_deck(path: Path, out: Path, solutions: bool = True, exporter=None) -> Path:
    """Write ``out/<stem>.slides.html`` for the notebook at ``path``. Assets must be in
    ``out/_assets`` (see :func:`install_assets`). Returns the deck's path."""
    import nbformat

    path = Path(path)
    raw = json.loads(path.read_text(encoding="utf-8"))
    nb = nbformat.reads(json.dumps(prepare(raw, solutions, path.name)), as_version=4)
    exporter = exporter or _exporter()
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": _title(raw, path)}})
    deck = Path(out) / f"{path.stem}.slides.html"
    deck.write_text(body, encoding="utf-8")
    return deck


def _title(nb: dict, path: Path) -> str:
    for cell in nb.get("cells", []):
        if _heading_level(cell) == 1:
            return _source(cell).lstrip().split("\n", 1)[0].lstrip("#").strip()
    return path.stem


def notebooks(src: Path | None = None) -> list[Path]:
    """Every course notebook ``NN_*.ipynb`` in ``src`` (default: the checkout's notebooks/), in order."""
    return sorted(Path(src or repo_root() / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def build_all(src: Path | None = None, out: Path | None = None, solutions: bool = True,
              cache: Path | None = None, paths=None, quiet: bool = False) -> list[Path]:
    """Build a deck for every notebook (or ``paths``) plus ``index.html``; return the decks."""
    out = Path(out or repo_root() / "build" / ("slides" if solutions else "slides-exercises"))
    out.mkdir(parents=True, exist_ok=True)
    install_assets(out, cache, quiet=quiet)
    exporter = _exporter()
    paths = [Path(p) for p in paths] if paths else notebooks(src)
    decks = []
    for p in paths:
        deck = build_deck(p, out, solutions, exporter)
        decks.append(deck)
        if not quiet:
            print(f"wrote {deck}")
    _write_index(out, paths, decks, solutions)
    return decks


def _write_index(out: Path, paths, decks, solutions: bool) -> None:
    rows = []
    for p, d in zip(paths, decks):
        nb = prepare(json.loads(p.read_text(encoding="utf-8")), solutions, p.name)
        kinds = [c.get("metadata", {}).get("slideshow", {}).get("slide_type") for c in nb["cells"]]
        n, m = kinds.count("slide"), kinds.count("slide") + kinds.count("subslide")
        rows.append(f'<li><a href="{html.escape(d.name)}">{html.escape(_title(nb, p))}</a> '
                    f'<small>({html.escape(p.name)}: {n} sections, {m} slides)</small></li>')
    edition = "with solutions" if solutions else "exercises without solutions"
    (out / "index.html").write_text(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Course slides</title>\n"
        "<style>body{font:20px/1.5 sans-serif;max-width:50em;margin:2em auto}li{margin:.4em 0}</style>"
        f"</head><body>\n<h1>Gradient descent and backpropagation: slides</h1>\n<p>Decks {edition}. "
        "Keys: arrows move, <b>s</b> speaker view, <b>o</b> overview, <b>f</b> full screen. "
        "Works offline.</p>\n<ol>\n" + "\n".join(rows) + "\n</ol>\n</body></html>\n", encoding="utf-8")


# -------------------------------------------------------------------------------------
# offline check
# -------------------------------------------------------------------------------------
_REMOTE_TAG = re.compile(
    r"""<(script|link|img|iframe|source|audio|video)\b[^>]*?\b(src|href)\s*=\s*["']?\s*((?:https?:)?//[^"'\s>]+)""",
    re.I)
_REMOTE_CSS = re.compile(r"""@import\s+(?:url\()?\s*["']?((?:https?:)?//[^"')\s]+)|url\(\s*["']?((?:https?:)?//[^"')\s]+)""",
                         re.I)
_REMOTE_JS = re.compile(r"""(?:import\s+[^;]*?from\s+|import\(\s*|require\(\s*\[?\s*|\.src\s*=\s*)["']((?:https?:)?//[^"']+)""",
                        re.I)


def _strip_comments(text: str) -> str:
    return re.sub(r"/\*.*?\*/|<!--.*?-->", "", text, flags=re.S)


def remote_references(html_text: str) -> list[str]:
    """Remote scripts, stylesheets, fonts or images that a page would load: URLs in
    ``src``/``href`` of script/link/img tags, CSS ``@import``/``url()`` and JavaScript
    ``import``/``require``/``.src =``. Plain links (``<a href>``) are not loads and are allowed."""
    text = _strip_comments(html_text)
    found = [m.group(3) for m in _REMOTE_TAG.finditer(text)]
    found += [m.group(1) or m.group(2) for m in _REMOTE_CSS.finditer(text)]
    found += [m.group(1) for m in _REMOTE_JS.finditer(text)]
    return sorted(set(found))


def main(argv=None) -> int:
    """The command line ``python -m tools.slides`` (``argv``: its arguments); returns the exit status."""
    ap = argparse.ArgumentParser(prog="python -m tools.slides", description=__doc__.split("\n\n")[0])
    ap.add_argument("notebooks", nargs="*", type=Path, help="notebooks to convert (default: notebooks/NN_*.ipynb)")
    ap.add_argument("--src", type=Path, default=None, help="folder of the notebooks")
    ap.add_argument("--out", type=Path, default=None,
                    help="output folder (default build/slides, or build/slides-exercises with --no-solutions)")
    ap.add_argument("--no-solutions", action="store_true", help="leave solution code out of the decks")
    ap.add_argument("--cache", type=Path, default=None, help="where npm tarballs are kept")
    ap.add_argument("--tag", action="store_true", help="write slide metadata into the notebooks (in place) and stop")
    ap.add_argument("--check-tags", action="store_true", help="exit 1 if a notebook's slide metadata is out of date")
    args = ap.parse_args(argv)
    paths = args.notebooks or notebooks(args.src)
    if not paths:
        print(f"no notebooks named NN_*.ipynb in {args.src or repo_root() / 'notebooks'}", file=sys.stderr)
        return 1
    if args.tag or args.check_tags:
        stale = 0
        for p in paths:
            n = tag_file(p, write=args.tag)
            stale += bool(n)
            if n:
                print(f"{p}: {n} cells {'re-tagged' if args.tag else 'need new slide metadata'}")
        if args.check_tags and stale:
            print("run `python -m tools.slides --tag` (metadata only; outputs do not change)")
            return 1
        print(f"slide metadata {'written' if args.tag else 'up to date'} for {len(paths)} notebooks")
        return 0
    try:
        decks = build_all(args.src, args.out, not args.no_solutions, args.cache, paths)
    except AssetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{len(decks)} decks; open {decks[0].parent / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
