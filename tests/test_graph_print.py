"""`gradcli graph` printers, simplification and derivative-node names.

Snapshots are of seed 000's spec (specs/symbolic-gradient-sin-matmul.yaml):
the question was how to see TensorFlow's symbolic gradient
(`gradients/Sin_grad/mul`, `gradients/MatMul_grad/MatMul_1`), and these are
the lines that answer it.  A snapshot changes only on purpose: update it
together with the printer.
"""

# ruff: noqa: E501  (the snapshots below are the printers' lines, verbatim)
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import gradcli
from gradcli.engine.autodiff import vjp
from gradcli.engine.evaluate import evaluate
from gradcli.engine.graph import Node, const, leaf, toposort
from gradcli.engine.ops import apply
from gradcli.engine.ops import nodes as N
from gradcli.engine.programs import grad_program, hessian_program
from gradcli.engine.rewrite import rewrite
from gradcli.engine.rules import STANDARD

SPECS = Path(__file__).parent.parent / "specs"
SIN_MATMUL = str(SPECS / "symbolic-gradient-sin-matmul.yaml")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(__import__("gradcli.cli.group", fromlist=["cli"]).cli, list(args))
    return result.exit_code, result.stdout, result.stderr


GRAD_TEXT = """\
# gradient program of d(sum of y)/d(source), order 1 (reverse mode; grad sums the outputs)
# simplified: 10 -> 10 nodes (0 folded, 0 merged, 0 identities)
# name                     op         inputs                                   shape   dtype
  grad/seed/fill           fill       value=1.0, shape=(2, 1)                  (2, 1)  float64
  b                        input                                               (2, 1)  float64
  grad/matmul/transpose    transpose  b, perm=(1, 0)                           (1, 2)  float64
  grad/matmul/matmul       matmul     grad/seed/fill, grad/matmul/transpose    (2, 2)  float64
  a                        input                                               (2, 2)  float64
  grad/sin/cos             cos        a                                        (2, 2)  float64
  grad/sin/mul             mul        grad/matmul/matmul, grad/sin/cos         (2, 2)  float64
  sin                      sin        a                                        (2, 2)  float64
  grad/matmul/transpose_1  transpose  sin, perm=(1, 0)                         (2, 2)  float64
  grad/matmul/matmul_1     matmul     grad/matmul/transpose_1, grad/seed/fill  (2, 1)  float64
# results
  d(sum of y)/d(a) = grad/sin/mul
  d(sum of y)/d(b) = grad/matmul/matmul_1
"""

FORWARD_TEXT = """\
# forward program of y
# simplified: 4 -> 4 nodes (0 folded, 0 merged, 0 identities)
# name  op      inputs  shape   dtype
  a     input           (2, 2)  float64
  sin   sin     a       (2, 2)  float64
  b     input           (2, 1)  float64
  y     matmul  sin, b  (2, 1)  float64
# results
  y = y
"""

GRAD_DOT = """\
digraph "grad" {
  rankdir=TB;
  node [shape=box, fontname="monospace"];
  // gradient program of d(sum of y)/d(source), order 1 (reverse mode; grad sums the outputs)
  // simplified: 10 -> 10 nodes (0 folded, 0 merged, 0 identities)
  "grad/seed/fill" [label="grad/seed/fill\\nfill (2, 1) float64\\nvalue=1.0 shape=(2, 1)"];
  "b" [label="b\\ninput (2, 1) float64", shape=ellipse];
  "grad/matmul/transpose" [label="grad/matmul/transpose\\ntranspose (1, 2) float64\\nperm=(1, 0)"];
  "grad/matmul/matmul" [label="grad/matmul/matmul\\nmatmul (2, 2) float64"];
  "a" [label="a\\ninput (2, 2) float64", shape=ellipse];
  "grad/sin/cos" [label="grad/sin/cos\\ncos (2, 2) float64"];
  "grad/sin/mul" [label="grad/sin/mul\\nmul (2, 2) float64"];
  "sin" [label="sin\\nsin (2, 2) float64"];
  "grad/matmul/transpose_1" [label="grad/matmul/transpose_1\\ntranspose (2, 2) float64\\nperm=(1, 0)"];
  "grad/matmul/matmul_1" [label="grad/matmul/matmul_1\\nmatmul (2, 1) float64"];
  "b" -> "grad/matmul/transpose";
  "grad/seed/fill" -> "grad/matmul/matmul";
  "grad/matmul/transpose" -> "grad/matmul/matmul";
  "a" -> "grad/sin/cos";
  "grad/matmul/matmul" -> "grad/sin/mul";
  "grad/sin/cos" -> "grad/sin/mul";
  "a" -> "sin";
  "sin" -> "grad/matmul/transpose_1";
  "grad/matmul/transpose_1" -> "grad/matmul/matmul_1";
  "grad/seed/fill" -> "grad/matmul/matmul_1";
  "result 0" [label="d(sum of y)/d(a)", shape=plaintext];
  "grad/sin/mul" -> "result 0" [style=dashed];
  "result 1" [label="d(sum of y)/d(b)", shape=plaintext];
  "grad/matmul/matmul_1" -> "result 1" [style=dashed];
}
"""

