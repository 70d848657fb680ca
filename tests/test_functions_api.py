"""The catalogue's interface to the expression compiler: Context/as_node,
dtype promotion, operators, call errors, and the catalogue's completeness."""

from __future__ import annotations

import math

import numpy as np
import pytest
from fdcheck import check_derivatives
from test_functions_support import CTX, CTX32, build, gradients, rand

from gradcli.engine.evaluate import evaluate
from gradcli.engine.graph import Node, const, leaf
from gradcli.errors import Location, ShapeError, SpecError
from gradcli.language.functions import CATALOGUE, OPERATORS, Context, Function, as_node

DESIGN_MINIMUM = """abs sign sqrt cbrt square exp expm1 log log1p log2 log10 sin cos tan arcsin
arccos arctan arctan2 sinh cosh tanh arcsinh arccosh arctanh erf erfc sigmoid relu leaky_relu elu
gelu softplus silu maximum minimum clip where sum mean prod max min logsumexp norm var std matmul
dot tensordot einsum transpose outer trace diag det inv solve reshape flatten concat stack pad
broadcast_to expand_dims squeeze tile repeat one_hot stop_gradient softmax log_softmax
cross_entropy sparse_cross_entropy mse zeros ones eye full linspace arange""".split()


def test_catalogue_holds_the_design_minimum_with_docs():
    assert set(DESIGN_MINIMUM) <= set(CATALOGUE)
    for name, function in CATALOGUE.items():
        assert isinstance(function, Function) and function.name == name
        assert function.doc and "\n" not in function.doc, name
        assert function.signature.startswith(name + "("), name
    assert CATALOGUE["sum"].signature == "sum(x, axis=None, keepdims=False)"
    assert CATALOGUE["pad"].signature == \
        'pad(x, pad_width, mode="constant", constant_values=0)'
    assert CATALOGUE["einsum"].signature == "einsum(subscripts, *operands)"
    with pytest.raises(TypeError):
        CATALOGUE["sum"] = CATALOGUE["mean"]  # read-only mapping


@pytest.mark.parametrize("name,kink", [("relu", "relu'(0) = 0"), ("abs", "abs'(0) = 0"),
                                       ("max", "ties split"), ("maximum", "ties split"),
                                       ("minimum", "ties split"), ("clip", "splits evenly"),
                                       ("sqrt", "sqrt'(0) = +inf"), ("norm", "norm'(0) = 0"),
                                       ("where", "no derivative through cond")])
def test_kink_conventions_are_documented(name, kink):
    assert kink in CATALOGUE[name].kink


def test_as_node():
    x = leaf("x", (2,), "float64")
    assert as_node(CTX, x) is x
    n = leaf("n", (2,), "int64")
    assert as_node(CTX, n) is n
    for value, shape in ((2, ()), (2.5, ()), (True, ()), ([[1, 2], [3, 4]], (2, 2))):
        node = as_node(CTX32, value)
        assert node.dtype == "float32" and node.shape == shape
    assert as_node(CTX, [1, 2]).attrs["value"].tolist() == [1.0, 2.0]


def test_as_node_stacks_lists_holding_nodes():
    x = leaf("x", (2,), "float64")
    node = as_node(CTX, [x, [1.0, 2.0], x])
    assert node.shape == (3, 2)
    got = evaluate([node], {"x": np.array([5.0, 6.0])})[0]
    np.testing.assert_array_equal(got, [[5, 6], [1, 2], [5, 6]])
    check_derivatives(lambda a, b: as_node(CTX, [a, b]), rand((2,), 1), rand((2,), 2))
    with pytest.raises(ShapeError, match="equal shapes"):
        as_node(CTX, [x, 1.0])


@pytest.mark.parametrize("bad,message", [("abc", "string 'abc'"), (None, "None"),
                                         ([[1, 2], [3]], "ragged"), ([1, "a"], "string 'a'"),
                                         (10 ** 400, "too large for float64")])
def test_as_node_rejects(bad, message):
    with pytest.raises(SpecError, match=message):
        as_node(CTX, bad)


def test_mixed_int_float_operands_cast_the_int():
    n = leaf("n", (3,), "int64")
    x = leaf("x", (3,), "float32")
    assert OPERATORS["Add"](CTX32, n, x).dtype == "float32"
    assert OPERATORS["Add"](CTX32, n, n).dtype == "int64"
    assert OPERATORS["Add"](CTX32, n, 1).dtype == "float32"  # literals are floats
    assert OPERATORS["Div"](CTX, n, n).dtype == "float64"  # true division
    assert OPERATORS["Pow"](CTX, n, 2).dtype == "float64"
    assert OPERATORS["Mult"](CTX, n, leaf("m", (3,), "int32")).dtype == "int64"
    assert build("maximum", n, x, ctx=CTX32).dtype == "float32"
    assert build("where", OPERATORS["Gt"](CTX, n, 0), n, x, ctx=CTX32).dtype == "float32"


OPS = {"Add": np.add, "Sub": np.subtract, "Mult": np.multiply, "Div": np.divide,
       "Pow": np.power}


@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize("shapes", [((2, 3), (2, 3)), ((2, 3), (3,)), ((2, 1), ()),
                                    ((), (4,))])
def test_arithmetic_operators(op, shapes):
    a, b = rand(shapes[0], 1, 0.5, 2.0), rand(shapes[1], 2, 0.5, 2.0)
    got = evaluate([OPERATORS[op](CTX, const(a), const(b))], {})[0]
    np.testing.assert_allclose(got, OPS[op](a, b), rtol=1e-15)
    check_derivatives(lambda x, y: OPERATORS[op](CTX, x, y), a, b)


