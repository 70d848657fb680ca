"""The import direction between stages (docs/architecture.md), read from the
source with `ast`: data flows language -> engine -> verify -> render -> cli,
and imports point down to the engine.

Every import counts: at module level, inside functions, and under
`if TYPE_CHECKING:` (a type-only import may name the data types of a stage
the importer formats, nothing more), except a function-level import marked
`# lazy-for-speed: <reason>` on its line or the line above.  The mark needs
a reason; at the time of writing no marked import breaks the direction.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PACKAGE = ROOT / "gradcli"
MAX_LINES = 400
MARK = "lazy-for-speed:"

# Which stages a stage may import (besides itself).  `gradcli` (the package
# root: load, tune_allocator) is the API's front door; `errors` is for all.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "engine": {"errors"},
    "language": {"engine", "errors"},
    "api": {"engine", "language", "errors"},
    "verify": {"engine", "language", "api", "errors"},
    "render": {"errors"},
    "cli": {"engine", "language", "api", "verify", "render", "errors"},
}
# Finer rules inside the stages, as (importer stage, target prefixes allowed at run time).
# The language builds nodes: the IR, the op table and what a Source is; the
# transformations come injected (Context.transforms), never imported.
LANGUAGE_BUILDS_WITH = ("gradcli.engine.graph", "gradcli.engine.ops", "gradcli.engine.sources")
# Rendering takes plain result data; a graph printer reads the IR it prints.
RENDER_READS = ("gradcli.engine.graph",)
# Type-only imports of render may name the data types of what it formats.
RENDER_TYPES = {"engine", "verify"}
# The engine's own layers, lowest first: a module imports its layer or lower.
# The IR knows no op; ops know no rules; rules know no transformation.
ENGINE_LAYERS = (
    ("graph",),
    ("ops",),
    ("rules", "rewrite"),
    ("sources", "basis", "autodiff", "batching", "memory", "evaluate", "finite", "allocator",
     "timings", "lru"),
    ("transforms",),
    ("chunks", "programs"),
    ("jacobians", "sweep"),
    ("blocks",),
    ("regions",),
)
# Cycles left in code another change owns (the check rewrite); remove when gone.
KNOWN_CYCLES = [{"gradcli.verify.check", "gradcli.verify.check_methods"}]


@dataclass(frozen=True)
class Import:
    importer: str
    target: str        # a gradcli module, or the top-level name of an outside one
    line: int
    function: bool     # inside a function body
    type_only: bool    # under `if TYPE_CHECKING:`
    reason: str | None  # the `# lazy-for-speed:` reason, if marked


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def stage(module: str) -> str:
    if module == "gradcli":
        return "api"
    if module == "gradcli.__main__":
        return "cli"
    return module.split(".")[1]


def _resolve(importer: str, node: ast.Import | ast.ImportFrom, package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        parts = importer.split(".") if package else importer.split(".")[:-1]
        parts = parts[:len(parts) - node.level + 1]
        base = ".".join(parts + ([base] if base else []))
    found = []
    for alias in node.names:
        full = f"{base}.{alias.name}"
        found.append(full if full in MODULES else base)
    return found


def _owner(target: str) -> str:
    """The gradcli module an import lands in (a name inside it -> the module)."""
    while target not in MODULES and "." in target:
        target = target.rsplit(".", 1)[0]
    return target


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _mark(lines: list[str], line: int) -> str | None:
    """The reason of a `# lazy-for-speed:` comment ending the import's line or
    alone on the line above it."""
    above = lines[line - 2] if line > 1 else ""
    for text in (lines[line - 1], above if above.strip().startswith("#") else ""):
        if MARK in text:
            return text.split(MARK, 1)[1].strip()
    return None


def imports_of(module: str) -> Iterator[Import]:
    path = MODULES[module]
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    package = path.name == "__init__.py"

    def walk(node: ast.AST, function: bool, type_only: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                for target in _resolve(module, child, package):
                    if target.split(".")[0] == "gradcli":
                        target = _owner(target)
                    else:
                        target = target.split(".")[0]
                    if target != module:
                        yield Import(module, target, child.lineno, function, type_only,
                                     _mark(lines, child.lineno))
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                for item in child.body:
                    yield from walk(ast.Module([item], []), function, True)
                for item in child.orelse:
                    yield from walk(ast.Module([item], []), function, type_only)
            else:
                inner = function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                       ast.Lambda))
                yield from walk(child, inner, type_only)

    yield from walk(ast.parse(text), False, False)


ALL_IMPORTS = [i for m in MODULES for i in imports_of(m)]


def _engine_layer(module: str) -> int:
    name = module.split(".")[2] if module.count(".") >= 2 else ""
    for level, names in enumerate(ENGINE_LAYERS):
        if name in names:
            return level
    return len(ENGINE_LAYERS)  # a new engine module sits on top until it is placed


def breach(i: Import) -> str | None:
    """Why an import breaks the direction, or None."""
    if not i.target.startswith("gradcli"):
        if i.target == "click" and stage(i.importer) != "cli":
            return "only the CLI stage imports click"
        return None
    source, target = stage(i.importer), stage(i.target)
    if source == "render" and target in RENDER_TYPES:
        if i.type_only or i.target.startswith(RENDER_READS):
            return None
        return "rendering takes plain result data (the IR at most; other types for typing)"
    if source != target and target not in ALLOWED[source]:
        return f"{source} may not import {target}"
    if i.type_only:
        return None
    if source == "language" and target == "engine" and not i.target.startswith(
            LANGUAGE_BUILDS_WITH):
        return "the language builds nodes; transformations come in Context.transforms"
    if source == target == "engine" and _engine_layer(i.target) > _engine_layer(i.importer):
        return (f"engine layers: {i.importer.split('.')[2]} may not import "
                f"{i.target.split('.')[2]} (docs/architecture.md)")
    return None


def test_the_inspection_sees_every_kind_of_import() -> None:
    kinds = {(i.function, i.type_only) for i in ALL_IMPORTS if i.target.startswith("gradcli")}
    assert kinds >= {(False, False), (True, False), (False, True)}
    assert set(ALLOWED) == {stage(m) for m in MODULES}


def test_imports_point_down_to_the_engine() -> None:
    broken = [f"{MODULES[i.importer].relative_to(ROOT)}:{i.line}: imports {i.target}: {why}"
              for i in ALL_IMPORTS if (why := breach(i))
              and not (i.function and i.reason)]
    assert not broken, "\n".join(broken)


def test_lazy_imports_say_why() -> None:
    unexplained = [f"{MODULES[i.importer].relative_to(ROOT)}:{i.line}" for i in ALL_IMPORTS
                   if i.reason == ""]
    assert not unexplained, f"'# {MARK}' needs a reason: {unexplained}"


def test_no_import_cycles_at_run_time() -> None:
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    for i in ALL_IMPORTS:
        if i.target in MODULES and not i.type_only:
            edges[i.importer].add(i.target)
    cycles = [c for c in _cycles(edges) if c not in KNOWN_CYCLES]
    assert not cycles, cycles


def _cycles(edges: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_stay_small(module: str) -> None:
    lines = MODULES[module].read_text(encoding="utf-8").count("\n")
    assert lines < MAX_LINES, f"{module} has {lines} lines"
