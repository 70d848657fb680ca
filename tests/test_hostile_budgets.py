"""Work budgets of issue 18 (docs/limits.md, "Work budgets"): every
expensive path a spec can reach is bounded, and the bound is asserted here
on the work done (sympy expression sizes, finite-difference units, graph
nodes, memory: workbound.py), never on time.

The reproductions: `check`/`symbolic` on an 11-line let chain whose sympy
tree has 3**11 nodes; `check` on a 10,000-element input; orders of 10**5 and
10**9; pad(x, 10**6, mode='reflect'); a `--set` alias bomb; .npy headers
that declare absurd sizes; 200,000 scalar inputs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sympy
from click.testing import CliRunner
from workbound import MiB, assert_bounded, measured

from gradcli.api import load
from gradcli.cli.group import cli
from gradcli.verify import check_methods
from gradcli.verify.check import Options, check_file
from gradcli.verify.sympy_budget import MAX_TREE, Terms, tree_size

SPECS = Path(__file__).parent.parent / "specs"


def chain_spec(links: int = 11) -> str:
    lines = ["inputs:", "  x: 0.7", "let:", "  a1: sin(x)*cos(x)+x"]
    lines += [f"  a{n}: sin(a{n - 1}) * cos(a{n - 1}) + a{n - 1}" for n in range(2, links + 1)]
    return "\n".join(lines + ["outputs:", f"  f: a{links}"]) + "\n"


def write(folder: Path, text: str, name: str = "spec.yaml") -> str:
    path = folder / name
    path.write_text(text)
    return str(path)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def diffs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The tree size (capped just past MAX_TREE) of every expression handed to sympy.diff."""
    sizes: list[int] = []
    real = sympy.diff

    def counting(expr: Any, *args: Any, **kwargs: Any) -> Any:
        sizes.append(tree_size(sympy.sympify(expr), MAX_TREE))
        return real(expr, *args, **kwargs)

    monkeypatch.setattr(sympy, "diff", counting)
    return sizes


# ---- the size budget ------------------------------------------------------------------------

def test_tree_size_counts_a_shared_subexpression_each_time_it_occurs() -> None:
    x = sympy.Symbol("x")
    a = x
    for links in range(1, 12):
        a = sympy.sin(a) * sympy.cos(a) + a
        if links <= 4:  # small enough to walk as sympy's own tree
            assert tree_size(a, MAX_TREE) == sum(1 for _ in sympy.preorder_traversal(a))
    # the 11-link chain: a graph of a few dozen nodes, a tree of about 3**11
    assert tree_size(a, MAX_TREE) == MAX_TREE + 1
    assert tree_size(a, 10**9) > 3**11


def test_a_sum_is_differentiated_through_the_terms_with_the_symbol() -> None:
    xs = sympy.symbols("x0:10000")
    terms = Terms(sympy.Add(*[sympy.sin(x) for x in xs]))
    part = terms.containing(xs[1234])
    assert part == sympy.sin(xs[1234]) and tree_size(part, MAX_TREE) == 2
    assert terms.containing(sympy.Symbol("z")) == 0


def test_check_of_a_let_chain_skips_sympy_and_checks_finite_differences(
        tmp_path: Path, diffs: list[int]) -> None:
    path = write(tmp_path, chain_spec())
    report = check_file(path, Options())
    rows = {(r.quantity, r.method): r for r in report.rows}
    sym, fd = rows[("grad.x", "sympy")], rows[("grad.x", "fd")]
    assert sym.status == "SKIP" and f"more than {MAX_TREE} nodes" in sym.detail
    assert fd.status == "PASS" and fd.compared == 1
    assert report.status == "PASS"
    assert all(size <= MAX_TREE for size in diffs), diffs  # never handed the big tree


def test_the_skip_reaches_json_and_junit(tmp_path: Path) -> None:
    path = write(tmp_path, chain_spec())
    junit = tmp_path / "r.xml"
    code, out, err = run("check", path, "--format", "json", "--junit", str(junit))
    assert code == 0, err
    rows = {(r["quantity"], r["method"]): r for r in json.loads(out)["specs"][0]["rows"]}
    assert rows[("grad.x", "sympy")]["status"] == "SKIP"
    assert "nodes" in rows[("grad.x", "sympy")]["detail"]
    assert rows[("grad.x", "fd")]["status"] == "PASS"
    assert '<skipped message="sympy would differentiate' in junit.read_text()


def test_symbolic_of_a_let_chain_reports_the_skip_and_still_prints_the_matrix_form(
        tmp_path: Path, diffs: list[int]) -> None:
    path = write(tmp_path, chain_spec())
    code, out, err = run("symbolic", path)
    assert code == 0, err
    assert f"SKIPPED: sympy would differentiate an expression of more than {MAX_TREE}" in out
    assert "0 of 1 components computed" in out
    assert "matrix form (from the simplified gradient program)" in out
    assert "gradcli: note: symbolic: x: SKIPPED" in err
    code, out, err = run("symbolic", path, "--format", "json")
    assert code == 0, err
    form = json.loads(out)["symbolic"]["x"]
    assert form["derivatives"] == {} and "nodes" in form["skipped"]
    assert form["sampled"] is False and form["matrix"] is not None
    assert all(size <= MAX_TREE for size in diffs), diffs


