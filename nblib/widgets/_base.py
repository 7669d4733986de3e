"""The base of every explorer: controls, a plain update function, a figure, a status line.

Design (so that explorers are fast, testable and still useful without a browser):

* The compute-and-move-artists step is a plain function ``update(**values) -> str``
  that changes existing matplotlib artists (``line.set_data``...) on a figure made
  once, and returns a status sentence. Tests call it directly for a sweep of values.
* The figure is drawn with Agg into an ``ipywidgets.Image``; nothing is rebuilt on a
  slider change. Artists listed in ``dynamic`` are blitted: the rest of the figure
  (axes, ticks, fixed curves) is drawn once and cached as a background, and only
  redrawn when ``background_key(values)`` changes. That keeps a redraw to a few
  milliseconds. ``Explorer.timings`` keeps the compute and draw times (milliseconds)
  of every change, for the benchmark.
* Displayed by a notebook run headless (nbval, nbconvert, GitHub), the explorer's
  output still carries a static PNG of its current state and a plain-text summary
  next to the live widget, so it "renders" everywhere.
* Presets: ``Explorer.set(**values)`` applies several settings with one redraw, and
  each explorer factory takes ``preset=`` (a dict or the name of one of its presets).
"""

from __future__ import annotations

import base64
import html
import io
import re
import time
import warnings

import ipywidgets as widgets
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image as PILImage

from .._validate import describe

__all__ = ["Explorer", "render_png", "new_figure"]


def new_figure(width: float = 9.5, height: float = 3.6, ncols: int = 1, nrows: int = 1, dpi: int = 80):
    """A matplotlib Figure (not registered with pyplot, so it never shows twice) and its axes."""
    fig = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def render_png(fig, draw: bool = True) -> bytes:
    """PNG bytes of ``fig``'s Agg canvas (drawn first unless ``draw=False``).

    Uses fast zlib settings: a slider redraw should not wait for compression.
    """
    if draw:
        fig.canvas.draw()
    width, height = fig.canvas.get_width_height(physical=True)
    image = PILImage.frombuffer("RGBA", (width, height), fig.canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    buf = io.BytesIO()
    image.save(buf, format="png", compress_level=1)
    return buf.getvalue()


def _plain(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text))


class Explorer(widgets.VBox):
    """Controls + figure + status line, wired together.

    Parameters
    ----------
    title : shown above the controls.
    controls : ``{name: ipywidgets control}``; ``update`` receives ``name=value`` for each.
    update : plain function ``update(**values) -> str`` that moves the artists of ``fig``
        and returns a status sentence (HTML allowed). It must not raise for any value the
        controls allow, and must not emit warnings (report divergence in the status).
    fig : the matplotlib Figure that ``update`` draws on (see ``new_figure``).
    presets : optional ``{name: {control: value}}`` for ``preset``.
    dynamic : artists that ``update`` changes on every call (markers, paths). They are
        blitted over a cached background. Leave empty to redraw the whole figure.
    background_key : ``background_key(**values) -> hashable``: when its value changes,
        the background (everything but ``dynamic``) is redrawn. Return something new
        whenever ``update`` touched a non-dynamic artist or axis limits.
    """

    def __init__(self, title, controls, update, fig, presets=None, dynamic=(), background_key=None):
        self.title = title
        self.controls = dict(controls)
        self.update_fn = update
        self.fig = fig
        self.presets = dict(presets or {})
        self.timings = []  # (compute_ms, draw_ms) per refresh
        self.dynamic = list(dynamic)
        self.background_key = background_key
        self._background = None
        self._bg_key = object()
        for artist in self.dynamic:
            artist.set_animated(True)
        self.status_text = ""
        self._image = widgets.Image(format="png", layout=widgets.Layout(width="auto", max_width="100%"))
        self._status = widgets.HTML()
        self._muted = False
        header = widgets.HTML(f"<b>{html.escape(title)}</b>")
        _fit_labels(self.controls.values())
        box = widgets.HBox(list(self.controls.values()), layout=widgets.Layout(flex_flow="row wrap"))
        super().__init__([header, box, self._status, self._image])
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        self.refresh()

    # -- state -------------------------------------------------------------------------
    def values(self) -> dict:
        """Current value of every control, ``{name: value}``."""
        return {name: c.value for name, c in self.controls.items()}

    def set(self, **values):
        """Set several controls at once (one redraw).

        Unknown names raise ``KeyError``; a value a control cannot take (outside a slider's
        range, not one of a dropdown's options, of the wrong type) raises ``ValueError`` or
        ``TypeError`` naming the control, and nothing is changed. A multiple choice also takes
        one option by itself (``optimizers="Adam"`` means ``("Adam",)``).
        """
        unknown = sorted(set(values) - set(self.controls))
        if unknown:
            raise KeyError(f"{self.title}: no control named {unknown}; the controls are {sorted(self.controls)}")
        values = {name: _as_choice(self.controls[name], value) for name, value in values.items()}
        for name, value in values.items():
            _check_value(self.title, name, self.controls[name], value)
        before = self.values()
        try:                                    # an error nothing above foresaw: still change nothing
            self._assign(values)
        except Exception:
            self._assign(before)                # (nothing was drawn yet)
            raise
        try:
            self.refresh()
        except Exception:
            self._assign(before)
            self.refresh()
            raise
        return self

    def _assign(self, values: dict) -> None:
        """Set the controls to ``values`` without a redraw per control."""
        self._muted = True
        try:
            for name, value in values.items():
                self.controls[name].value = value
        finally:
            self._muted = False

    def preset(self, name: str):
        """Apply the preset called ``name`` (see ``self.presets``)."""
        if name not in self.presets:
            raise KeyError(f"{self.title}: no preset {name!r}; choose one of {sorted(self.presets)}")
        return self.set(**self.presets[name])

    def _on_change(self, change):
        if not self._muted:
            self.refresh()

    def refresh(self):
        """Run ``update`` with the current values and redraw the image. Returns the status."""
        t0 = time.perf_counter()
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            status = self.update_fn(**self.values()) or ""
        t1 = time.perf_counter()
        png = self._draw()
        t2 = time.perf_counter()
        self.timings.append(((t1 - t0) * 1e3, (t2 - t1) * 1e3))
        self.status_text = status
        self._status.value = status
        self._image.value = png
        return status

    def _draw(self) -> bytes:
        canvas = self.fig.canvas
        if not self.dynamic:
            return render_png(self.fig)
        key = self.background_key(**self.values()) if self.background_key else None
        if self._background is None or key != self._bg_key:
            canvas.draw()  # animated artists are left out of this full draw
            self.fig.set_layout_engine("none")  # keep the layout found on the first draw
            self._background = canvas.copy_from_bbox(self.fig.bbox)
            self._bg_key = key
        else:
            canvas.restore_region(self._background)
        for artist in self.dynamic:
            self.fig.draw_artist(artist)
        return render_png(self.fig, draw=False)

    # -- display -------------------------------------------------------------------------
    def summary(self) -> str:
        """One line: the title, the settings and the status, as plain text."""
        settings = ", ".join(f"{k}={_fmt(v)}" for k, v in self.values().items())
        return f"{self.title} [{settings}]: {_plain(self.status_text)}"

    def __repr__(self):
        return self.summary()

    def _repr_mimebundle_(self, **kwargs):
        data = super()._repr_mimebundle_(**kwargs)
        if isinstance(data, tuple):  # (data, metadata) in some ipywidgets versions
            data = data[0]
        data = dict(data or {})
        data["text/plain"] = self.summary()
        data["image/png"] = base64.b64encode(self._image.value).decode("ascii")
        return data


