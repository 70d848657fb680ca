"""Shrink a failing random program by hand-rolled delta debugging (a tool,
not a test): replace expressions by their sub-expressions, drop keywords,
outputs, lets and inputs, round input values, keeping each step only while
the program still fails the same property.

    python tests/shrink.py SEED TAG        # e.g. 17 f-ref:input
    python tests/shrink.py spec.yaml TAG

prints the smallest failing spec as YAML."""

from __future__ import annotations

import ast
import copy
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).parent))

from propcheck import check  # noqa: E402
from randprog import Seeded, program, to_yaml  # noqa: E402


def _subexpressions(text: str) -> Iterator[str]:
    """Texts with one AST node replaced by one of its children, or a keyword dropped."""
    tree = ast.parse(text, mode="eval")
    nodes = [n for n in ast.walk(tree) if isinstance(n, ast.expr)]
    for index, node in enumerate(nodes):
        children = [c for c in ast.iter_child_nodes(node) if isinstance(c, ast.expr)]
        if isinstance(node, ast.Call):
            children = list(node.args) + [k.value for k in node.keywords]
            for k in range(len(node.keywords)):
                yield _replaced(tree, index, lambda n, k=k: _drop_keyword(n, k))
        for child in children:
            if isinstance(child, (ast.List, ast.Tuple, ast.Slice)) or isinstance(
                    child, ast.Constant) and isinstance(child.value, str):
                continue
            yield _replaced(tree, index, lambda n, child=child: child)


def _drop_keyword(node: ast.Call, k: int) -> ast.Call:
    new = copy.deepcopy(node)
    del new.keywords[k]
    return new


def _replaced(tree: ast.Expression, index: int, make: Callable) -> str:
    new = copy.deepcopy(tree)
    nodes = [n for n in ast.walk(new) if isinstance(n, ast.expr)]
    target = nodes[index]
    orig = [n for n in ast.walk(tree) if isinstance(n, ast.expr)][index]
    replacement = copy.deepcopy(make(orig))
    if target is new.body:
        new.body = replacement
    else:
        for parent in ast.walk(new):
            for field, value in ast.iter_fields(parent):
                if value is target:
                    setattr(parent, field, replacement)
                elif isinstance(value, list) and any(v is target for v in value):
                    setattr(parent, field, [replacement if v is target else v for v in value])
    return ast.unparse(new)


def _used(spec: dict) -> set[str]:
    texts = list(spec["let"].values()) + list(spec["outputs"].values())
    return {m for t in texts for m in re.findall(r"\b[A-Za-z_]\w*\b", t)}


def candidates(spec: dict) -> Iterator[dict]:
    if len(spec["outputs"]) > 1:
        for name in spec["outputs"]:
            yield {**spec, "outputs": {k: v for k, v in spec["outputs"].items() if k != name}}
    for name in list(spec["let"]):  # inline a let (its uses get its text) or drop it
        if name not in _used({**spec, "let": {k: v for k, v in spec["let"].items()
                                              if k != name}}):
            yield {**spec, "let": {k: v for k, v in spec["let"].items() if k != name}}
        else:
            text = f"({spec['let'][name]})"
            sub = {k: re.sub(rf"\b{name}\b", text, v) for k, v in spec["let"].items()
                   if k != name}
            outs = {k: re.sub(rf"\b{name}\b", text, v) for k, v in spec["outputs"].items()}
            yield {**spec, "let": sub, "outputs": outs}
    for name in list(spec["inputs"]):
        if name not in _used(spec):
            yield {**spec, "inputs": {k: v for k, v in spec["inputs"].items() if k != name}}
    for section in ("outputs", "let"):
        for name, text in spec[section].items():
            for new in _subexpressions(text):
                yield {**spec, section: {**spec[section], name: new}}
    for name, value in spec["inputs"].items():
        rounded = np.round(np.asarray(value, dtype=float), 1)
        rounded = np.where(rounded == 0, 0.1, rounded)
        if not np.array_equal(rounded, np.asarray(value, dtype=float)):
            new = float(rounded) if rounded.ndim == 0 else rounded.tolist()
            yield {**spec, "inputs": {**spec["inputs"], name: new}}


def plausible(spec: dict) -> bool:
    """Like the generator's programs: every let and output computes something from a
    name (no aliases `h: x`, no constants), so shrinking does not slip to another bug."""
    names = set(spec["inputs"]) | set(spec["let"])
    for text in list(spec["let"].values()) + list(spec["outputs"].values()):
        body = ast.parse(text, mode="eval").body
        if isinstance(body, (ast.Name, ast.Constant)):
            return False
        if not names & {n.id for n in ast.walk(body) if isinstance(n, ast.Name)}:
            return False
    return bool(spec["inputs"])


def size(spec: dict) -> int:
    return len(to_yaml(spec))


def fails(spec: dict, tag: str, seed: int) -> bool:
    prop = tag.split(":")[0]
    only = prop[0] if prop[0] != "a" else ""
    outcome = check(spec, seed, only=only)
    return not outcome.rejected and any(f.tag == tag for f in outcome.failures)


def shrink(spec: dict, tag: str, seed: int = 0, verbose: bool = True) -> dict:
    assert fails(spec, tag, seed), "the program does not fail that property"
    improved = True
    while improved:
        improved = False
        for cand in sorted(candidates(spec), key=size):
            if size(cand) >= size(spec) or not plausible(cand):
                continue
            try:
                ok = fails(cand, tag, seed)
            except Exception:  # noqa: BLE001 - an invalid candidate
                ok = False
            if ok:
                spec, improved = cand, True
                if verbose:
                    print(f"# {size(spec)} characters", file=sys.stderr)
                break
    return spec


def main() -> None:
    what, tag = sys.argv[1], sys.argv[2]
    if what.isdigit():
        seed, spec = int(what), program(Seeded(int(what)))
    else:
        seed, spec = 0, yaml.safe_load(Path(what).read_text())
        spec.setdefault("let", {})
    print(to_yaml(shrink(spec, tag, seed)))


if __name__ == "__main__":
    main()
