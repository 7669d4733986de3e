"""nblib.gradcheck against closed-form derivatives."""

import numpy as np
import pytest
import torch

from nblib import gradcheck


def test_numerical_gradient_of_known_functions():
    x = np.array([[0.3, -1.2], [2.0, 0.5]])
    # f = sum(x^3) -> 3 x^2 ; f = sum(sin x) -> cos x
    np.testing.assert_allclose(gradcheck.numerical_gradient(lambda v: np.sum(v ** 3), x), 3 * x ** 2, atol=1e-8)
    np.testing.assert_allclose(gradcheck.numerical_gradient(lambda v: np.sin(v).sum(), x), np.cos(x), atol=1e-9)


def test_numerical_gradient_leaves_input_untouched_and_accepts_ints_and_torch_scalars():
    x = np.array([1, 2, 3])
    g = gradcheck.numerical_gradient(lambda v: torch.tensor(v).pow(2).sum(), x)
    np.testing.assert_allclose(g, 2 * x, atol=1e-8)
    np.testing.assert_array_equal(x, [1, 2, 3])


def test_rel_error_definition():
    assert gradcheck.rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert gradcheck.rel_error(np.array([1.0]), np.array([3.0])) == pytest.approx(0.5)
    assert gradcheck.rel_error(np.array([0.0]), np.array([0.0])) == 0.0


def test_compare_verdicts_and_report():
    a = np.arange(6.0).reshape(2, 3)
    rep = gradcheck.compare({"same": (a, a.copy()), "close": (a, a + 1e-12), "off": (a, a + 1e-3),
                             "shape": (a, a.T)})
    verdicts = {r["name"]: r["verdict"] for r in rep.rows}
    assert verdicts == {"same": "exact", "close": "close", "off": "MISMATCH", "shape": "MISMATCH"}
    assert not rep.ok and not bool(rep)
    text = repr(rep)
    assert "MISMATCH found" in text and "1.00e-03" in text
    assert "<table>" in rep._repr_html_()
    assert gradcheck.compare(a, torch.tensor(a), name="torch").ok


def test_check_gradient_accepts_right_and_rejects_wrong():
    x = np.random.default_rng(0).normal(size=(3, 2))
    f = lambda v: 0.5 * np.sum(v ** 2)
    assert gradcheck.check_gradient(f, lambda v: v, x).ok
    assert not gradcheck.check_gradient(f, lambda v: 2 * v, x).ok


@pytest.mark.parametrize("call, exc, pattern", [
    (lambda: gradcheck.numerical_gradient("f", np.ones(2)), TypeError, r"numerical_gradient: f must be a function, got str"),
    (lambda: gradcheck.numerical_gradient(lambda v: v, np.ones(2)), ValueError, r"f must return a scalar, got an array of shape \(2,\)"),
    (lambda: gradcheck.numerical_gradient(np.sum, np.ones(2), eps=0), ValueError, r"eps must be > 0, got 0"),
    (lambda: gradcheck.rel_error(np.ones(2), np.ones(3)), ValueError, r"a has shape \(2,\) but b has shape \(3,\)"),
    (lambda: gradcheck.compare(np.ones(2)), TypeError, r"pass two arrays"),
    (lambda: gradcheck.compare({"x": np.ones(2)}), TypeError, r"the value for 'x' must be a pair"),
])
def test_bad_input(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()
