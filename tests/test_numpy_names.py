"""numpy code in expressions (issue 14 part 7): the aliases absolute,
negative, ravel, fabs; np./numpy./np.linalg. prefixes resolved through the
catalogue; hints by meaning for unknown names; the hint for `x[:2] = v`;
and the operators % and //."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from fdcheck import check_derivatives
from test_functions_support import CTX, build, builder, value

from gradcli.cli.group import cli
from gradcli.engine.evaluate import evaluate
from gradcli.engine.graph import leaf
from gradcli.errors import Location, SpecError
from gradcli.language.expr import compile_expr
from gradcli.language.functions import CATALOGUE
from gradcli.language.numpy_names import (
    MEANINGS,
    SPELLINGS,
    assignment_hint,
    meaning_hint,
    strip_prefix,
)

WHERE = Location("spec.yaml", 4, 7)
X = np.array([[1.5, -2.0, 0.25], [3.0, -0.5, 4.0]])
A = np.array([[2.0, 1.0], [0.5, 3.0]])


def compile_and_run(text: str, **extra) -> np.ndarray:
    values = {"x": X, "A": A, **extra}
    names = {k: leaf(k, np.shape(v), str(np.asarray(v).dtype)) for k, v in values.items()}
    return evaluate([compile_expr(text, names, CTX, WHERE)], values)[0]


def error_of(text: str, **extra) -> str:
    with pytest.raises(SpecError) as info:
        compile_and_run(text, **extra)
    return str(info.value)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


# ---- aliases --------------------------------------------------------------------------

@pytest.mark.parametrize("name,ref", [("absolute", np.absolute), ("fabs", np.fabs),
                                      ("negative", np.negative), ("ravel", np.ravel)])
def test_aliases_match_numpy_and_differentiate(name: str, ref):
    np.testing.assert_array_equal(value(name, X), ref(X))
    for shape in [(), (4,), (2, 3)]:
        x = np.random.default_rng(1).uniform(0.2, 2.0, shape) * np.where(
            np.arange(int(np.prod(shape))).reshape(shape) % 2, 1.0, -1.0)
        check_derivatives(builder(name), x)


def test_alias_dtypes_follow_numpy():
    n = np.array([-3, 2])
    assert value("absolute", n).dtype == np.int64
    assert value("negative", n).tolist() == [3, -2]
    assert value("fabs", n).dtype == np.float64  # numpy.fabs gives floats
    assert CATALOGUE["absolute"].kink == CATALOGUE["abs"].kink == CATALOGUE["fabs"].kink


# ---- prefixes -------------------------------------------------------------------------

@pytest.mark.parametrize("text,want", [
    ("np.sin(x)", np.sin(X)),
    ("numpy.exp(x) - np.expm1(x)", np.exp(X) - np.expm1(X)),
    ("np.linalg.inv(A)", np.linalg.inv(A)),
    ("numpy.linalg.det(A) * np.pi", np.linalg.det(A) * np.pi),
    ("np.linalg.norm(x)", np.linalg.norm(X)),
    ("np.sum(np.abs(x), axis=1)", np.sum(np.abs(X), axis=1)),
    ("x[:, np.newaxis, :]", X[:, np.newaxis, :]),
    ("np.where(x > 0, x, -np.inf)", np.where(X > 0, X, -np.inf)),
    ("np.mod(x, 2) + np.remainder(x, 2) + x % 2", 3 * np.mod(X, 2)),
    ("np.hypot(x, 1.0) + np.logaddexp(x, -x)", np.hypot(X, 1.0) + np.logaddexp(X, -X)),
])
def test_numpy_code_pastes_in(text: str, want: np.ndarray):
    np.testing.assert_allclose(compile_and_run(text), want, rtol=1e-15)


def test_every_catalogue_name_resolves_under_every_prefix():
    # generic: a function added to the catalogue later needs no entry anywhere
    for name in CATALOGUE:
        for prefix in ("np.", "numpy.", "np.linalg.", "numpy.linalg."):
            assert strip_prefix(prefix + name) == name
    assert strip_prefix("np.random.normal") is None
    assert strip_prefix("sin") is None and strip_prefix("torch.sin") is None


def test_a_spec_name_np_is_not_numpy():
    # an input called np keeps its meaning: np.sin is an attribute of it
    message = error_of("np.sin(x)", np=np.ones(2))
    assert "calling .sin() is not allowed" in message


def test_prefixed_errors():
    assert "'np.sin' is a function: call it" in error_of("np.sin + x")
    assert "unknown function 'np.linalg.lstsq' (linear algebra" in error_of("np.linalg.lstsq(A)")
    assert "svd(...) returns 3 arrays" in error_of("np.linalg.svd(A)")
    assert "unknown function 'np.add' (addition; write a + b)" in error_of("np.add(x, 1)")
    assert "unknown name 'np.float64'" in error_of("x * np.float64")
    assert "(linear algebra" in error_of("np.linalg(A)")
    message = error_of("np.sinn(x)")
    assert "unknown function 'np.sinn' (did you mean 'sin" in message
    assert message.startswith("spec.yaml:4:7:")


# ---- hints by meaning -----------------------------------------------------------------

def test_meaning_comes_before_spelling():
    # difflib alone: svd -> std, sort -> sqrt, modulo -> mode-like names
    # (svd itself is in the catalogue now; lstsq is not)
    assert "linear algebra; the catalogue has det, slogdet, inv" in error_of("lstsq(A)")
    assert "lstsq" not in error_of("lstsq(A)").split("(")[-1]
    assert "ordering" in error_of("unique(x)") and "sqrt" not in error_of("unique(x)")
    assert "a % b, mod, fmod" in error_of("modulo(x, 2)")
    assert "(did you mean 'arcsin'?)" in error_of("asin(x)")
    assert "(did you mean 'max'?)" in error_of("np.amax(x)")
    assert "(did you mean 'sinh'?)" in error_of("sinhh(x)")  # plain typos still get difflib


def test_meaning_hints_list_only_what_the_catalogue_has():
    # a function another family adds later is offered as soon as it exists
    assert "svd" not in meaning_hint("eig", ["det", "inv"])
    assert "svd" in meaning_hint("eig", ["det", "inv", "svd"])
    assert meaning_hint("cumsum", []) == " (a running sum or difference: not in the catalogue yet)"
    assert meaning_hint("no_such_thing", CATALOGUE) == ""
    assert meaning_hint("SVD", ["det"]).startswith(" (linear algebra")


def test_hint_tables_point_at_real_functions():
    for name, target in SPELLINGS.items():
        assert target in CATALOGUE, (name, target)
    everything = {u for _, uses in MEANINGS.values() for u in uses if u.isidentifier()}
    unknown = everything - set(CATALOGUE)
    # names other families are adding; shown once they exist, never before
    assert unknown <= {"slogdet", "pinv", "cholesky", "eigh", "svd", "qr", "matrix_power",
                       "sort", "argsort", "top_k", "cumsum", "cumprod", "diff", "take",
                       "take_along_axis", "gather", "split"}, unknown


# ---- assignments ----------------------------------------------------------------------

@pytest.mark.parametrize("text,update", [
    ("x[:2] = v", "x.at[:2].set(v)"),
    ("x[0, 1:] = 2 * v", "x.at[0, 1:].set(2 * v)"),
    ("x[..., None] = 0", "x.at[..., None].set(0)"),
    ("x[1] += v", "x.at[1].add(v)"),
    ("x[1] -= v + 1", "x.at[1].add(-(v + 1))"),
    ("x[:, 0] *= 3", "x.at[:, 0].set(x[:, 0] * 3)"),
])
def test_assignment_hint(text: str, update: str):
    hint = assignment_hint(text)
    assert hint is not None and hint.endswith(f"write {update}")
    message = error_of(text)
    assert message.startswith("spec.yaml:4:7: invalid expression: assignment is not an "
                              "expression") and update in message


def test_assignment_hints_only_for_assignments():
    assert "name a value under let:" in assignment_hint("y = sin(x)")
    for text in ("x[:2] == v", "x[:2", "a, b = x", "x = y = 1", "import os", ""):
        assert assignment_hint(text) is None, text
    assert "invalid syntax" in error_of("x[:2 = v")  # not an assignment: the parser's words


def test_cli_shows_the_update_to_write():
    code, out, err = run("eval", "-e", "x[:1] = 2.0", "--set", "x=[1.0, 2.0]")
    assert code == 2 and out == ""
    assert "write x.at[:1].set(2.0)" in err


# ---- operators ------------------------------------------------------------------------

def test_mod_and_floor_division_operators():
    np.testing.assert_array_equal(compile_and_run("x % 1.5"), X % 1.5)
    np.testing.assert_array_equal(compile_and_run("x // 1.5"), X // 1.5)
    np.testing.assert_array_equal(compile_and_run("-x % -1.5"), -X % -1.5)
    n, m = np.array([7, -7]), np.array([3, 2])
    got = compile_and_run("n % m + n // m", n=n, m=m)  # integer operands stay integers
    assert got.dtype == np.int64 and got.tolist() == [7 % 3 + 7 // 3, -7 % 2 + -7 // 2]
    assert compile_and_run("n % 3", n=n).dtype == np.float64  # literals are floats
    assert "operator '%': shapes (2, 3) and (2,)" in error_of("x % A[0]")


def test_grad_of_percent_through_the_cli():
    code, out, err = run("grad", "-e", "sum(x % y)", "--set", "x=[-2.5, 0.5, 7.0]",
                         "--set", "y=3.0", "--format", "json")
    assert code == 0, err
    assert out.strip().endswith('"grad": {"x": [1.0, 1.0, 1.0], "y": -1.0}}')


def test_floor_is_unconnected_and_zero_with_unconnected_zero():
    code, out, err = run("grad", "-e", "floor(x)", "--set", "x=[0.5, 1.5]", "--format", "json")
    assert code == 0 and '"x": null' in out and "only through floor" in err
    code, out, _ = run("grad", "-e", "floor(x)", "--set", "x=[0.5, 1.5]", "--format", "json",
                       "--unconnected", "zero")
    assert code == 0 and '"x": [0.0, 0.0]' in out


def test_ops_lists_the_new_functions():
    code, out, _ = run("ops", "mod", "fmax", "absolute")
    assert code == 0
    assert "sign of b" in out and "NaN" in out and "abs" in out


def test_builders_reject_bad_arguments_cleanly():
    with pytest.raises(SpecError, match="^nan_to_num: argument 'nan' must be a number"):
        build("nan_to_num", leaf("x", (2,), "float64"), nan="zero")
    with pytest.raises(SpecError, match="^nan_to_num: argument 'copy' must be True or False"):
        build("nan_to_num", leaf("x", (2,), "float64"), 0.0)