GRAD_MERMAID = """\
flowchart TD
  %% gradient program of d(sum of y)/d(source), order 1 (reverse mode; grad sums the outputs)
  %% simplified: 10 -> 10 nodes (0 folded, 0 merged, 0 identities)
  n0["grad/seed/fill<br/>fill (2, 1) float64<br/>value=1.0, shape=(2, 1)"]
  n1(["b<br/>input (2, 1) float64"])
  n2["grad/matmul/transpose<br/>transpose (1, 2) float64<br/>perm=(1, 0)"]
  n3["grad/matmul/matmul<br/>matmul (2, 2) float64"]
  n4(["a<br/>input (2, 2) float64"])
  n5["grad/sin/cos<br/>cos (2, 2) float64"]
  n6["grad/sin/mul<br/>mul (2, 2) float64"]
  n7["sin<br/>sin (2, 2) float64"]
  n8["grad/matmul/transpose_1<br/>transpose (2, 2) float64<br/>perm=(1, 0)"]
  n9["grad/matmul/matmul_1<br/>matmul (2, 1) float64"]
  n1 --> n2
  n0 --> n3
  n2 --> n3
  n4 --> n5
  n3 --> n6
  n5 --> n6
  n4 --> n7
  n7 --> n8
  n8 --> n9
  n0 --> n9
  r0[/"d(sum of y)/d(a)"/]
  n6 -.-> r0
  r1[/"d(sum of y)/d(b)"/]
  n9 -.-> r1
"""


@pytest.mark.parametrize("fmt,snapshot", [("text", GRAD_TEXT), ("dot", GRAD_DOT),
                                          ("mermaid", GRAD_MERMAID)])
def test_seed_000_gradient_program_snapshots(fmt: str, snapshot: str) -> None:
    code, out, err = run("graph", SIN_MATMUL, "--grad", "--format", fmt)
    assert code == 0, err
    assert out == snapshot


def test_seed_000_forward_program_snapshot() -> None:
    code, out, _ = run("graph", SIN_MATMUL)
    assert code == 0 and out == FORWARD_TEXT


