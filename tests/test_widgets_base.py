"""Explorer.set: one option by itself for a multiple choice; nothing changes when a set fails."""

import ipywidgets as widgets
import pytest
import traitlets

from nblib.widgets import Explorer
from nblib.widgets._base import new_figure


def make():
    fig, axes = new_figure(3, 2)
    line, = axes[0, 0].plot([0, 1], [0, 1])
    seen = []

    def update(a, which):
        if a > 0.75 and "y" in which:
            raise RuntimeError("boom")  # a failure _check_value cannot foresee
        seen.append((a, which))
        line.set_ydata([0, a])
        return f"a={a} {which}"

    controls = {"a": widgets.FloatSlider(value=0.5, min=0, max=1),
                "which": widgets.SelectMultiple(options=["x", "y"], value=("x",))}
    return Explorer("tiny", controls, update, fig), seen


def test_one_option_by_itself_means_a_one_tuple():
    explorer, _ = make()
    explorer.set(which="y")
    assert explorer.values()["which"] == ("y",)
    with pytest.raises(ValueError, match="'which' must be one of"):
        explorer.set(which="z")


def test_a_failed_set_changes_no_control():
    explorer, _ = make()
    before = explorer.values()
    with pytest.raises(ValueError):
        explorer.set(a=0.2, which=("x", "nope"))
    assert explorer.values() == before


class Picky(widgets.SelectMultiple):
    """A multiple choice whose own validator refuses "y" (an error _check_value cannot foresee)."""

    @traitlets.validate("value")
    def _validate_value(self, proposal):
        if "y" in proposal["value"]:
            raise traitlets.TraitError("refused")
        return super()._validate_value(proposal)


def test_an_unforeseen_error_during_the_assignment_restores_every_control():
    explorer, seen = make()
    explorer.controls["which"] = picky = Picky(options=["x", "y"], value=("x",))
    before, redraws = explorer.values(), len(seen)
    with pytest.raises(traitlets.TraitError, match="refused"):
        explorer.set(a=0.9, which=("y",))
    assert explorer.values() == before and picky.value == ("x",)
    assert len(seen) == redraws  # and nothing was redrawn


def test_an_error_while_drawing_restores_the_controls_and_the_picture():
    explorer, seen = make()
    before = explorer.values()
    with pytest.raises(RuntimeError, match="boom"):
        explorer.set(a=0.9, which=("y",))            # update() raises for these values
    assert explorer.values() == before
    assert seen[-1] == (before["a"], before["which"])  # redrawn as it was
