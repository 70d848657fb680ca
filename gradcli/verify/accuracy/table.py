"""Which op the harness measures how: every row of the op TABLE and every
catalogue function is either a case (points and references) or excluded with
its reason, so a new op without point generators fails a test that says so.

The bars are the issue's: relative error 1e-13 for values and first
derivatives and 1e-12 for second derivatives in float64, 1e-5 in float32.
An op that cannot meet a bar states the bound it does meet, and why, in its
row (`Primitive.accuracy` / `Function.accuracy`); the harness enforces that
bound instead, and fails if the bound is no longer needed.
"""

from __future__ import annotations

from collections.abc import Mapping

from gradcli.engine.ops import TABLE
from gradcli.engine.ops.row import Accuracy
from gradcli.language.functions import CATALOGUE
from gradcli.verify.accuracy import (
    cases_arrays,
    cases_decompositions,
    cases_elementwise,
    cases_linalg,
    cases_numeric,
    cases_spectral,
    cases_vector,
)
from gradcli.verify.accuracy.case import Case

# Keyed by case: the op, or "op variant" where an op is measured several ways.
CASES: Mapping[str, Case] = {case.key: case for family in (
    cases_elementwise.CASES, cases_vector.CASES, cases_linalg.CASES, cases_numeric.CASES,
    cases_arrays.CASES, cases_decompositions.CASES, cases_spectral.CASES)
    for case in family}

STRUCTURAL = "structural: moves, selects or copies numbers, no arithmetic"
PERMUTES = "structural: a permutation of the elements (values exact, derivative the permutation)"
INDEXED = ("structural: integer-indexed selection or writing (values exact, derivative the "
           "same selection backwards, a scatter_add)")
CREATION = "creation: constants, nothing to differentiate"
COMPARISON = "comparison: a boolean result, no derivative"

EXCLUDED: Mapping[str, str] = {
    **{name: COMPARISON for name in ("lt", "le", "gt", "ge", "eq", "ne")},
    **{name: STRUCTURAL for name in (
        "named", "reshape", "broadcast_to", "transpose", "getitem", "setitem", "concat",
        "pad", "stop_gradient", "where", "expand_dims", "flatten", "squeeze", "stack", "tile",
        "repeat", "diag", "append", "array_split", "split", "hsplit", "vsplit", "dsplit",
        "atleast_1d", "atleast_2d", "atleast_3d", "column_stack", "hstack", "vstack",
        "dstack", "moveaxis", "swapaxes", "ravel")},
    **{name: PERMUTES for name in ("flip", "fliplr", "flipud", "roll", "rot90")},
    "sort": PERMUTES + "; the order is a stable argsort",
    "argsort": "integer positions: no float value, never differentiated",
    **{name: INDEXED for name in ("gather", "scatter_set", "take", "take_along_axis",
                                  "put_along_axis")},
    "scatter_add": "x.at[i].add(v) (the vjp of gather): one addition per element, measured "
                   "as add",
    "tril": "selection by a constant mask (a where): values exact, derivative 1 or 0",
    "triu": "selection by a constant mask (a where): values exact, derivative 1 or 0",
    "select": "composition of where: selects, no arithmetic",
    "nan_to_num": "composition of where and isnan: selects, no arithmetic",
    "isnan": "a boolean result, no derivative",
    "slogdet_sign": "piecewise constant: the sign of det, 1 or -1 (0 at a singular matrix), "
                    "derivative 0",
    "degenerate_check": "internal guard of the eigen/singular derivative rules: the identity on "
                        "its second operand (it only refuses repeated values), measured "
                        "through the first and second derivatives of eigh and svd",
    "linrec": "internal (the derivative rules of cumprod): measured through the first and "
              "second derivatives of cumprod, at vectors with zeros",
    "diff": "composition: subtractions of neighbours, measured as add",
    **{alias: f"numpy's other name for {op}: the same builder, measured as {op}" for alias, op in (
        ("absolute", "abs"), ("fabs", "abs"), ("negative", "neg"), ("remainder", "mod"),
        ("radians", "deg2rad"), ("degrees", "rad2deg"), ("eigvalsh", "eigh_w"),
        ("svdvals", "svd_s"))},
    "eigh": "results of eigh_w and eigh_v (eigenvalues and eigenvectors), each measured",
    "svd": "results of svd_u, svd_s and svd_vh, each measured",
    "qr": "results of qr_q and qr_r, each measured (a wide matrix adds a matmul by Q)",
    "slogdet": "results of slogdet_sign (piecewise constant) and logabsdet (measured)",
    **{name: CREATION for name in ("fill", "arange", "linspace", "eye", "full", "ones",
                                   "zeros")},
    "cast": "conversion: one rounding to the target dtype, derivative a cast back",
    "addat": "x.at[i].add(v): one addition per element, measured as add",
    "one_hot": "integer indices to 0/1 floats: exact, no derivative",
    "softmax_c": "internal (1 - softmax, only in derivative rules): measured through the "
                 "first and second derivatives of softmax, log_softmax, logsumexp and the "
                 "cross entropies",
    "clip": "composition of maximum and minimum: selects, no arithmetic",
    "dot": "composition: matmul (or a product and a sum), measured as matmul",
    "outer": "composition: a broadcast product, measured as mul",
    "tensordot": "composition: einsum, measured as einsum",
    "mse": "composition: difference, square, sum and scale, each measured on its own",
    **{name: "the arithmetic of matmul (windows copied out, then one matmul), which its own "
             "case measures; not callable in expressions (layers only): values checked "
             "against a naive loop and scipy in tests/test_ops_conv.py"
       for name in ("conv", "conv_transpose", "conv_filter")},
    **{name: STRUCTURAL for name in ("patches", "unpatch")},
}

# The bars, by dtype and order (0: value, 1: first, 2: second derivatives).
BARS: Mapping[str, tuple[float, float, float]] = {
    "float64": (1e-13, 1e-13, 1e-12),
    "float32": (1e-5, 1e-5, 1e-5),
}


def covered_names() -> set[str]:
    """Every name the harness must account for: TABLE rows and catalogue functions."""
    return set(TABLE) | set(CATALOGUE)


def unaccounted() -> list[str]:
    """Ops with neither a case nor an exclusion (a new op lands here)."""
    return sorted(covered_names() - measured_ops() - set(EXCLUDED))


def measured_ops() -> set[str]:
    """The ops that have at least one case."""
    return {case.op for case in CASES.values()}


def documented(op: str) -> tuple[Accuracy, ...]:
    """The exceptions an op states in its row (TABLE row first, then catalogue)."""
    found: list[Accuracy] = []
    if op in TABLE:
        found += TABLE[op].accuracy
    if op in CATALOGUE:
        found += [a for a in CATALOGUE[op].accuracy if a not in found]
    return tuple(found)


def bound(op: str, order: int, dtype: str, variant: str = ""
          ) -> tuple[float, Accuracy | None]:
    """The relative error the harness allows: the bar, or the op's documented
    bound for this case (the op's own, or one of its variants)."""
    for exception in documented(op):
        if exception.order == order and exception.dtype == dtype and \
                exception.variant == variant:
            return exception.bound, exception
    return BARS[dtype][order], None
