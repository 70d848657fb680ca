"""The sympy side: every op lowers to sympy and agrees with its numpy forward
at random points; closed forms of seed 000; `gradcli symbolic` output, its
matrix form evaluated back through the engine; sympy stays out of `grad`."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import sympy
import yaml
from click.testing import CliRunner

import gradcli
from gradcli.cli.group import cli
from gradcli.engine.evaluate import evaluate
from gradcli.engine.graph import Node, const, leaf
from gradcli.engine.ops import TABLE, apply
from gradcli.engine.ops import nodes as N
from gradcli.engine.ops.common import infer_elementwise, infer_predicate
from gradcli.errors import NoSymbolicForm
from gradcli.verify.symbolic import element_label, lower, numbers, sample, symbols, to_float

ROOT = Path(__file__).parent.parent
SPECS = ROOT / "specs"
SIN_MATMUL = str(SPECS / "symbolic-gradient-sin-matmul.yaml")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


# ---- lowering of every op ------------------------------------------------------------

def normal(rng, shape):
    return rng.standard_normal(shape)


def unit(rng, shape):
    return rng.uniform(0.2, 0.8, shape)


def matrix(rng, shape):
    return rng.standard_normal(shape) + 3 * np.eye(shape[-1])


CONV = {"strides": (2, 2), "dilation": (1, 1), "padding": ((0, 1), (1, 0)), "lead": 0}
WINDOW = {"axes": (1,), "window": (2,), "strides": (2,), "dilation": (1,), "padding": ((0, 1),)}


def shaped(*shape: int) -> Callable:
    """A generator of normal numbers of a fixed shape (ops with layout rules)."""
    return lambda rng, _: rng.standard_normal(shape)


# op -> (build from leaves, generators of the arrays)
EXAMPLES: dict[str, tuple[Callable[..., Node], tuple]] = {
    "fill": (lambda: N.fill(2.5, (2, 3), "float64"), ()),
    "cast": (lambda x: apply("cast", (x,), {"dtype": "float32"}), (normal,)),
    "stop_gradient": (lambda x: N.stop_gradient(x), (normal,)),
    "named": (lambda x: apply("named", (x,), {"name": "h"}), (normal,)),
    "reshape": (lambda x: N.reshape(x, (3, 2)), (normal,)),
    "broadcast_to": (lambda x: N.broadcast_to(x, (4, 2, 3)), (normal,)),
    "transpose": (lambda x: N.transpose(x, (1, 0)), (normal,)),
    "sum": (lambda x: apply("sum", (x,), {"axes": (0,)}), (normal,)),
    "max": (lambda x: apply("max", (x,), {"axes": (1,)}), (normal,)),
    "getitem": (lambda x: apply("getitem", (x,), {"index": (slice(1, None), None, 2)}),
                (normal,)),
    "setitem": (lambda x, v: apply("setitem", (x, v), {"index": (0, slice(1, None))}),
                (normal, lambda r, s: r.standard_normal((2,)))),
    "addat": (lambda x, v: apply("addat", (x, v), {"index": (slice(None), 1)}),
              (normal, lambda r, s: r.standard_normal((2,)))),
    "concat": (lambda a, b: apply("concat", (a, b), {"axis": 1}), (normal, normal)),
    "pad": (lambda x: apply("pad", (x,), {"widths": ((1, 0), (0, 2)), "value": 1.5}),
            (normal,)),
    "where": (lambda c, a, b: N.where(N.compare("gt", c, a), a, b), (normal, normal, normal)),
    "matmul": (lambda a, b: N.matmul(a, N.transpose(b, (1, 0))), (normal, normal)),
    "einsum": (lambda a, b: apply("einsum", (a, b), {"subscripts": "ij,kj->ik"}),
               (normal, normal)),
    "inv": (lambda a: apply("inv", (a,)), (lambda r, s: matrix(r, (3, 3)),)),
    "det": (lambda a: apply("det", (a,)), (lambda r, s: matrix(r, (3, 3)),)),
    "solve": (lambda a, b: apply("solve", (a, b)),
              (lambda r, s: matrix(r, (3, 3)), lambda r, s: r.standard_normal((3, 2)))),
    "pow": (lambda a, b: N.power(a, b), (unit, normal)),
    "isnan": (lambda x: apply("isnan", (N.unary("log", x),)), (normal,)),  # log(<0) is nan
    "cholesky": (lambda a: apply("cholesky", (a,)), (lambda r, s: spd(r, 3),)),
    "logabsdet": (lambda a: apply("logabsdet", (a,)), (lambda r, s: matrix(r, (3, 3)),)),
    "slogdet_sign": (lambda a: apply("slogdet_sign", (a,)), (lambda r, s: matrix(r, (3, 3)),)),
    "pinv": (lambda a: apply("pinv", (a,), {"rcond": 1e-15}), (normal,)),
    "degenerate_check": (lambda w, c: apply("degenerate_check", (w, c), {
        "kind": "values", "subject": "eigh", "rect": False}), (normal, normal)),
    **{op: (lambda a, op=op: apply(op, (a,)), (lambda r, s: spd(r, 3),))
       for op in ("eigh_w", "eigh_v", "svd_u", "svd_s", "svd_vh", "qr_q", "qr_r")},
    # gathers and scatters: the indices are constants (integer inputs lower to numbers)
    "gather": (lambda x: apply("gather", (x, const(np.array([1, 0, -1])),
                                          const(np.array([[2], [0]])))), (normal,)),
    "scatter_add": (lambda x, v: apply("scatter_add", (x, const(np.array([1, 1])), v)),
                    (normal, normal)),
    "scatter_set": (lambda x, v: apply("scatter_set", (x, const(np.array([0, 0])), v)),
                    (normal, normal)),
    "cumsum": (lambda x: apply("cumsum", (x,), {"axis": 1, "reverse": True}), (normal,)),
    "cumprod": (lambda x: apply("cumprod", (x,), {"axis": 1}), (normal,)),
    "linrec": (lambda a, b: apply("linrec", (a, b), {"axis": 1, "reverse": False}),
               (normal, normal)),
    "sort": (lambda x: apply("sort", (x,), {"axis": 1}), (normal,)),
    "argsort": (lambda x: apply("argsort", (x,), {"axis": 0}), (normal,)),
    **{name: (lambda x, name=name: apply(name, (x,)), (normal,))
       for name in ("logsumexp", "log_softmax", "softmax", "softmax_c")},
    # convolutions (stride 2, dilation 1, asymmetric padding) and sliding windows
    "conv": (lambda x, w: apply("conv", (x, w), CONV), (shaped(1, 3, 4, 1), shaped(2, 2, 1, 2))),
    "conv_transpose": (lambda g, w: apply("conv_transpose", (g, w), {**CONV, "size": (3, 4)}),
                       (shaped(1, 2, 2, 2), shaped(2, 2, 1, 2))),
    "conv_filter": (lambda x, g: apply("conv_filter", (x, g), {**CONV, "kernel": (2, 2)}),
                    (shaped(1, 3, 4, 1), shaped(1, 2, 2, 2))),
    "patches": (lambda x: apply("patches", (x,), {**WINDOW, "value": -np.inf}), (normal,)),
    "unpatch": (lambda p: apply("unpatch", (p,), {**WINDOW, "shape": (2, 3)}),
                (shaped(2, 2, 2),)),
}
# Rows whose sympy rule raises NoSymbolicForm (the row says why): `check`
# compares their derivatives with finite differences only.
NO_SYMBOLIC = {"eigh_w", "eigh_v", "svd_u", "svd_s", "svd_vh", "qr_q", "qr_r"}


def spd(rng, n):
    x = rng.standard_normal((n, n))
    return x @ x.T + n * np.eye(n)


def _elementwise_example(name: str) -> tuple[Callable[..., Node], tuple] | None:
    """Any elementwise row (present or future) gets an example: one or two
    operands on a domain where its forward is finite."""
    row = TABLE[name]
    if row.infer is infer_predicate:
        return (lambda a, b: apply(name, (a, b)), (normal, normal))
    if row.infer is not infer_elementwise:
        return None
    arity = 1
    try:
        with np.errstate(all="ignore"):
            row.forward(np.full((2, 3), 0.5))
    except (TypeError, ValueError):
        arity = 2
    for domain in (unit, lambda r, s: r.uniform(1.2, 2.0, s), normal):
        rng = np.random.default_rng(0)
        arrays = [domain(rng, (2, 3)) for _ in range(arity)]
        with np.errstate(all="ignore"):
            out = np.asarray(row.forward(*arrays))
        if np.all(np.isfinite(out)):
            return (lambda *xs: apply(name, xs), (domain,) * arity)
    return None


def example(name: str) -> tuple[Callable[..., Node], tuple] | None:
    return EXAMPLES.get(name) or _elementwise_example(name)


def test_every_op_has_a_lowering_example() -> None:
    missing = sorted(name for name in TABLE if example(name) is None)
    assert not missing, f"add examples for {missing}"


# Ops sympy cannot express: their rule raises NoSymbolicForm (check then uses
# finite differences only).
NO_SYMBOLIC_FORM = {"sort", "argsort"}


@pytest.mark.parametrize("name", sorted(TABLE))
def test_sympy_lowering_agrees_with_numpy_forward_at_random_points(name: str) -> None:
    found = example(name)
    assert found is not None
    build, generators = found
    if name in NO_SYMBOLIC_FORM:
        x = leaf("x0", (2, 3), "float64")
        with pytest.raises(NoSymbolicForm, match="no symbolic form"):
            lower([build(x)], {id(x): symbols("x0", (2, 3))})
        return
    for seed in range(2):
        rng = np.random.default_rng(seed)
        arrays = [g(rng, (2, 3)) for g in generators]
        xs = [leaf(f"x{i}", a.shape, "float64") for i, a in enumerate(arrays)]
        out = build(*xs)
        expected = np.asarray(evaluate([out], {f"x{i}": a for i, a in enumerate(arrays)})[0])
        given = {id(x): symbols(f"x{i}", a.shape) for i, (x, a) in enumerate(zip(xs, arrays))}
        if name in NO_SYMBOLIC:
            with pytest.raises(NoSymbolicForm, match="has no symbolic form [(].+[)]"):
                lower([out], given)
            return
        (expr,) = lower([out], given)
        assert expr.shape == expected.shape
        point = {given[id(x)][index]: sympy.Float(float(a[index]), 30)
                 for x, a in zip(xs, arrays) for index in np.ndindex(a.shape)}
        got = np.array([to_float(e.xreplace(point)) for e in expr.ravel()]).reshape(expr.shape)
        # sympy is exact; the forward rounds to its output dtype (cast to float32)
        rtol = 1e-12 if expected.dtype != np.float32 else 1e-6
        np.testing.assert_allclose(got, expected.astype(np.float64), rtol=rtol, atol=1e-14)


def test_every_lowered_expression_is_symbolic_in_its_inputs() -> None:
    # a rule that evaluated numerically would pass the agreement test but
    # could not be differentiated: the lowering must keep the symbols
    x = leaf("x", (2,), "float64")
    (expr,) = lower([apply("sin", (N.mul(x, x),))], {id(x): symbols("x", (2,))})
    sym = sympy.Symbol("x[0]", real=True)
    assert sympy.diff(expr[0], sym) == 2 * sym * sympy.cos(sym**2)


def test_stop_gradient_lowers_to_its_value_with_derivative_zero() -> None:
    x = leaf("x", (), "float64")
    (expr,) = lower([N.mul(N.stop_gradient(x), x)], {id(x): symbols("x", ())})
    sym = sympy.Symbol("x", real=True)
    derivative = sympy.diff(expr[()], sym)
    assert to_float(derivative.xreplace({sym: sympy.Float(3.0)})) == 3.0  # not 2 * 3
    assert to_float(expr[()].xreplace({sym: sympy.Float(3.0)})) == 9.0


def test_numbers_are_exact_and_labels_are_components() -> None:
    assert list(numbers(np.array([2.0, 0.5, 0.1]), None)) == [
        sympy.Integer(2), sympy.Rational(1, 2), sympy.Rational(1, 10)]
    assert float(numbers(np.array([0.1]), 30)[0]) == 0.1  # the binary value, exactly
    assert element_label("a", (0, 1)) == "a[0,1]" and element_label("x", ()) == "x"


def test_sampling_is_deterministic_sorted_and_complete_below_the_limit() -> None:
    assert list(sample(5, 10, "q").flat) == [0, 1, 2, 3, 4]
    first, again = sample(1000, 20, "grad.a"), sample(1000, 20, "grad.a")
    assert list(first.flat) == list(again.flat) and first.sampled and first.total == 1000
    assert list(first.flat) == sorted(set(first.flat))
    assert list(sample(1000, 20, "grad.b").flat) != list(first.flat)


# ---- gradcli symbolic ----------------------------------------------------------------------

def test_seed_000_closed_forms_are_b_times_cos_a() -> None:
    code, out, err = run("symbolic", SIN_MATMUL, "--format", "json")
    assert code == 0, err
    doc = json.loads(out)["symbolic"]
    a = doc["a"]["derivatives"]
    assert a == {"a[0,0]": "b[0,0]*cos(a[0,0])", "a[0,1]": "b[1,0]*cos(a[0,1])",
                 "a[1,0]": "b[0,0]*cos(a[1,0])", "a[1,1]": "b[1,0]*cos(a[1,1])"}
    assert doc["b"]["derivatives"] == {"b[0,0]": "sin(a[0,0]) + sin(a[1,0])",
                                       "b[1,0]": "sin(a[0,1]) + sin(a[1,1])"}
    assert doc["a"]["matrix"]["expression"] == "ones((2, 1)) @ b.T * cos(a)"
    assert doc["b"]["matrix"]["expression"] == "sin(a).T @ ones((2, 1))"


def test_symbolic_text_and_latex() -> None:
    code, out, _ = run("symbolic", SIN_MATMUL, "--wrt", "a")
    assert code == 0
    assert "d/da[0,1] = b[1,0]*cos(a[0,1])" in out
    assert "d(sum of y)/d(a) = ones((2, 1)) @ b.T * cos(a)" in out
    assert "d(sum of y)/d(b)" not in out
    code, out, _ = run("symbolic", SIN_MATMUL, "--wrt", "a[1,0]", "--latex")
    assert code == 0
    assert r"\frac{\partial}{\partial a_{1,0}} = b_{0,0} \cos{\left(a_{1,0} \right)}" in out


def test_symbolic_shares_subexpressions_and_states_sampling() -> None:
    code, out, _ = run("symbolic", str(SPECS / "higher-derivatives-through-concat.yaml"),
                       "--wrt", "x", "--max-symbolic", "2")
    assert code == 0
    assert "(4 components, sampled 2 of 4 components)" in out
    assert out.count("d/dx[") == 2
    # the input is named t, so shared subexpressions are not called t0
    assert "tmp0 = " in out or "tmp" not in out


def test_symbolic_of_an_inline_expression() -> None:
    code, out, _ = run("symbolic", "-e", "sin(x) * w", "--set", "x=0.5", "--set", "w=2.0")
    assert code == 0
    assert "d/dx = w*cos(x)" in out and "d/dw = sin(x)" in out


def test_symbolic_refuses_graphs_too_large_to_lower(tmp_path: Path) -> None:
    code, out, err = run("symbolic", "-e", "sum(x * x)", "--set", "x=@" + _big(tmp_path))
    assert code == 2 and out == "" and "too many to lower" in err


def _big(tmp_path: Path) -> str:
    path = tmp_path / "big.npy"
    np.save(path, np.ones((500, 500)))
    return str(path)


# Specs whose gradient programs use only catalogue functions (tanh's derivative
# uses the internal op sech2, which the expression language does not offer).
PASTEABLE = ["symbolic-gradient-sin-matmul", "quickstart",
             "nested-gradient-wrt-concatenated-tensor", "assign-gradient-wrt-patch",
             "assign-gradient-wrt-overwritten-x"]


@pytest.mark.parametrize("name", PASTEABLE)
def test_the_matrix_form_evaluates_to_the_engine_gradient(name: str) -> None:
    """The printed matrix form is in the spec language: paste it into the
    spec as outputs and it computes the same gradient."""
    path = SPECS / f"{name}.yaml"
    code, out, err = run("symbolic", str(path), "--format", "json", "--max-symbolic", "1")
    assert code == 0, err
    data = yaml.safe_load(path.read_text())
    data.pop("expect", None)
    data.pop("wrt", None)
    grads = gradcli.load(path).grad()
    lets = dict(data.get("let") or {})
    outputs = {}
    for k, (_key, entry) in enumerate(json.loads(out)["symbolic"].items()):
        lets.update({f"{n}_{k}": v for n, v in entry["matrix"]["lets"].items()})
        text = entry["matrix"]["expression"]
        for n in entry["matrix"]["lets"]:  # temporaries of different sources apart
            text = text.replace(n, f"{n}_{k}")
        outputs[f"g{k}"] = text
    data["let"] = {**lets, **{n: e for n, e in (data.get("outputs") or {}).items()}}
    data["outputs"] = outputs
    pasted = gradcli.load(data).evaluate()
    for k, key in enumerate(grads):
        np.testing.assert_allclose(pasted[f"g{k}"], grads[key], rtol=1e-13, atol=1e-15)


def test_grad_never_imports_sympy() -> None:
    code = ("import sys; from gradcli.cli.group import main\n"
            "try:\n    main(['grad', 'specs/quickstart.yaml', '--format', 'json'])\n"
            "except SystemExit as e:\n    assert e.code == 0, e.code\n"
            "print('sympy' in sys.modules, file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "False"


def test_an_unconnected_source_has_zero_closed_forms_and_says_why() -> None:
    code, out, err = run("symbolic", "-e", "sin(x)", "--set", "x=0.5", "--set", "z=1.0",
                         "--wrt", "z")
    assert code == 0
    assert "d/dz = 0" in out and "matrix form: None (unconnected" in out
    assert "gradcli: note: z is unconnected" in err