def test_seed_000_gradient_program_json() -> None:
    code, out, _ = run("graph", SIN_MATMUL, "--grad", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["command"] == "graph" and doc["program"] == "grad"
    nodes = {n["name"]: n for n in doc["nodes"]}
    assert [(n["name"], n["op"], n["inputs"]) for n in doc["nodes"]] == [
        ("grad/seed/fill", "fill", []), ("b", "input", []),
        ("grad/matmul/transpose", "transpose", ["b"]),
        ("grad/matmul/matmul", "matmul", ["grad/seed/fill", "grad/matmul/transpose"]),
        ("a", "input", []), ("grad/sin/cos", "cos", ["a"]),
        ("grad/sin/mul", "mul", ["grad/matmul/matmul", "grad/sin/cos"]),
        ("sin", "sin", ["a"]), ("grad/matmul/transpose_1", "transpose", ["sin"]),
        ("grad/matmul/matmul_1", "matmul", ["grad/matmul/transpose_1", "grad/seed/fill"])]
    assert nodes["grad/sin/mul"]["shape"] == [2, 2] and nodes["b"]["dtype"] == "float64"
    assert nodes["grad/matmul/transpose"]["attrs"] == {"perm": [1, 0]}
    assert nodes["grad/sin/mul"]["origin"] == "grad/sin"
    assert doc["results"] == [
        {"path": ["grad", "a"], "title": "d(sum of y)/d(a)", "node": "grad/sin/mul"},
        {"path": ["grad", "b"], "title": "d(sum of y)/d(b)", "node": "grad/matmul/matmul_1"}]
    for node in doc["nodes"]:  # every input names a node listed before it
        names = [n["name"] for n in doc["nodes"]]
        assert all(names.index(i) < names.index(node["name"]) for i in node["inputs"])


def _dot_structure(text: str) -> tuple[set[str], list[tuple[str, str]]]:
    """A small parser for the dot subset the printer writes: it fails on
    anything else, so a broken quote or brace shows."""
    lines = text.strip().splitlines()
    assert re.fullmatch(r'digraph "[^"]+" \{', lines[0]) and lines[-1] == "}"
    quoted = r'"(?:[^"\\]|\\.)*"'
    declared: set[str] = set()
    edges: list[tuple[str, str]] = []
    for line in lines[1:-1]:
        line = line.strip()
        if line.startswith("//") or line in ("rankdir=TB;",) or line.startswith("node ["):
            continue
        edge = re.fullmatch(rf"({quoted}) -> ({quoted})( \[style=dashed\])?;", line)
        if edge:
            edges.append((edge.group(1), edge.group(2)))
            continue
        node = re.fullmatch(rf"({quoted}) \[label={quoted}(, shape=\w+)?\];", line)
        assert node, f"not a dot statement: {line!r}"
        declared.add(node.group(1))
    return declared, edges


def test_dot_output_parses() -> None:
    code, out, _ = run("graph", str(SPECS / "partial-derivatives-of-a-network.yaml"),
                       "--hessian", "--format", "dot")
    assert code == 0
    declared, edges = _dot_structure(out)
    assert edges and all(a in declared and b in declared for a, b in edges)
    if shutil.which("dot"):
        svg = subprocess.run(["dot", "-Tsvg"], input=out, capture_output=True, text=True,
                             check=True).stdout
        assert "<svg" in svg


def test_mermaid_output_is_well_formed() -> None:
    code, out, _ = run("graph", SIN_MATMUL, "--hessian", "--format", "mermaid")
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0] == "flowchart TD"
    ids = set()
    for line in lines[1:]:
        line = line.strip()
        if line.startswith("%%"):
            continue
        node = re.fullmatch(r'(n\d+|r\d+)(\["|\(\["|\[/")(.*?)("\]|"\]\)|"/\])', line)
        edge = re.fullmatch(r"(n\d+) (-->|-\.->) ([nr]\d+)", line)
        assert node or edge, line
        if node:
            assert '"' not in node.group(3)
            ids.add(node.group(1))
        else:
            assert edge.group(1) in ids  # edges come after their nodes


# ---- names of derivative nodes ------------------------------------------------------------

def test_derivative_nodes_carry_the_forward_op_they_come_from() -> None:
    a, b = leaf("a", (2, 2), "float64"), leaf("b", (2, 1), "float64")
    y = N.matmul(N.unary("sin", a), b)
    ga, gb = vjp([y], [N.ones_like(y)], [a, b])
    assert (ga.op, ga.origin.rule) == ("mul", "grad/sin")
    assert {(n.op, n.origin.rule) for n in toposort([ga]) if n.origin} == {
        ("mul", "grad/sin"), ("cos", "grad/sin"), ("matmul", "grad/matmul"),
        ("transpose", "grad/matmul")}
    assert (gb.op, gb.origin.rule) == ("matmul", "grad/matmul")
    # forward nodes are shared, never relabelled
    assert all(not n.origin for n in toposort([y]))


def test_labels_do_not_change_values() -> None:
    problem = gradcli.load(SIN_MATMUL)
    program = grad_program(problem, None, None, simplified=False)
    values = evaluate(program.nodes, problem.values)
    grads = problem.grad()
    np.testing.assert_array_equal(values[0], grads["a"])
    np.testing.assert_array_equal(values[1], grads["b"])


def test_second_order_programs_name_nodes_after_first_order_ones() -> None:
    code, out, _ = run("graph", str(SPECS / "higher-derivatives-through-concat.yaml"), "--grad",
                       "--order", "2", "--wrt", "x", "--format", "json")
    assert code == 0
    origins = {n.get("origin", "") for n in json.loads(out)["nodes"]}
    assert "grad/tanh" in origins or "grad/sech2" in origins
    assert any(o.startswith("grad/") and o != "grad/seed" for o in origins)


