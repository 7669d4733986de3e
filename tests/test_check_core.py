"""What every checker gets from nblib.check._core: hints in steps, a time limit, the course's
reference recognised as such, progress, nbgrader mode."""

import os
import signal
import threading
import time

import numpy as np
import pytest

from nblib import check
from nblib.check import _core
from nblib.check._core import CheckResult, Diagnosis, check_function


def ref(x):
    return 2 * x


CASES = [(np.arange(3.0),), (np.array([1e4, -2.0]),)]
STEPS = ("you doubled nothing", "look at the factor 2: d(x²)/dx = 2x")


def tiny_check(fn):
    return check_function("tiny", fn, reference=ref, cases=CASES,
                          diagnoses=[Diagnosis("identity", lambda x: x, STEPS)])


@pytest.fixture(autouse=True)
def fresh_state(monkeypatch):
    for store in (_core._RESULTS, _core._STREAK, _core._LATEST):
        store.clear()
    monkeypatch.setattr(_core, "_HANDED_OUT", [])
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    yield


def shown(fn, exercise="tiny"):
    return _core.finish(tiny_check(fn), fn, exercise)


def test_hints_come_in_steps_then_the_reference_on_request():
    first, second, third = (shown(lambda x: x).message for _ in range(3))
    assert first.startswith("you doubled nothing") and "more specific hint" in first and "2x" not in first
    assert second.startswith("(hint 2 of 2) look at the factor 2") and "check.reference('tiny')" not in second
    assert "check.reference('tiny')" in third


def test_another_mistake_starts_the_steps_again():
    shown(lambda x: x)
    other = shown(lambda x: 3 * x).message
    assert "differs from the expected one" in other and "(hint" not in other
    assert shown(lambda x: x).message.startswith("you doubled nothing")


def test_a_pass_resets_the_steps():
    shown(lambda x: x)
    assert shown(ref).passed
    assert shown(lambda x: x).message.startswith("you doubled nothing")


def test_reference_prints_the_solution(capsys):
    check.reference("tiny")
    assert "run its check first" in capsys.readouterr().out
    shown(lambda x: x)
    check.reference("tiny")
    assert "def ref(x):" in capsys.readouterr().out


def test_an_endless_loop_is_stopped_and_named(monkeypatch):
    monkeypatch.setattr(_core, "TIME_LIMIT", 0.3)

    def spins(x):
        while True:
            pass

    t0 = time.perf_counter()
    result = tiny_check(spins)
    assert time.perf_counter() - t0 < 5
    assert result.status == "fail" and "still running after 0.3 s" in result.message
    assert "loop that never ends" in result.message
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)  # the alarm is off again


def test_time_limit_is_skipped_off_the_main_thread(monkeypatch):
    monkeypatch.setattr(_core, "TIME_LIMIT", 0.01)
    out = {}
    worker = threading.Thread(target=lambda: out.setdefault("r", tiny_check(lambda x: (time.sleep(0.05), 2 * x)[1])))
    worker.start(); worker.join()
    assert out["r"].passed


def test_an_interrupt_gives_one_line():
    def interrupted(x):
        raise KeyboardInterrupt

    result = tiny_check(interrupted)
    assert result.status == "fail" and "you interrupted your function" in result.message
    assert "Traceback" not in result.message


def test_the_reference_handed_out_is_named_not_passed(capsys):
    failing = shown(lambda x: x)
    stand_in = failing.or_reference()
    assert stand_in is ref and "Using the reference" in capsys.readouterr().out
    again = shown(stand_in)
    assert again.status == "reference" and not again.passed and "not your own function" in again.message
    assert shown(lambda x: x * 2.0).passed  # a learner's own correct version still passes


def test_progress_lists_checked_and_unchecked_exercises():
    assert "No exercise checked" in repr(check.progress())
    check.mse_grad(lambda a, b: 2 * (a - b))
    text = repr(check.progress())
    n = len(_core._EXERCISES["losses"])
    assert n >= 4 and f"0 of {n} exercises pass" in text
    assert "mse_grad" in text and "not right yet" in text
    assert "cross_entropy_grad" in text and "not checked yet" in text
    from nblib import losses
    check.mse_grad(losses.mse_grad)
    assert f"1 of {n} exercises pass" in repr(check.progress())


def test_under_nbgrader_a_failing_check_raises_and_a_passing_one_does_not(monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    from nblib import losses
    assert check.mse_grad(losses.mse_grad).passed
    with pytest.raises(AssertionError, match="mse_grad"):
        check.mse_grad(lambda a, b: 2 * (a - b))
    with pytest.raises(AssertionError, match="not implemented yet"):
        def stub(a, b):
            raise NotImplementedError()
        check.mse_grad(stub)


def test_under_nbgrader_a_stale_feedback_falls_back_to_the_latest_check(monkeypatch):
    """`feedback = check.b(...)` raised, so `feedback` is still exercise a's result: the
    fallback line must still give b's reference, not a's function."""
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    from nblib import losses
    feedback = check.mse_grad(losses.mse_grad)
    with pytest.raises(AssertionError):
        feedback = check.cross_entropy(lambda z, y: 0.0)  # noqa: F841 (never assigned: it raised)
    assert feedback.or_reference() is _core._LATEST["result"].reference
    assert feedback.or_reference() is not losses.mse_grad
    monkeypatch.delenv("NBGRADER_EXECUTION")
    assert feedback.or_reference() is losses.mse_grad  # outside nbgrader a result keeps its own answer


def test_one_not_a_function_guard():
    result = tiny_check(np.zeros(3))
    assert result.status == "fail" and "an array of shape (3,)" in result.message and "function itself" in result.message
    assert _core.require_function("tiny", ref) is None


def test_check_result_takes_hints_and_refuses_unknown_status():
    r = CheckResult("x", "fail", "first", hints="second")
    assert r.hints == ("second",)
    with pytest.raises(ValueError, match="status must be one of"):
        CheckResult("x", "maybe", "?")


def test_every_exported_checker_is_wrapped_and_listed():
    for name in check.__all__:
        obj = getattr(check, name)
        if name in check.HELPERS or isinstance(obj, type) or not callable(obj) or name in (
                "check_function", "progress", "reference"):
            assert name not in check.CHECKERS
            continue
        assert hasattr(obj, "__wrapped__"), f"check.{name} does not go through _core.finish"
        assert name in check.CHECKERS


def test_a_library_not_implemented_error_is_a_crash_not_a_stub():
    import torch

    def swapped(x):  # torch refuses: a real crash of the learner's call, not "not implemented yet"
        return torch.nn.functional.cross_entropy(torch.tensor([1, 0]), torch.tensor([[0.5, 0.5], [0.1, 0.9]]))

    value, err = _core._call(swapped, (np.zeros(2),))
    if err[0] == "todo":
        pytest.fail(f"a NotImplementedError raised inside torch was called a stub: {err}")
    def stub(x):
        raise NotImplementedError()

    assert _core._call(stub, (1,))[1][0] == "todo"


def test_the_time_limit_is_the_one_the_readme_states():
    assert _core.TIME_LIMIT == 10.0
