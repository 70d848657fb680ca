"""numpy code pasted into an expression: `np.`/`numpy.` (and `.linalg.`)
prefixes on catalogue names, and hints for what is still not understood —
a name that means something the catalogue spells differently, and
`x[:2] = v`, which numpy users write for a functional update.

Prefixes are resolved generically: `np.linalg.inv` is whatever the catalogue
calls `inv`, so functions added to the catalogue later need no entry here.
The meaning table is consulted only for names the catalogue does not know,
before the spelling suggestion (which would offer `std` for `svd`).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping

from gradcli.errors import suggest

PREFIXES = ("numpy.linalg.", "np.linalg.", "jnp.linalg.", "numpy.", "np.", "jnp.")
# Module attributes that are values, not functions (np.newaxis is None).
VALUES = {"pi", "e", "inf", "nan", "newaxis", "Inf", "NaN", "PINF", "NINF"}
VALUE_ALIASES = {"Inf": "inf", "PINF": "inf", "NaN": "nan"}


def dotted(node: ast.AST) -> str | None:
    """'np.linalg.inv' for the attribute chain np.linalg.inv; None for
    anything that is not names joined by dots."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or not parts:
        return None
    return ".".join([node.id, *reversed(parts)])


def strip_prefix(name: str) -> str | None:
    """The catalogue name a numpy spelling stands for ('np.linalg.inv' ->
    'inv'), or None when `name` has no numpy prefix or more dots after it."""
    for prefix in PREFIXES:
        if name.startswith(prefix):
            rest = name[len(prefix):]
            return rest if rest.isidentifier() else None
    return None


def module_value(name: str) -> tuple[bool, object]:
    """(True, value) for np.pi, numpy.inf, np.newaxis ...; (False, None) otherwise."""
    import math

    rest = strip_prefix(name)
    if rest not in VALUES:
        return False, None
    if rest == "newaxis":
        return True, None
    if rest == "NINF":
        return True, -math.inf
    key = VALUE_ALIASES.get(rest, rest)
    return True, {"pi": math.pi, "e": math.e, "inf": math.inf, "nan": math.nan}[key]


# ---- what an unknown name means ---------------------------------------------------------
# (names a user may type, what they are about, what to write instead).  Suggestions
# that are identifiers are shown only if the catalogue has them when the hint is
# made, so the table may name functions that other families add over time.

LINALG = ("det", "slogdet", "inv", "pinv", "solve", "cholesky", "eigh", "svd", "qr",
          "matrix_power", "norm", "trace", "diag", "matmul", "einsum")
_GROUPS: tuple[tuple[tuple[str, ...], str, tuple[str, ...]], ...] = (
    (("svd", "eig", "eigh", "eigvals", "eigvalsh", "qr", "cholesky", "lstsq", "lu", "pinv",
      "slogdet", "matrix_rank", "cond", "matrix_power", "expm", "logm", "sqrtm", "multi_dot",
      "tensorinv", "tensorsolve", "inverse", "determinant", "linalg"),
     "linear algebra; the catalogue has", LINALG),
    (("kron", "cross", "inner", "vdot", "matvec", "vecdot", "bmm", "mm"),
     "a product; write it with", ("matmul", "@", "dot", "tensordot", "outer", "einsum")),
    (("modulo", "modulus", "rem", "fmodf", "divmod"),
     "a remainder; write", ("a % b", "mod", "fmod", "a // b")),
    (("sort", "argsort", "argmax", "argmin", "median", "percentile", "quantile", "unique",
      "nonzero", "argwhere", "searchsorted", "partition", "argpartition", "topk", "top_k",
      "lexsort"),
     "ordering (a permutation or an index has no derivative); the catalogue has",
     ("sort", "argsort", "top_k", "max", "min", "where")),
    (("cumsum", "cumprod", "cummax", "cummin", "cumulative_sum", "cumulative_prod", "diff",
      "ediff1d", "gradient", "scan"),
     "a running sum or difference; the catalogue has", ("cumsum", "cumprod", "diff")),
    (("take", "take_along_axis", "gather", "gather_nd", "choose", "index_select", "compress",
      "extract"),
     "a gather; write", ("take", "take_along_axis", "gather", "x[i, j:k] (slices)")),
    (("split", "array_split", "hsplit", "vsplit", "dsplit", "chunk", "unstack"),
     "a split; write", ("split", "x[:, :2] (slices)")),
    (("concatenate", "hstack", "vstack", "column_stack", "dstack", "cat", "append",
      "row_stack"), "joining arrays; write", ("concat", "stack")),
    (("power", "float_power", "pow"), "a power; write", ("a ** b", "square", "sqrt", "exp2")),
    (("add",), "addition; write", ("a + b",)),
    (("subtract",), "subtraction; write", ("a - b",)),
    (("multiply",), "multiplication; write", ("a * b",)),
    (("divide", "true_divide"), "division; write", ("a / b", "reciprocal")),
    (("isinf", "isfinite", "isneginf", "isposinf"),
     "a test for inf; write", ("abs(x) == inf", "x == inf", "isnan", "nan_to_num")),
    (("nansum", "nanmean", "nanmax", "nanmin", "nanprod"),
     "a reduction ignoring NaN; write", ("sum(nan_to_num(x))", "fmax", "fmin")),
    (("heaviside", "step", "unit_step"), "a step function; write",
     ("where(x > 0, 1.0, 0.0)",)),
    (("log_sigmoid", "logsigmoid"), "log(sigmoid(x)); write", ("-softplus(-x)",)),
    (("logit",), "the inverse of sigmoid; write", ("log(p) - log1p(-p)",)),
    (("permute", "permute_dims", "moveaxis", "swapaxes", "rollaxis", "matrix_transpose"),
     "an axis permutation; write", ("transpose", "x.T")),
    (("view", "resize"), "a new shape; write", ("reshape",)),
    (("unsqueeze", "newaxis"), "a new axis; write", ("expand_dims", "x[:, None]")),
    (("softmax_cross_entropy", "categorical_crossentropy", "cross_entropy_loss", "nll_loss"),
     "a classification loss;", ("cross_entropy", "sparse_cross_entropy")),
    (("mean_squared_error", "mse_loss", "l2_loss"), "a squared-error loss;", ("mse",)),
    (("array", "asarray", "tensor", "constant", "copy"),
     "an array; write a nested list or a name directly, e.g.", ("[[1.0, 2.0], [3.0, 4.0]]",)),
    (("zeros_like", "ones_like", "full_like", "empty_like", "empty"),
     "a constant array; write", ("zeros(shape)", "ones(shape)", "full(shape, value)",
                                 "0 * x")),
)
MEANINGS: Mapping[str, tuple[str, tuple[str, ...]]] = {
    name: (text, uses) for names, text, uses in _GROUPS for name in names}