def _as_choice(control, value):
    """A multiple choice takes one option by itself, or a list, as the tuple it stores."""
    if isinstance(control, widgets.SelectMultiple):
        if isinstance(value, str):
            return (value,)
        if isinstance(value, list):
            return tuple(value)
    return value


def _check_value(title, name, control, value) -> None:
    """Raise a clear error when ``control`` cannot take ``value`` (instead of a traitlets
    message without the control's name, or a slider silently clamping the value)."""
    options = getattr(control, "options", None)
    if options is not None:
        labels = [o[1] if isinstance(o, tuple) else o for o in options]
        if isinstance(control, widgets.SelectMultiple) or isinstance(value, (tuple, list)):
            bad = [v for v in (value if isinstance(value, (tuple, list)) else [value]) if v not in labels]
        else:
            bad = [] if value in labels else [value]
        if bad:
            raise ValueError(f"{title}: control {name!r} must be one of {labels}, got {value!r}")
        return
    if isinstance(control, (widgets.Checkbox, widgets.ToggleButton)):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{title}: control {name!r} expects True or False, got {describe(value)}")
        return
    if hasattr(control, "min") and hasattr(control, "max"):
        integer = isinstance(control, (widgets.IntSlider, widgets.BoundedIntText))
        kinds = (int, np.integer) if integer else (int, float, np.integer, np.floating)
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, kinds):
            what = "an integer" if integer else "a number"
            raise TypeError(f"{title}: control {name!r} expects {what}, got {describe(value)}")
        lo, hi = control.min, control.max
        if isinstance(control, widgets.FloatLogSlider):
            lo, hi = control.base ** lo, control.base ** hi
        if not (lo <= value <= hi):        # also catches NaN
            raise ValueError(f"{title}: control {name!r} must be between {lo:g} and {hi:g}, got {value!r}")


def _fit_labels(controls) -> None:
    """Widen the description labels when one would be cut off ("lr SGD/Mo..."): ipywidgets
    gives every label 80 px. All labels of an explorer get the same width, so they stay
    aligned. Labels an explorer sized itself are left alone. Layout only."""
    styled = [c for c in controls if hasattr(getattr(c, "style", None), "description_width")
              and getattr(c, "description", "")]
    longest = max((len(c.description) for c in styled), default=0)
    if longest <= 9:
        return
    width = f"{min(8 * longest + 8, 160)}px"
    for c in styled:
        if not c.style.description_width:
            c.style.description_width = width


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)