def test_a_short_chain_is_still_differentiated_by_sympy(tmp_path: Path) -> None:
    path = write(tmp_path, chain_spec(3))
    report = check_file(path, Options())
    assert {r.method: r.status for r in report.rows if r.quantity == "grad.x"} == \
        {"sympy": "PASS", "fd": "PASS"}
    code, out, err = run("symbolic", path, "--format", "json")
    assert code == 0 and json.loads(out)["symbolic"]["x"]["skipped"] is None


# ---- the time budget (a safety net: asserted on what is reported, not on speed) ---------------

def test_past_the_time_budget_sympy_is_skipped_and_finite_differences_run() -> None:
    report = check_file(str(SPECS / "quickstart.yaml"), Options(sympy_seconds=1e-9))
    sym = [r for r in report.rows if r.method == "sympy"]
    assert sym and all(r.status == "SKIP" and "time budget" in r.detail for r in sym), sym
    assert all(r.status == "PASS" for r in report.rows if r.method == "fd")
    code, out, err = run("symbolic", str(SPECS / "quickstart.yaml"), "--sympy-seconds", "1e-9",
                         "--format", "json")
    assert code == 0, err
    assert all("time budget" in f["skipped"] for f in json.loads(out)["symbolic"].values())


def test_sympy_seconds_must_be_positive() -> None:
    code, _, err = run("check", str(SPECS / "quickstart.yaml"), "--sympy-seconds", "0")
    assert code == 2 and "--sympy-seconds" in err


# ---- a large input --------------------------------------------------------------------------

def test_check_of_ten_thousand_elements_is_bounded(tmp_path: Path, diffs: list[int]) -> None:
    path = write(tmp_path, "inputs:\n  x: {random: uniform, shape: [10000], seed: 0}\n"
                           "outputs:\n  y: sum(sin(x))\n")
    with measured(1024 * MiB) as work:
        report = check_file(path, Options())
    assert_bounded(work, "check of 10,000 elements", 10**5)
    rows = {r.method: r for r in report.rows if r.quantity == "grad.x"}
    assert rows["sympy"].status == rows["fd"].status == "PASS"
    assert "sampled 64 of 10000" in rows["sympy"].detail
    assert "sampled 1024 of 10000" in rows["fd"].detail
    # each sampled component differentiates its own term: sin(x_k), 2 nodes
    assert len(diffs) == 64 and max(diffs) == 2


