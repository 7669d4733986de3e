"""Interactive explorers built on ipywidgets.

``Explorer`` is the shared base: controls + a plain ``update(**values)`` function
that moves existing matplotlib artists + a status line. Each notebook's explorers live
in a module here (``losses`` for notebook 01, ...): ``from nblib.widgets.losses import
loss_explorer``.
"""

from ._base import Explorer, render_png

__all__ = ["Explorer", "render_png"]
