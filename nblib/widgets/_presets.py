"""One rule for every explorer factory's ``preset=`` argument (a name or a dict of settings)."""

from __future__ import annotations

from .._validate import describe


def check_preset(title: str, preset, what: str = "a preset name") -> None:
    """Raise a named ``TypeError`` unless ``preset`` is None, a name (str) or a dict of control values."""
    if preset is not None and not isinstance(preset, (str, dict)):
        raise TypeError(f"{title}: preset must be {what} or a dict of control values, got {describe(preset)}")


def apply_preset(explorer, preset, what: str = "a preset name"):
    """Set ``explorer`` to ``preset`` (a name of one of its presets or a dict of control values)."""
    check_preset(explorer.title, preset, what)
    if isinstance(preset, str):
        explorer.preset(preset)
    elif isinstance(preset, dict):
        explorer.set(**preset)
    return explorer
