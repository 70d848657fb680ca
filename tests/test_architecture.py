"""docs/architecture.md stays true: every file it names exists, its stage
table lists every module, and its engine layers and import diagram are the
rules tests/test_layers.py enforces."""

from __future__ import annotations

import re
from pathlib import Path

from test_layers import ALLOWED, ENGINE_LAYERS, MODULES

ROOT = Path(__file__).parent.parent
DOC = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
FOLDERS = ("ops", "functions", "layers", "importers", "commands",
           "accuracy")  # listed as a folder: `ops/`


def _section(title: str) -> str:
    start = DOC.index(title)
    end = DOC.find("\n## ", start + 1)
    return DOC[start:end if end != -1 else None]


def _table(title: str) -> list[list[str]]:
    rows = [line for line in _section(title).splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]]


def _exists(token: str) -> bool:
    pattern = re.sub(r"<[^>]+>", "*", token.rstrip("/"))
    for base in (ROOT, ROOT / "gradcli"):
        if any(base.glob(pattern)) if "*" in pattern else (base / pattern).exists():
            return True
    return False


def test_every_file_it_names_exists() -> None:
    tokens = {t for t in re.findall(r"`([^`\s]+)`", DOC)
              if "/" in t and re.search(r"(\.py|\.md|/)$", t)}
    assert len(tokens) > 20
    missing = sorted(t for t in tokens if not _exists(t))
    assert not missing, missing


def test_the_stage_table_lists_every_module() -> None:
    rows = {row[0].strip("`"): row[1] for row in _table("## The stages")}
    unlisted = []
    for module, path in MODULES.items():
        relative = path.relative_to(ROOT / "gradcli")
        if len(relative.parts) == 1:  # api.py, errors.py, __init__.py, __main__.py
            if f"gradcli/{relative}" not in DOC:
                unlisted.append(module)
            continue
        cell = rows[f"gradcli/{relative.parts[0]}/"]
        names = set(re.findall(r"[\w]+/?", cell))
        if relative.parts[1].rstrip("/") in FOLDERS:
            if f"{relative.parts[1]}/" not in names:
                unlisted.append(module)
        elif relative.stem not in names:
            unlisted.append(module)
    assert not unlisted, unlisted


def test_the_engine_layers_are_the_enforced_ones() -> None:
    layers = [tuple(name.strip() for name in row[1].split(","))
              for row in _table("Inside the engine")]
    assert layers == [tuple(layer) for layer in ENGINE_LAYERS]


def test_the_diagram_draws_the_enforced_import_rules() -> None:
    diagram = DOC[DOC.index("```mermaid"):]
    diagram = diagram[:diagram.index("```", 3)]
    drawn = set(re.findall(r"^\s*(\w+) -->(?:\|[^|]*\|)? (\w+)$", diagram, re.M))
    enforced = {(a, b) for a, targets in ALLOWED.items() for b in targets if b != "errors"}
    enforced.add(("render", "engine"))  # the IR only (test_layers.RENDER_READS)
    assert drawn == enforced