# Other spellings of one catalogue function (JAX, PyTorch, math, older numpy).
SPELLINGS: Mapping[str, str] = {
    "asin": "arcsin", "acos": "arccos", "atan": "arctan", "atan2": "arctan2",
    "asinh": "arcsinh", "acosh": "arccosh", "atanh": "arctanh", "amax": "max", "amin": "min",
    "around": "round", "rint": "round", "round_": "round", "fix": "trunc", "ln": "log",
    "sgn": "sign", "signum": "sign", "clamp": "clip", "expit": "sigmoid",
    "logistic": "sigmoid", "swish": "silu", "frobenius": "norm", "l2norm": "norm",
    "average": "mean", "variance": "var", "stdev": "std", "product": "prod",
    "softmax_v2": "softmax", "log_softmax_v2": "log_softmax", "flat": "flatten",
}


def meaning_hint(name: str, catalogue: Iterable[str]) -> str:
    """" (linear algebra; the catalogue has det, inv, ...)" for a name whose
    meaning is known, "" otherwise."""
    known = set(catalogue)
    key = name if name in MEANINGS or name in SPELLINGS else name.lower()
    if SPELLINGS.get(key) in known:
        return f" (did you mean '{SPELLINGS[key]}'?)"
    entry = MEANINGS.get(key)
    if entry is None:
        return ""
    text, uses = entry
    shown = [u for u in uses if not u.isidentifier() or u in known]
    if not shown:
        return f" ({text.split(';')[0]}: not in the catalogue yet)"
    return f" ({text} {', '.join(shown)})"


def unknown_hint(name: str, options: Iterable[str], catalogue: Iterable[str]) -> str:
    """The hint for an unknown name: its meaning if known, else the closest spelling."""
    return meaning_hint(name, catalogue) or suggest(name, options)


# ---- assignments ------------------------------------------------------------------------

def assignment_hint(text: str) -> str | None:
    """What to write instead when `text` is an assignment statement (which
    an expression cannot be), or None when it is not one."""
    try:
        tree = ast.parse(text.strip(), mode="exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    if len(tree.body) != 1:
        return None
    stmt = tree.body[0]
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        target, value, how = stmt.targets[0], stmt.value, "set"
    elif isinstance(stmt, ast.AugAssign):
        target, value, how = stmt.target, stmt.value, "aug"
    else:
        return None
    if isinstance(target, ast.Subscript):
        base, index = ast.unparse(target.value), _index_text(target.slice)
        v = ast.unparse(value)
        operand = v if isinstance(value, (ast.Name, ast.Constant, ast.Call, ast.Subscript,
                                          ast.Attribute)) else f"({v})"
        if how == "set":
            update = f"{base}.at[{index}].set({v})"
        elif isinstance(stmt.op, ast.Add):
            update = f"{base}.at[{index}].add({v})"
        elif isinstance(stmt.op, ast.Sub):
            update = f"{base}.at[{index}].add(-{operand})"
        else:
            op = ast.unparse(ast.BinOp(ast.Name("a"), stmt.op, ast.Name("b")))[2:-2]
            update = f"{base}.at[{index}].set({base}[{index}] {op} {operand})"
        return (f"assignment is not an expression; for a functional update (a copy of "
                f"{base} with those elements changed, differentiable in both) write {update}")
    if isinstance(target, ast.Name):
        return (f"assignment is not an expression; name a value under let: or outputs: "
                f"({target.id}: {ast.unparse(value)})")
    return None


def _index_text(node: ast.AST) -> str:
    text = ast.unparse(node)
    if isinstance(node, ast.Tuple) and text.startswith("(") and text.endswith(")"):
        text = text[1:-1]
    return text