# ---- as short as the hand-written gradient --------------------------------------------------

def test_printed_gradient_of_seed_000_is_as_short_as_the_hand_written_one() -> None:
    """By hand: da = (ones((2, 1)) @ b.T) * cos(a), db = sin(a).T @ ones((2, 1))."""
    problem = gradcli.load(SIN_MATMUL)
    hand = gradcli.load({"inputs": {"a": [[1.0, 3.0], [2.0, 6.0]], "b": [[1.0], [2.0]]},
                         "outputs": {"da": "(ones((2, 1)) @ b.T) * cos(a)",
                                     "db": "sin(a).T @ ones((2, 1))"}})
    hand_nodes = [n for n in toposort(list(hand.outputs.values())) if n.op != "input"]
    program = grad_program(problem, None, None)
    printed = [n for n in toposort(program.nodes) if n.op != "input"]
    assert len(printed) <= len(hand_nodes)
    for got, want in zip(evaluate(program.nodes, problem.values), hand.evaluate().values()):
        np.testing.assert_allclose(got, want, rtol=1e-15)
    code, out, _ = run("symbolic", SIN_MATMUL, "--format", "json")
    matrix = json.loads(out)["symbolic"]
    assert len(matrix["a"]["matrix"]["expression"]) <= len("(ones((2, 1)) @ b.T) * cos(a)")
    assert len(matrix["b"]["matrix"]["expression"]) <= len("sin(a).T @ ones((2, 1))")


# ---- simplification ------------------------------------------------------------------------

X = leaf("x", (2, 3), "float64")
V = leaf("v", (3,), "float64")


def ones(shape):
    return N.fill(1.0, shape, "float64")


IDENTITIES = [
    ("mul by one", lambda: apply("mul", (X, ones((2, 3)))), lambda r: r is X),
    ("add zero", lambda: apply("add", (N.fill(0.0, (2, 3), "float64"), X)), lambda r: r is X),
    ("transpose of transpose", lambda: apply("transpose", (apply("transpose", (X,),
                                                                 {"perm": (1, 0)}),),
                                              {"perm": (1, 0)}), lambda r: r is X),
    ("sum of a broadcast", lambda: apply("sum", (apply("broadcast_to", (V,),
                                                       {"shape": (4, 3)}),), {"axes": (0,)}),
     lambda r: r.op == "mul" and V in r.inputs),
    ("matmul with identity", lambda: apply("matmul", (const(np.eye(2)), X)), lambda r: r is X),
    ("matmul with identity on the right", lambda: apply("matmul", (X, const(np.eye(3)))),
     lambda r: r is X),
    ("reshape to the same shape", lambda: apply("reshape", (apply("reshape", (X,),
                                                                  {"shape": (3, 2)}),),
                                                 {"shape": (2, 3)}), lambda r: r is X),
    ("double negation", lambda: apply("neg", (apply("neg", (X,)),)), lambda r: r is X),
]


@pytest.mark.parametrize("name,build,check", IDENTITIES, ids=[i[0] for i in IDENTITIES])
def test_algebraic_identities(name: str, build, check) -> None:
    node = build()
    done = rewrite([node], STANDARD, "print")
    (result,) = done.outputs
    assert check(result), (name, result)
    assert done.stats.rewritten >= 1 and done.stats.after <= done.stats.before
    assert not {"broadcast_to", "transpose", "neg"} & {n.op for n in toposort([result])}
    values = {"x": np.arange(6.0).reshape(2, 3) - 2.5, "v": np.array([0.5, -1.0, 2.0])}
    np.testing.assert_allclose(evaluate([result], values)[0], evaluate([node], values)[0],
                               rtol=1e-15)


def raw(op: str, *inputs: Node) -> Node:
    """A node built without apply's own folding (as a derivative graph can
    hold after rewriting), so the print pass's folding is what is tested."""
    from types import MappingProxyType

    from gradcli.engine.ops import TABLE

    attrs = MappingProxyType({})
    shape, dtype = TABLE[op].infer(inputs, attrs)
    return Node(op, inputs, attrs, tuple(shape), dtype)


