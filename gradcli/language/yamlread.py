"""YAML to plain Python values, keeping where every value and key came from.

PyYAML's composed node tree carries marks; we walk it ourselves (instead of
`safe_load`) so every later error can name FILE:LINE:COL, duplicate keys are
errors rather than silently dropped, and alias expansion is bounded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from gradcli.errors import Location, SpecError

Path = tuple[Any, ...]
# A "billion laughs" document expands aliases exponentially; real specs have
# a few hundred nodes.
MAX_NODES = 200_000
# PyYAML composes nested collections recursively; a document nested a
# million levels deep must fail with a message, not a RecursionError. Real
# specs nest a few levels (an array literal at most 32, numpy's axis limit).
MAX_DEPTH = 100
PLAIN_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")


class _Loader(yaml.SafeLoader):
    """SafeLoader that counts how deep the node being composed is."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise yaml.composer.ComposerError(
                    None, None, f"nested more than {MAX_DEPTH} levels deep", mark)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


@dataclass(frozen=True)
class Document:
    """The parsed document plus the location of every value and mapping key."""

    data: Any
    file: str
    values: dict[Path, Location] = field(default_factory=dict)
    keys: dict[Path, Location] = field(default_factory=dict)
    quoted: dict[Path, bool] = field(default_factory=dict)

    def at(self, path: Path) -> Location:
        """Location of the value at `path`, or of its nearest located parent."""
        for end in range(len(path), -1, -1):
            found = self.values.get(tuple(path[:end]))
            if found is not None:
                return found
        return Location(self.file, 1, 1)

    def key_at(self, path: Path) -> Location:
        return self.keys.get(tuple(path)) or self.at(path)


def _mark(file: str, mark: yaml.Mark | None) -> Location:
    if mark is None:
        return Location(file, 1, 1)
    return Location(file, mark.line + 1, mark.column + 1)


def read_yaml(text: str, file: str) -> Document:
    try:
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except RecursionError:  # defence in depth: MAX_DEPTH should come first
        raise SpecError(f"invalid YAML: nested too deeply (more than {MAX_DEPTH} levels)",
                        Location(file, 1, 1)) from None
    except yaml.MarkedYAMLError as exc:
        where = _mark(file, exc.problem_mark or exc.context_mark)
        problem = exc.problem or exc.context or "invalid YAML"
        raise SpecError(f"invalid YAML: {problem}", where) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"invalid YAML: {exc}", Location(file, 1, 1)) from None
    doc = Document(None, file)
    if root is None:
        return doc
    counter = [0]
    data = _convert(root, (), doc, loader, counter)
    return Document(data, file, doc.values, doc.keys, doc.quoted)


def _convert(node: yaml.Node, path: Path, doc: Document, loader: yaml.SafeLoader,
             counter: list[int]) -> Any:
    counter[0] += 1
    if len(path) > MAX_DEPTH:  # aliases can nest deeper than any one definition
        raise SpecError(f"invalid YAML: nested more than {MAX_DEPTH} levels deep "
                        "(through aliases)", _mark(doc.file, node.start_mark))
    if counter[0] > MAX_NODES:
        raise SpecError(f"the document expands to more than {MAX_NODES} values "
                        "(YAML aliases repeated too often)", _mark(doc.file, node.start_mark))
    doc.values.setdefault(path, _mark(doc.file, node.start_mark))
    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.tag not in PLAIN_TAGS:
        # `!!python/object/apply:os.system [...]` on a list: safe_load refuses
        # it, and so do we (walking the nodes ourselves must not ignore tags)
        raise SpecError(f"cannot read this value: YAML tag {node.tag!r} is not supported",
                        _mark(doc.file, node.start_mark))
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise SpecError("mapping keys must be plain names",
                                _mark(doc.file, key_node.start_mark))
            key = _construct(loader, key_node, doc.file)
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise SpecError("YAML merge keys (<<) are not supported",
                                _mark(doc.file, key_node.start_mark))
            if key in out:
                raise SpecError(f"duplicate key '{key}'", _mark(doc.file, key_node.start_mark))
            doc.keys[path + (key,)] = _mark(doc.file, key_node.start_mark)
            out[key] = _convert(value_node, path + (key,), doc, loader, counter)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, path + (i,), doc, loader, counter)
                for i, item in enumerate(node.value)]
    doc.quoted[path] = node.style in ("'", '"')
    return _construct(loader, node, doc.file)


def _construct(loader: yaml.SafeLoader, node: yaml.Node, file: str) -> Any:
    """A scalar's value under safe_load rules: unknown tags (!!python/...) are errors."""
    try:
        return loader.construct_object(node)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(f"cannot read this value: {problem}", _mark(file, node.start_mark)) \
            from None