def test_operators_with_numbers_and_unary():
    x = rand((3,), 3, 0.5, 2.0)
    check_derivatives(lambda v: OPERATORS["Pow"](CTX, v, 3), x)
    check_derivatives(lambda v: OPERATORS["Div"](CTX, 1.0, v), x)
    check_derivatives(lambda v: OPERATORS["USub"](CTX, v), x)
    check_derivatives(lambda v: OPERATORS["UAdd"](CTX, v), x)
    assert float(evaluate([OPERATORS["Sub"](CTX, 1, 3)], {})[0]) == -2.0


def test_ieee_products_are_kept():
    # 0 * inf and 0 / 0 are nan in numpy; the catalogue does not fold them to 0.
    x = leaf("x", (2,), "float64")
    prod = OPERATORS["Mult"](CTX, 0.0, x)
    quot = OPERATORS["Div"](CTX, 0.0, x)
    got = evaluate([prod, quot], {"x": np.array([np.inf, 0.0])})
    assert np.isnan(got[0][0]) and got[0][1] == 0.0
    assert got[1][0] == 0.0 and np.isnan(got[1][1])


@pytest.mark.parametrize("op,ref", [("Lt", np.less), ("LtE", np.less_equal),
                                    ("Gt", np.greater), ("GtE", np.greater_equal),
                                    ("Eq", np.equal), ("NotEq", np.not_equal)])
def test_comparisons_return_bool_nodes(op, ref):
    a = np.array([1.0, 2.0, 3.0])
    node = OPERATORS[op](CTX, const(a), 2)
    assert node.dtype == "bool"
    np.testing.assert_array_equal(evaluate([node], {})[0], ref(a, 2.0))


def test_where_accepts_numeric_conditions_like_numpy():
    x = rand((3,), 1)
    cond = const(np.array([0.0, 2.0, -1.0]))
    got = evaluate([build("where", cond, const(x), 0.0)], {})[0]
    np.testing.assert_array_equal(got, np.where([0.0, 2.0, -1.0], x, 0.0))
    got = evaluate([build("where", [True, False, True], const(x), -1.0)], {})[0]
    np.testing.assert_array_equal(got, np.where([True, False, True], x, -1.0))


def test_bool_masks_in_arithmetic_have_no_derivative():
    x = rand((4,), 2)
    (g,) = gradients(lambda v: OPERATORS["Mult"](CTX, OPERATORS["Gt"](CTX, v, 0.0), v), x)
    np.testing.assert_array_equal(g, (x > 0).astype(float))


def test_call_errors_are_spec_errors_naming_the_function():
    x = leaf("x", (2, 3), "float64")
    with pytest.raises(SpecError, match=r"^sum\(x, axis=None, keepdims=False\): .*'axes'"):
        build("sum", x, axes=1)
    with pytest.raises(SpecError, match=r"^exp\(x\): .*argument"):
        build("exp")
    with pytest.raises(SpecError, match=r"^sin: the string 'x' cannot be used"):
        build("sin", "x")
    with pytest.raises(SpecError, match="^leaky_relu: argument 'alpha' must be a number"):
        build("leaky_relu", x, alpha="big")
    with pytest.raises(SpecError, match="^gelu: argument 'approximate' must be True or False"):
        build("gelu", x, approximate="tanh")
    with pytest.raises(ShapeError, match=r"^operator '\+': shapes \(2, 3\) and \(2,\)"):
        OPERATORS["Add"](CTX, x, leaf("y", (2,), "float64"))
    with pytest.raises(ShapeError, match=r"^maximum: shapes \(2, 3\) and \(2,\)"):
        build("maximum", x, leaf("y", (2,), "float64"))


def test_compiler_integration():
    from gradcli.language.expr import compile_expr

    where = Location("spec.yaml", 3, 5)
    names = {"x": leaf("x", (4, 1), "float64"), "t": leaf("t", (4, 1), "float64"),
             "labels": leaf("labels", (4,), "int64")}
    cases = {
        "concat([x, t], axis=1)": (4, 2),
        "sum(sin(x) * t, axis=0, keepdims=True)": (1, 1),
        "sparse_cross_entropy(labels=labels, logits=concat([x, t, x], axis=1))": (4,),
        "einsum('ij,ij->i', x, t)": (4,),
        "reshape(x, (2, -1)) @ ones((2, 3))": (2, 3),
        "where(x > 0, relu(x), -x ** 2)": (4, 1),
        "linspace(0, 2 * pi, 5)": (5,),
        "pad(x, ((1, 0), (0, 2)), mode='edge')": (5, 3),
    }
    for text, shape in cases.items():
        node = compile_expr(text, names, CTX, where)
        assert isinstance(node, Node) and node.shape == shape, text
    with pytest.raises(SpecError) as info:
        compile_expr("sum(x, axes=0)", names, CTX, where)
    assert "sum(x, axis=None, keepdims=False)" in str(info.value)
    assert str(info.value).startswith("spec.yaml:3:")


def test_context_is_frozen():
    ctx = Context("float32")
    with pytest.raises(AttributeError):
        ctx.dtype = "float64"  # type: ignore[misc]
    assert math.isclose(float(evaluate([build("log2", 8.0)], {})[0]), 3.0, rel_tol=1e-15)