def test_constant_folding_cse_and_dead_nodes() -> None:
    two = N.fill(2.0, (2, 3), "float64")
    folded = raw("mul", two, raw("exp", N.fill(0.0, (2, 3), "float64")))
    left = raw("mul", raw("sin", X), folded)
    right = raw("mul", raw("sin", X), folded)
    out = raw("add", left, right)
    done = rewrite([out], STANDARD, "print")
    (result,) = done.outputs
    ops = [n.op for n in toposort([result])]
    assert ops.count("sin") == 1 and ops.count("mul") == 1 and "exp" not in ops
    assert done.stats.folded >= 1 and done.stats.merged >= 1
    assert done.stats.after == len(toposort([result])) < done.stats.before
    x = np.linspace(-1, 1, 6).reshape(2, 3)
    np.testing.assert_allclose(evaluate([result], {"x": x})[0], 4 * np.sin(x), rtol=1e-15)


def test_simplification_keeps_origins() -> None:
    problem = gradcli.load(SIN_MATMUL)
    program = grad_program(problem, None, None)
    assert {n.origin.rule for n in toposort(program.nodes)} >= {"grad/sin", "grad/matmul"}


@pytest.mark.parametrize("path", sorted(SPECS.glob("*.yaml")), ids=lambda p: p.stem)
def test_simplified_programs_compute_the_same_values(path: Path) -> None:
    problem = gradcli.load(path)
    for build in (lambda s: grad_program(problem, None, None, simplified=s),
                  lambda s: hessian_program(problem, None, None, simplified=s)):
        raw, simple = build(False), build(True)
        assert len(toposort(simple.nodes)) <= len(toposort(raw.nodes))
        values = dict(problem.values)
        rng = np.random.default_rng(0)
        for n in toposort(raw.nodes):
            if n.op == "input" and n.attrs["name"].startswith("tangent:"):
                values[n.attrs["name"]] = rng.standard_normal(n.shape)
        for got, want in zip(evaluate(simple.nodes, values), evaluate(raw.nodes, values)):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_the_hessian_program_is_the_hessian_times_the_tangent() -> None:
    problem = gradcli.load(str(SPECS / "quickstart.yaml"))
    program = hessian_program(problem, None, None)
    tangent = {"tangent:x": np.array(0.3), "tangent:w": np.array([1.0, -2.0, 0.5])}
    got = evaluate(program.nodes, {**problem.values, **tangent})
    h = problem.hessian()
    for (path, _, _), value in zip(program.results, got):
        key = path[1]
        want = sum(np.tensordot(h[key][j], tangent[f"tangent:{j}"],
                                axes=np.ndim(tangent[f"tangent:{j}"])) for j in ("x", "w"))
        np.testing.assert_allclose(value, want, rtol=1e-12)


def test_the_order_3_program_is_what_grad_order_3_computes() -> None:
    problem = gradcli.load(str(SPECS / "higher-derivatives-through-concat.yaml"))
    program = grad_program(problem, ["x"], None, order=3)
    (value,) = evaluate(program.nodes, problem.values)
    np.testing.assert_allclose(value, problem.grad(wrt=["x"], order=3)["x"], rtol=1e-14)


# ---- command line --------------------------------------------------------------------------

def test_graph_usage_errors_exit_2() -> None:
    for args in (["--grad", "--hessian"], ["--order", "2"], ["--wrt", "a"]):
        code, out, err = run("graph", SIN_MATMUL, *args)
        assert code == 2 and out == "" and err.startswith("gradcli: error:"), args


def test_graph_writes_to_a_file(tmp_path: Path) -> None:
    target = tmp_path / "g.dot"
    code, out, _ = run("graph", SIN_MATMUL, "--grad", "--format", "dot", "-o", str(target))
    assert code == 0 and out == ""
    assert target.read_text() == GRAD_DOT


def test_unsimplified_programs_are_available() -> None:
    spec = str(SPECS / "gradient-of-mean-loss.yaml")
    code, out, _ = run("graph", spec, "--grad", "--no-simplify", "--format", "json")
    assert code == 0 and "simplified" not in json.loads(out)
    code, simple, _ = run("graph", spec, "--grad", "--format", "json")
    stats = json.loads(simple)["simplified"]
    assert len(json.loads(simple)["nodes"]) < len(json.loads(out)["nodes"])
    assert stats["after"] < stats["before"]