def test_finite_differences_of_a_large_graph_sample_fewer_units(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """FD_WORK bounds the elements one quantity's stencils evaluate: a graph
    of ~30,000 elements gets FD_WORK / (24 * 30,000) units."""
    path = write(tmp_path, "inputs:\n  x: {random: uniform, shape: [10000], seed: 0}\n"
                           "outputs:\n  y: sum(sin(x))\n")
    monkeypatch.setattr(check_methods, "FD_WORK", 24 * 40_000 * 5)
    report = check_file(path, Options(methods=("fd",)))
    (row,) = report.rows
    assert row.status == "PASS"
    units = int(row.detail.split("sampled ")[1].split(" of")[0])
    assert 1 <= units <= 10, row.detail
    monkeypatch.setattr(check_methods, "FD_WORK", 1)  # at least one unit, always
    (row,) = check_file(path, Options(methods=("fd",))).rows
    assert row.status == "PASS" and "sampled 1 of 10000" in row.detail


# ---- orders, pad, --set, .npy headers, many inputs (refused or bounded) ---------------------

@pytest.mark.parametrize("args,fragment", [
    (["grad", "-e", "sum(x ** 2)", "--set", "x=1.0", "--order", "1000000000"], "maximum of 32"),
    (["grad", "-e", "sum(x ** 2)", "--set", "x=1.0", "--order", "33"], "maximum of 32"),
    (["graph", "-e", "sum(x ** 2)", "--set", "x=1.0", "--grad", "--order", "1000"],
     "maximum of 32"),
    (["grad", "-e", "tanh(x) * exp(x) / (1 + x ** 2)", "--set", "x=0.5", "--order", "32"],
     "derivative nodes, more than the 20000"),
])
def test_orders_are_bounded(args: list[str], fragment: str) -> None:
    with measured(512 * MiB) as work:
        code, out, err = run(*args)
    # the node budget: at most one derivative program past 20,000 nodes is built
    assert_bounded(work, args, 200_000, err)
    assert code == 2 and out == "" and fragment in err, err


def test_expect_orders_are_bounded(tmp_path: Path) -> None:
    path = write(tmp_path, "inputs:\n  x: 1.0\noutputs:\n  y: x**2\n"
                           "expect:\n  orders: {100000: {x: 0}}\n")
    code, _, err = run("check", path)
    assert code == 2 and "spec.yaml:6:12: order 100000 is above the maximum of 32" in err


def test_pad_reflect_of_a_million_is_a_gather_not_a_million_slices() -> None:
    with measured(256 * MiB) as work:
        code, out, err = run("eval", "-e", "sum(pad(x, 10**6, mode='reflect'))",
                             "--set", "x=[1.0, 2.0, 3.0]", "--format", "json")
    assert code == 0, err
    assert_bounded(work, "pad reflect", 100, err)
    expected = np.pad(np.array([1.0, 2.0, 3.0]), 10**6, mode="reflect").sum()
    assert json.loads(out)["outputs"]["y"] == expected


def test_a_set_alias_bomb_is_refused_before_it_expands() -> None:
    levels = ["&a [1,1,1,1,1,1,1,1,1]"] + [
        f"&{b} [{','.join(['*' + a] * 9)}]" for a, b in zip("abcde", "bcdef")]
    with measured(256 * MiB) as work:
        code, out, err = run("eval", "-e", "sum(x)", "--set", f"x=[{', '.join(levels)}]")
    assert_bounded(work, "--set bomb", 100, err)
    assert code == 2 and "more than 200000 values" in err, err


def test_npy_headers_are_read_with_bounds(tmp_path: Path) -> None:
    spec = write(tmp_path, "inputs:\n  x: {file: a.npy}\noutputs:\n  y: sum(x)\n")
    (tmp_path / "a.npy").write_bytes(b"\x93NUMPY\x02\x00" + (2**32 - 1).to_bytes(4, "little"))
    code, _, err = run("eval", spec)
    assert code == 2 and "more than numpy's limit" in err, err
    # a 4 GiB array declared by a short file is refused before numpy allocates it
    header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (536870912,), }"
    header += b" " * (118 - len(header)) + b"\n"
    (tmp_path / "a.npy").write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little")
                                     + header)
    with measured(64 * MiB) as work:
        code, _, err = run("eval", spec, "--max-elements", str(10**9))
    assert_bounded(work, "npy 4 GiB header", 100, err)
    assert code == 2 and "declares 4294967296 bytes of data" in err, err
    # format 3.0 (utf-8 header) is read through numpy's public API
    with open(tmp_path / "a.npy", "wb") as handle:
        np.lib.format.write_array(handle, np.array([1.0, 2.5]), version=(3, 0))
    code, out, err = run("eval", spec, "--format", "json")
    assert code == 0 and json.loads(out)["outputs"]["y"] == 3.5, err


def test_many_scalar_inputs_load_in_linear_memory(tmp_path: Path) -> None:
    count = 200_000
    text = "inputs:\n" + "".join(f"  x{k}: {k}.5\n" for k in range(count)) + \
        "outputs:\n  y: x0 + x199999\n"
    path = write(tmp_path, text)
    with measured(1024 * MiB) as work:
        problem = load(path)
    assert_bounded(work, "200,000 inputs", 2 * count + 100)
    assert len(problem.leaves) == count
    assert float(problem.evaluate()["y"]) == 0.5 + 199999.5


def test_a_large_elementwise_node_is_lowered_in_pieces_with_the_budget_checked_between(
        tmp_path: Path) -> None:
    from gradcli.verify.symbolic import PIECE, lower, numbers
    from gradcli.verify.sympy_budget import OutOfTime

    problem = load(write(tmp_path, "inputs:\n  x: {random: uniform, shape: [5000], seed: 0}\n"
                                   "outputs:\n  y: sum(sin(x))\n"))
    given = {id(problem.leaves["x"]): numbers(problem.values["x"], 30)}
    calls: list[int] = []

    def check() -> None:
        calls.append(1)
        if len(calls) > 3:
            raise OutOfTime("budget")

    with pytest.raises(OutOfTime):
        lower([problem.outputs["y"]], given, 30, check)
    # one check before the sin node, then one per piece: out after 3 pieces of PIECE elements
    assert len(calls) == 4 and 3 * PIECE < 5000
    calls.clear()
    (total,) = lower([problem.outputs["y"]], given, 30, lambda: calls.append(1))
    assert len(calls) >= 5000 // PIECE + 2  # sin's pieces, and one before each node
    assert abs(float(total) - float(np.sin(problem.values["x"]).sum())) < 1e-9


def test_the_cli_default_is_the_library_budget() -> None:
    from gradcli.verify.sympy_budget import SECONDS

    for name in ("check", "symbolic"):
        (param,) = [p for p in cli.commands[name].params if p.name == "sympy_seconds"]
        assert param.default == SECONDS, name
