"""YAML to plain Python values, keeping where every value and key came from.

We read PyYAML's parser events and build the values ourselves, in one pass
(instead of `safe_load`), so every later error can name FILE:LINE:COL,
duplicate keys are errors rather than silently dropped, and nesting and
alias expansion are bounded.  The events come from libyaml's C parser when
PyYAML has it (its wheels do): the pure-Python scanner costs some 100 µs a
value, and a spec of 200,000 inputs must load in a second or two (long
runs of `name: number` lines skip the events: yamlruns.py).  No node tree
is composed: an anchored node's events are kept and replayed where an alias
names it, counted against MAX_NODES.  Where values are is kept as
character offsets (yamldoc.py).
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    CollectionStartEvent,
    DocumentEndEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    StreamEndEvent,
)
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from gradcli.errors import AliasLocation, Location, SpecError
from gradcli.language.yamldoc import Document, Found, Path, Positions
from gradcli.language.yamlruns import MIN_RUN, PLAIN_FLOAT, PLAIN_INT, Run, Runs, find_runs

# A "billion laughs" document expands aliases exponentially; real specs use
# a few aliases, if any.  The values written in the file are bounded by its
# size; this bounds the values aliases add to them.
MAX_NODES = 200_000
# A document nested a million levels deep must fail with a message, not a
# RecursionError.  Real specs nest a few levels (an array literal at most
# 32, numpy's axis limit).
MAX_DEPTH = 100
PLAIN_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")
STR_TAG = "tag:yaml.org,2002:str"
FLOAT_TAG = "tag:yaml.org,2002:float"
INT_TAG = "tag:yaml.org,2002:int"
MERGE_TAG = "tag:yaml.org,2002:merge"
# libyaml's parser with PyYAML's safe resolver and constructor; the same
# events from the pure-Python parser where PyYAML was built without libyaml.
LOADER: type = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader
_PROPERTIES = re.compile(r"(?:[&!]\S*\s+)+")  # `&anchor !tag ` before a value
# Plain scalars that PyYAML's YAML 1.1 resolver can only make floats ("0.25",
# "-1.5e+3"; not "1e5", a string in YAML 1.1): recognised by one match
# instead of the resolver's walk through its expressions (a large spec is
# mostly such numbers).  Anything else goes to the resolver.
_PLAIN_FLOAT = re.compile(PLAIN_FLOAT)
_PLAIN_INT = re.compile(PLAIN_INT)  # and decimal integers ("010" is octal: not this)


def _mark(mark: yaml.Mark | None) -> tuple[int, int]:
    return (1, 1) if mark is None else (mark.line + 1, mark.column + 1)


class _Unconfirmed(Exception):
    """A run of `name: number` lines was not where the parser read keys."""


def read_yaml(text: str, file: str, runs: bool = True) -> Document:
    """The document in `text`; a leading byte-order mark is not part of it
    (libyaml drops it, and columns count from after it).  `runs=False` reads
    every line through the parser (the tests compare the two ways)."""
    text = text[1:] if text.startswith("\ufeff") else text
    positions = Positions(text)
    if runs and text.count("\n") > MIN_RUN:
        loader = LOADER("")
        resolve = loader.resolve
        found = find_runs(text, "".join(loader.yaml_implicit_resolvers),
                          lambda name: resolve(ScalarNode, name, (True, False)) == STR_TAG)
        if found is not None:
            try:
                return _read(found.text, file, positions, found)
            except (_Unconfirmed, SpecError):
                pass  # read it again the ordinary way: the values or the error it gives
    return _read(text, file, positions, None)


def _read(text: str, file: str, positions: Positions, runs: Runs | None) -> Document:
    loader = LOADER(text)
    try:
        reader = _Reader(loader, file, positions, runs)
        data = reader.document()
    except RecursionError:  # defence in depth: MAX_DEPTH should come first
        raise SpecError(f"invalid YAML: nested too deeply (more than {MAX_DEPTH} levels)",
                        Location(file, 1, 1)) from None
    except yaml.MarkedYAMLError as exc:
        where = Location(file, *_mark(exc.problem_mark or exc.context_mark))
        problem = exc.problem or exc.context or "invalid YAML"
        if "maximum nesting depth" in problem:  # libyaml >= 0.2.5 (PyYAML 6.0.4) stops at 1000
            problem = f"nested more than {MAX_DEPTH} levels deep"
        raise SpecError(f"invalid YAML: {problem}", where) from None
    except yaml.reader.ReaderError as exc:  # a character YAML forbids (NUL, ...)
        raise SpecError(f"invalid YAML: the character U+{exc.character:04X} is not allowed "
                        "(a YAML file is text)", _position(file, positions, exc.position)) \
            from None
    except yaml.YAMLError as exc:
        raise SpecError(f"invalid YAML: {' '.join(str(exc).split())}",
                        Location(file, 1, 1)) from None
    finally:
        loader.dispose()
    if runs is not None and len(reader.runs) < len(runs.by_first_key):
        raise _Unconfirmed
    return Document(data, file, reader.values, reader.keys, reader.quoted, positions,
                    tuple(reader.runs))


def _position(file: str, positions: Positions, offset: int) -> Location:
    """FILE:LINE:COL of a reader error, which carries only an offset: in
    bytes of the UTF-8 text from libyaml, in characters from PyYAML's own
    reader; columns count characters."""
    text = positions.text
    position = len(text.encode("utf-8", "surrogatepass")[:offset].decode("utf-8", "ignore")) \
        if LOADER is not yaml.SafeLoader else offset
    return positions.location(file, position)


class _Reader:
    """One document's values from the parser's events.  Values are read with
    a `next_event` callable: the parser's (which records the events of
    anchored nodes while they are open), or a recorded node's when an alias
    is being expanded (`replay`)."""

    def __init__(self, loader: Any, file: str, positions: Positions, runs: Runs | None) -> None:
        self.loader, self.file, self.positions = loader, file, positions
        self.text = positions.text
        # (alias, location of its use) while an alias's node is replayed: a
        # value there is located at the use, and at the anchored text
        self.via: tuple[str, Location] | None = None
        self.values: dict[Path, Found] = {}
        self.keys: dict[Path, Found] = {}
        self.quoted: dict[Path, bool] = {}
        self.anchors: dict[str, list[Event]] = {}
        self.recording: list[list[Event]] = []   # events of anchored nodes still open
        self.expanded = 0                        # values made by expanding aliases
        self.constructors = loader.yaml_constructors
        self.first_chars = loader.yaml_implicit_resolvers  # first character -> resolvers
        self.pending = runs.by_first_key if runs is not None else {}
        self.runs: list[tuple[Path, Run]] = []   # the runs confirmed, by mapping

    def error(self, message: str, mark: yaml.Mark | None,
              event: Event | None = None) -> SpecError:
        where = self.where(event) if event is not None else None
        return SpecError(message, Location(self.file, *_mark(mark)) if where is None
                         else self.located(where))

    def located(self, found: Found) -> Location:
        return found if isinstance(found, Location) else \
            self.positions.location(self.file, found)

    def where(self, event: Event) -> Found:
        """Where an event's value starts: a mark of an anchored or tagged node
        is the `&`, so it is moved past `&name !tag `; through an alias, the
        use and the anchored text (AliasLocation)."""
        own = event.start_mark.index
        if event.anchor is not None or getattr(event, "tag", None) not in (None, "!"):
            skipped = _PROPERTIES.match(self.text, own)
            if skipped and "\n" not in skipped.group():
                own += len(skipped.group())
        if self.via is None:
            return own
        return AliasLocation(self.via[1], self.via[0], self.located(own))

    def parsed(self) -> Event:
        event = self.loader.get_event()
        if self.recording:
            for events in self.recording:
                events.append(event)
        return event

    def document(self) -> Any:
        loader = self.loader
        loader.get_event()  # stream start
        if loader.check_event(StreamEndEvent):
            return None
        loader.get_event()  # document start
        data = self.value(self.parsed(), (), self.parsed, False)
        end = loader.get_event()
        if not isinstance(end, DocumentEndEvent) or not loader.check_event(StreamEndEvent):
            where = loader.peek_event() if isinstance(end, DocumentEndEvent) else end
            raise yaml.composer.ComposerError(
                None, None, "expected a single document in the stream, but found another "
                "document", where.start_mark)
        return data

    def value(self, event: Event, path: Path, next_event: Callable[[], Event],
              replay: bool) -> Any:
        """The value whose first event is `event`, at `path`."""
        if isinstance(event, AliasEvent):
            events = self.anchors.get(event.anchor)
            if events is None:
                raise self.error(f"invalid YAML: found undefined alias {event.anchor!r}"
                                 if not any(e[0].anchor == event.anchor for e in self.recording)
                                 else f"invalid YAML: alias *{event.anchor} is used inside "
                                 "the node it names", event.start_mark)
            stream = iter(events)
            outer = self.via
            self.via = (event.anchor, Location(self.file, *_mark(event.start_mark)))
            try:
                return self.value(next(stream), path, stream.__next__, True)
            finally:
                self.via = outer
        if replay:
            self.expanded += 1
            if self.expanded > MAX_NODES:
                raise self.error(f"the document expands to more than {MAX_NODES} values beyond "
                                 "those written (YAML aliases repeated too often)",
                                 event.start_mark, event)
        elif event.anchor is not None:
            self.anchor(event)
        if path not in self.values:
            self.values[path] = self.where(event)
        if isinstance(event, ScalarEvent):
            if event.style in ("'", '"'):
                self.quoted[path] = True
            return self.scalar(event, self.tag(event))
        if len(path) >= MAX_DEPTH:  # aliases can nest deeper than any one definition
            raise self.error(f"invalid YAML: nested more than {MAX_DEPTH} levels deep"
                             + (" (through aliases)" if replay else ""), event.start_mark,
                             event)
        kind = MappingNode if isinstance(event, MappingStartEvent) else SequenceNode
        tag = event.tag if event.tag not in (None, "!") else \
            self.loader.resolve(kind, None, event.implicit)
        if tag not in PLAIN_TAGS:
            # `!!python/object/apply:os.system [...]` on a list: safe_load refuses
            # it, and so do we (reading the events ourselves must not ignore tags)
            raise self.error(f"cannot read this value: YAML tag {tag!r} is not supported",
                             event.start_mark)  # at the tag itself
        out = self.mapping(path, next_event, replay, not event.flow_style) \
            if kind is MappingNode else self.sequence(path, next_event, replay)
        if not replay and event.anchor is not None:
            self.anchors[event.anchor] = self.recording.pop()
        return out

    def anchor(self, event: Event) -> None:
        """Keep the events of an anchored node (a collection's as they come)."""
        if event.anchor in self.anchors or any(e[0].anchor == event.anchor
                                               for e in self.recording):
            raise self.error(f"invalid YAML: found duplicate anchor {event.anchor!r}",
                             event.start_mark)
        if isinstance(event, ScalarEvent):
            self.anchors[event.anchor] = [event]
        else:
            self.recording.append([event])

    def sequence(self, path: Path, next_event: Callable[[], Event], replay: bool) -> list[Any]:
        out: list[Any] = []
        while not isinstance(event := next_event(), SequenceEndEvent):
            out.append(self.value(event, path + (len(out),), next_event, replay))
        return out

    def mapping(self, path: Path, next_event: Callable[[], Event], replay: bool,
                block: bool) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        while not isinstance(event := next_event(), MappingEndEvent):
            aliased = isinstance(event, AliasEvent) and \
                len(self.anchors.get(event.anchor, ())) == 1
            if aliased:
                event = self.anchors[event.anchor][0]  # an alias of a scalar as a key
            if isinstance(event, (CollectionStartEvent, AliasEvent)):
                raise self.error("mapping keys must be plain names", event.start_mark, event)
            if event.anchor is not None and not (replay or aliased):
                self.anchor(event)
            tag = self.tag(event)
            if tag == MERGE_TAG:
                raise self.error("YAML merge keys (<<) are not supported", event.start_mark,
                                 event)
            key = self.scalar(event, tag)
            if key in out:
                raise self.error(f"duplicate key '{key}'", event.start_mark, event)
            keyed = path + (key,)
            self.keys[keyed] = self.where(event)
            value = next_event()
            out[key] = self.value(value, keyed, next_event, replay)
            if self.pending and not (replay or aliased):
                run = self.pending.get(event.start_mark.index)
                if run is not None:
                    self.splice(run, out, path, block, event, value)
        return out

    def splice(self, run: Run, out: dict[Any, Any], path: Path, block: bool,
               key: ScalarEvent, value: Event) -> None:
        """Put a run's interior entries after its first line, once the parser
        has shown that its lines are keys of this block mapping (yamlruns).  A
        plain scalar's style is None from PyYAML's parser, "" from libyaml."""
        plain = (not key.style and key.tag is None and key.anchor is None and block
                 and type(value) is ScalarEvent and not value.style
                 and value.tag is None and value.anchor is None
                 and value.value == run.first_value and not self.recording)
        if not plain or not out.keys().isdisjoint(run.keys):
            raise _Unconfirmed  # a duplicate key's error comes from the ordinary reading
        out.update(zip(run.keys, run.values))
        last = self.loader.peek_event()
        if type(last) is not ScalarEvent or last.start_mark.index != run.last_key:
            raise _Unconfirmed
        self.runs.append((path, run))

    def tag(self, event: ScalarEvent) -> str:
        if event.tag is None or event.tag == "!":
            if event.implicit[0]:
                text = event.value
                if text[:1] not in self.first_chars:  # no implicit type starts so ("x1")
                    return STR_TAG
                if _PLAIN_FLOAT.fullmatch(text):
                    return FLOAT_TAG
                if _PLAIN_INT.fullmatch(text):
                    return INT_TAG
            return self.loader.resolve(ScalarNode, event.value, event.implicit)
        return event.tag

    def scalar(self, event: ScalarEvent, tag: str) -> Any:
        """A scalar's value under safe_load rules: unknown tags (!!python/...)
        are errors.  Strings and plain floats are made here, other tags by
        their constructor, called directly (construct_object would remember
        every node); anything unusual goes the long way."""
        text = event.value
        if tag == STR_TAG:
            return text
        if tag == INT_TAG and _PLAIN_INT.fullmatch(text):
            return int(text)  # what the constructor ends with for a plain decimal
        if tag == FLOAT_TAG and "_" not in text and ":" not in text:
            try:
                return float(text)  # what the constructor ends with; not .inf, .nan
            except ValueError:
                pass
        loader = self.loader
        node = ScalarNode(tag, text, event.start_mark, event.end_mark, event.style)
        try:
            make = self.constructors.get(tag)
            value = make(loader, node) if make is not None else loader.construct_object(node)
            if isinstance(value, types.GeneratorType):  # a collection's tag on a scalar
                value = loader.construct_object(node)
            return value
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or str(exc)
            raise self.error(f"cannot read this value: {problem}", event.start_mark,
                             event) from None
        except ValueError as exc:  # an integer of more than 4300 digits (Python's limit)
            digits = sum(c.isdigit() for c in text)
            reason = (f"a number of {digits} digits is too long (Python converts at most 4300)"
                      if "digits" in str(exc) else exc)
            raise self.error(f"cannot read this value: {reason}", event.start_mark,
                             event) from None
