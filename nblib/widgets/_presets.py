"""One rule for every explorer factory's ``preset=`` argument (a name or a dict of settings),
and an explorer that draws once, with its preset, instead of once before it and once after."""

from __future__ import annotations

from .._validate import describe
from ._base import Explorer


def check_preset(title: str, preset, what: str = "a preset name") -> None:
    """Raise a named ``TypeError`` unless ``preset`` is None, a name (str) or a dict of control values."""
    if preset is not None and not isinstance(preset, (str, dict)):
        raise TypeError(f"{title}: preset must be {what} or a dict of control values, got {describe(preset)}")


class PresetExplorer(Explorer):
    """An ``Explorer`` that does not draw until ``start(preset)``: the first picture is the
    preset's (one draw; building the default view first would cost a second full draw)."""

    def __init__(self, *args, **kwargs):
        self._started = False
        super().__init__(*args, **kwargs)      # Explorer.__init__ ends with refresh(): deferred

    def refresh(self):
        return super().refresh() if self._started else ""

    def start(self, preset=None, what: str = "a preset name"):
        """Apply ``preset`` (a name of ``self.presets`` or a dict of control values) and draw."""
        check_preset(self.title, preset, what)
        self._started = True
        if isinstance(preset, str):
            self.preset(preset)
        elif isinstance(preset, dict):
            self.set(**preset)
        else:
            self.refresh()
        return self
