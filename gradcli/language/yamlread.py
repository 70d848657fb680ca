"""YAML to plain Python values, keeping where every value and key came from.

PyYAML's composed node tree carries marks; we walk it ourselves (instead of
`safe_load`) so every later error can name FILE:LINE:COL, duplicate keys are
errors rather than silently dropped, and alias expansion is bounded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from gradcli.errors import AliasLocation, Location, SpecError

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
        self.composed = 0
        # (id(parent node), index) -> (alias name, mark of the use) for every
        # `*name`: the composed tree shares the anchored node, whose marks
        # are the anchor's, and an error must name the use as well.
        self.alias_uses: dict[tuple[int, Any], tuple[str, yaml.Mark]] = {}

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self.depth += 1
        try:
            event = self.peek_event()
            if self.depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"nested more than {MAX_DEPTH} levels deep", event.start_mark)
            self.composed += 1
            if self.composed > MAX_NODES:  # before the tree of a huge document is built
                raise yaml.composer.ComposerError(
                    None, None, f"the document has more than {MAX_NODES} values (put large "
                    "arrays in .npy files)", event.start_mark)
            if isinstance(event, yaml.AliasEvent) and parent is not None:
                self.alias_uses[_child_key(parent, index)] = (event.anchor, event.start_mark)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _child_key(parent: yaml.Node, index: Any) -> tuple[int, Any]:
    """A child's place in its parent: a sequence's position, a mapping's key node."""
    return id(parent), index if isinstance(index, int) else id(index)


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
    except yaml.reader.ReaderError as exc:  # a character YAML forbids (NUL, ...)
        raise SpecError(f"invalid YAML: the character U+{exc.character:04X} is not allowed "
                        "(a YAML file is text)", _position(file, text, exc.position)) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"invalid YAML: {' '.join(str(exc).split())}",
                        Location(file, 1, 1)) from None
    doc = Document(None, file)
    if root is None:
        return doc
    counter = [0]
    data = _convert(root, (), doc, loader, counter)
    return Document(data, file, doc.values, doc.keys, doc.quoted)


def _position(file: str, text: str, position: int) -> Location:
    """FILE:LINE:COL of a character index (PyYAML's reader errors carry only that)."""
    line = text.count("\n", 0, position) + 1
    return Location(file, line, position - (text.rfind("\n", 0, position) + 1) + 1)


_PROPERTIES = re.compile(r"(?:[&!]\S*\s+)+")  # `&anchor !tag ` before a value


def _where(doc: Document, loader: _Loader, node: yaml.Node,
           via: tuple[str, Location] | None) -> Location:
    """Where a node's value starts: PyYAML's mark of an anchored or tagged
    node is the `&`, so its columns are moved past `&name ` to the value."""
    mark = node.start_mark
    own = _mark(doc.file, mark)
    text = getattr(loader, "buffer", "")
    if isinstance(text, str) and text[mark.index:mark.index + 1] in ("&", "!"):
        skipped = _PROPERTIES.match(text, mark.index)
        if skipped and "\n" not in skipped.group():
            own = own.shifted(len(skipped.group()))
    return own if via is None else AliasLocation(via[1], via[0], own)


def _convert(node: yaml.Node, path: Path, doc: Document, loader: _Loader,
             counter: list[int], via: tuple[str, Location] | None = None) -> Any:
    """`via`: (alias, location of its use) when this node is reached through `*alias`."""
    counter[0] += 1
    if len(path) > MAX_DEPTH:  # aliases can nest deeper than any one definition
        raise SpecError(f"invalid YAML: nested more than {MAX_DEPTH} levels deep "
                        "(through aliases)", _where(doc, loader, node, via))
    if counter[0] > MAX_NODES:
        raise SpecError(f"the document expands to more than {MAX_NODES} values "
                        "(YAML aliases repeated too often)", _where(doc, loader, node, via))
    doc.values.setdefault(path, _where(doc, loader, node, via))
    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.tag not in PLAIN_TAGS:
        # `!!python/object/apply:os.system [...]` on a list: safe_load refuses
        # it, and so do we (walking the nodes ourselves must not ignore tags)
        raise SpecError(f"cannot read this value: YAML tag {node.tag!r} is not supported",
                        _mark(doc.file, node.start_mark))
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key_at = _where(doc, loader, key_node, via)
            if not isinstance(key_node, yaml.ScalarNode):
                raise SpecError("mapping keys must be plain names", key_at)
            key = _construct(loader, key_node, key_at)
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise SpecError("YAML merge keys (<<) are not supported", key_at)
            if key in out:
                raise SpecError(f"duplicate key '{key}'", key_at)
            doc.keys[path + (key,)] = key_at
            out[key] = _convert(value_node, path + (key,), doc, loader, counter,
                                _via(doc, loader, node, key_node, via))
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, path + (i,), doc, loader, counter, _via(doc, loader, node, i, via))
                for i, item in enumerate(node.value)]
    doc.quoted[path] = node.style in ("'", '"')
    return _construct(loader, node, _where(doc, loader, node, via))


def _via(doc: Document, loader: _Loader, parent: yaml.Node, index: Any,
         via: tuple[str, Location] | None) -> tuple[str, Location] | None:
    """The alias a child is reached through: its own `*use`, else its parent's."""
    use = loader.alias_uses.get(_child_key(parent, index))
    return via if use is None else (use[0], _mark(doc.file, use[1]))


def _construct(loader: yaml.SafeLoader, node: yaml.Node, where: Location) -> Any:
    """A scalar's value under safe_load rules: unknown tags (!!python/...) are errors."""
    try:
        return loader.construct_object(node)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(f"cannot read this value: {problem}", where) from None
    except ValueError as exc:  # an integer of more than 4300 digits (Python's limit)
        digits = sum(c.isdigit() for c in str(node.value))
        reason = f"a number of {digits} digits is too long" if "digits" in str(exc) else exc
        raise SpecError(f"cannot read this value: {reason}", where) from None
