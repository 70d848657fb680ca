"""Graph printers for `gradcli graph`: text (one line per node: name, op,
inputs and attributes, shape, dtype), Graphviz dot, mermaid and json.

Names: inputs, `let` names and outputs keep the user's names; derivative
nodes are named after the forward op whose rule built them plus their own op
(`grad/sin/mul`, `grad/matmul/matmul_1`), so seed 000's user recognises
TensorFlow's `gradients/Sin_grad/mul`; other nodes are named by their op
(`sin`, `sin_1`).  0-d constants are literals: shown by value where they are
used, listed as nodes only in json (which is complete).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from gradcli.engine.graph import Node, format_index, toposort

if TYPE_CHECKING:
    from gradcli.engine.programs import Listing

_SMALL = 8  # constant arrays up to this many elements are printed in full


def is_literal(node: Node) -> bool:
    return node.op == "const" and node.ndim == 0


def literal_text(value: Any) -> str:
    item = np.asarray(value).item()
    if isinstance(item, bool):
        return "True" if item else "False"
    if isinstance(item, float) and not math.isfinite(item):
        return "nan" if math.isnan(item) else ("inf" if item > 0 else "-inf")
    return repr(item)


def node_names(order: list[Node], given: Mapping[int, str]) -> dict[int, str]:
    """A unique name for every node (see the module docstring)."""
    used: set[str] = set()
    names: dict[int, str] = {}
    for node in order:
        if id(node) in given:
            base = given[id(node)]
        elif node.op == "input":
            base = node.attrs["name"]
        elif is_literal(node):
            base = literal_text(node.attrs["value"])
        elif node.origin.rule:
            base = f"{node.origin.rule}/{node.op}"
        else:
            base = node.op
        name, k = base, 1
        while name in used:
            name, k = f"{base}_{k}", k + 1
        used.add(name)
        names[id(node)] = name
    return names


def attr_text(key: str, value: Any) -> str:
    if key == "index":
        return f"index={format_index(value)}"
    if isinstance(value, np.ndarray):
        if value.size <= _SMALL:
            return f"{key}={' '.join(np.array2string(value, separator=', ').split())}"
        return f"{key}=<{value.dtype} array {value.shape}>"
    if isinstance(value, str):
        return f"{key}={value!r}"
    return f"{key}={value}"


def _attrs(node: Node) -> list[str]:
    skip = {"name"} | ({"dtype"} if node.op == "fill" else set())
    return [attr_text(k, v) for k, v in node.attrs.items() if k not in skip]


def _operands(node: Node, names: Mapping[int, str]) -> list[str]:
    return [literal_text(i.attrs["value"]) if is_literal(i) else names[id(i)]
            for i in node.inputs]


def _listed(program: Listing) -> tuple[list[Node], dict[int, str]]:
    order = toposort(program.nodes)
    return order, node_names(order, program.names)


def _results(program: Listing, names: Mapping[int, str]) -> list[tuple[str, str]]:
    return [(title, "None (unconnected)" if node is None else
             literal_text(node.attrs["value"]) if is_literal(node) else names[id(node)])
            for _, title, node in program.results]


def _header(program: Listing) -> list[str]:
    lines = list(program.summary)
    stats = program.stats
    if stats is not None:
        lines.append(f"simplified: {stats.before} -> {stats.after} nodes ({stats.folded} "
                     f"folded, {stats.merged} merged, {stats.rewritten} identities)")
    return lines


def render_text(program: Listing) -> bytes:
    order, names = _listed(program)
    rows = []
    for node in order:
        if is_literal(node):
            continue
        used = ", ".join(_operands(node, names) + _attrs(node))
        rows.append((names[id(node)], node.op, used, str(node.shape), node.dtype))
    heads = ("name", "op", "inputs", "shape")
    widths = [max([len(r[i]) for r in rows] + [len(heads[i])]) for i in range(4)]
    out = [f"# {line}" for line in _header(program)]
    out.append("# " + "  ".join(h.ljust(w) for h, w in zip(heads, widths)) + "  dtype")
    for row in rows:
        out.append("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[4])
    out.append("# results")
    out += [f"  {title} = {name}" for title, name in _results(program, names)]
    return ("\n".join(line.rstrip() for line in out) + "\n").encode()


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def render_dot(program: Listing) -> bytes:
    order, names = _listed(program)
    out = [f"digraph {_dot_quote(program.kind)} {{", "  rankdir=TB;",
           '  node [shape=box, fontname="monospace"];']
    for line in _header(program):
        out.append(f"  // {line}")
    for node in order:
        if is_literal(node):
            continue
        literals = [literal_text(i.attrs["value"]) for i in node.inputs if is_literal(i)]
        detail = " ".join(_attrs(node) + [f"with {', '.join(literals)}"] * bool(literals))
        label = f"{names[id(node)]}\n{node.op} {node.shape} {node.dtype}" + \
            (f"\n{detail}" if detail else "")
        shape = ", shape=ellipse" if node.op == "input" else ""
        out.append(f"  {_dot_quote(names[id(node)])} [label={_dot_quote(label)}{shape}];")
    for node in order:
        for i in node.inputs:
            if not is_literal(i) and not is_literal(node):
                out.append(f"  {_dot_quote(names[id(i)])} -> {_dot_quote(names[id(node)])};")
    for k, (title, name) in enumerate(_results(program, names)):
        result = f"result {k}"
        out.append(f"  {_dot_quote(result)} [label={_dot_quote(title)}, shape=plaintext];")
        if not name.startswith("None"):
            out.append(f"  {_dot_quote(name)} -> {_dot_quote(result)} [style=dashed];")
    out.append("}")
    return ("\n".join(out) + "\n").encode()


def _mermaid_text(text: str) -> str:
    return text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;") \
        .replace(">", "#gt;")


def render_mermaid(program: Listing) -> bytes:
    order, names = _listed(program)
    ids = {id(node): f"n{k}" for k, node in enumerate(order)}
    out = ["flowchart TD"] + [f"  %% {line}" for line in _header(program)]
    for node in order:
        if is_literal(node):
            continue
        literals = [literal_text(i.attrs["value"]) for i in node.inputs if is_literal(i)]
        detail = ", ".join(_attrs(node) + [f"with {', '.join(literals)}"] * bool(literals))
        label = f"{names[id(node)]}<br/>{node.op} {node.shape} {node.dtype}" + \
            (f"<br/>{_mermaid_text(detail)}" if detail else "")
        label = label.replace('"', "#quot;")
        shape = ('(["', '"])') if node.op == "input" else ('["', '"]')
        out.append(f"  {ids[id(node)]}{shape[0]}{label}{shape[1]}")
    for node in order:
        for i in node.inputs:
            if not is_literal(i) and not is_literal(node):
                out.append(f"  {ids[id(i)]} --> {ids[id(node)]}")
    for k, (title, name) in enumerate(_results(program, names)):
        out.append(f'  r{k}[/"{_mermaid_text(title)}"/]')
        target = next((ids[id(n)] for n in order if names[id(n)] == name), None)
        if target is not None:
            out.append(f"  {target} -.-> r{k}")
    return ("\n".join(out) + "\n").encode()


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (np.generic,)):
        return _jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return literal_text(value)
    if isinstance(value, slice) or value is Ellipsis:
        return format_index((value,))[1:-1]
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    return value


def render_json(program: Listing) -> bytes:
    order, names = _listed(program)
    nodes = []
    for node in order:
        entry: dict[str, Any] = {"name": names[id(node)], "op": node.op,
                                 "inputs": [names[id(i)] for i in node.inputs],
                                 "shape": list(node.shape), "dtype": node.dtype}
        attrs = {k: (format_index_json(v) if k == "index" else _jsonable(v))
                 for k, v in node.attrs.items() if k != "name"}
        if attrs:
            entry["attrs"] = attrs
        if node.origin:
            entry["origin"] = str(node.origin)
        nodes.append(entry)
    results = [{"path": list(path), "title": title,
                "node": None if node is None else names[id(node)]}
               for path, title, node in program.results]
    document: dict[str, Any] = {"command": "graph", "program": program.kind,
                                "summary": list(program.summary), "nodes": nodes,
                                "results": results}
    if program.stats is not None:
        document["simplified"] = dict(vars(program.stats))
    return (json.dumps(document) + "\n").encode()


def format_index_json(index: Any) -> str:
    return format_index(index)


RENDERERS = {"text": render_text, "dot": render_dot, "mermaid": render_mermaid,
             "json": render_json}
