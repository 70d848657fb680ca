"""Runs of `name: number` lines (language/yamlruns.py) read by regular
expressions give exactly what the parser gives line by line: the same
values with the same types, the same locations, the same errors, in every
context a run can stand in (block scalars, quoted strings, flow
collections, anchors, continuation lines, duplicate and special keys)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from gradcli.errors import SpecError
from gradcli.language.yamldoc import Document
from gradcli.language.yamlread import read_yaml
from gradcli.language.yamlruns import MIN_RUN

# Where a run of lines (`{run}`, indented by `{pad}`) can stand; `{pad}` is
# the indentation the context expects, or not.
CONTEXTS = [
    "inputs:\n{run}outputs: {{y: x0 + x1}}\n",
    "{run}",
    "{run}tail: 1\n",
    "a:\n  b:\n{run}  c: 2\n",
    "first: 1\n{run}last: 2\n",
    "t: |\n{run}after: 1\n",
    "t: >-\n{run}",
    't: "\n{run}"\n',
    "t: '\n{run}'\n",
    "t: {{\n{run}}}\n",
    "t: [\n{run}]\n",
    "t: foo\n{run}",
    "a: &A\n{run}b: *A\n",
    "a:\n  &A k: 1\n{run}b: *A\n",
    "- k: 1\n{run}- 2\n",
    "k: 1\n{run}        more\n",
    "k: 1\n{run}\n        more\n",
    "k: 1\n{run}# note\n        more\n",
    "k: 1\n{run}  deeper: 1\n",
    "k: 1\n{run}---\nk: 2\n",
    "? complex\n: 1\n{run}",
    "k: !!str\n{run}",
    "%YAML 1.1\n---\n{run}",
]
# What may replace a line's key or value, each a case the regular
# expressions must not get wrong.
ODD_KEYS = ["x0", "on", "null", "Null", "y", "n", "No", "true", "_", "__x", "k" * 1100, "é",
            "x-y", "0x1", "1", "<<", "~", "a b"]
ODD_VALUES = ["0.25", "-0.0", "+1.", "1.5e+400", "1e5", "010", "0", "-7", "+8",
              "123456789012345678", "1234567890123456789", "9" * 5000, ".5", "1_000.5",
              "0x1F", "1:30", "2001-12-14", "nan", ".nan", ".inf", "yes", "'0.5'", "&a 1.0",
              "*a", "!!str 1.0", "1.0 # note", "{a: 1}", "[1, 2]", "|", "1.0\t", ""]


@st.composite
def documents(draw: st.DrawFn) -> str:
    context = draw(st.sampled_from(CONTEXTS))
    # 2 is what most contexts expect, 4 the nested one, 0 and 1 neither
    pad = " " * draw(st.sampled_from([2, 2, 0, 1, 4]))
    count = draw(st.integers(MIN_RUN - 2, MIN_RUN + 6))
    lines = [f"{pad}x{i}: {i * 0.5 + 0.25}" for i in range(count)]
    for _ in range(draw(st.integers(0, 3))):
        spot = draw(st.integers(0, count - 1))
        if draw(st.booleans()):
            lines[spot] = f"{pad}{draw(st.sampled_from(ODD_KEYS))}: {spot}.5"
        else:
            lines[spot] = f"{pad}x{spot}: {draw(st.sampled_from(ODD_VALUES))}"
    if draw(st.booleans()):  # a repeated key, or a line at another indentation
        spot = draw(st.integers(1, count - 1))
        lines[spot] = draw(st.sampled_from([f"{pad}x0: 1.5", f"{pad} x{spot}: 1.5",
                                            f"{pad}x{spot}:  2.5  ", f"{pad}x{spot}: 3"]))
    run = "".join(line + "\n" for line in lines)
    if draw(st.booleans()) and context == "{run}":
        run = run[:-1]  # no newline at the end of the file
    return context.format(run=run)


def typed(value: Any) -> Any:
    """The value with every type spelled out (1 == 1.0 == True in Python)."""
    if isinstance(value, dict):
        return [("dict", typed(k), typed(v)) for k, v in value.items()]
    if isinstance(value, list):
        return ["list", *map(typed, value)]
    return (type(value).__name__, repr(value))


def read(text: str, runs: bool) -> Document | str:
    try:
        return read_yaml(text, "s.yaml", runs=runs)
    except SpecError as exc:
        return str(exc)


def paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, path + (index,))
    return found


def assert_same_reading(text: str) -> Document | str:
    fast, plain = read(text, True), read(text, False)
    if isinstance(plain, str):
        assert fast == plain
        return fast
    assert isinstance(fast, Document), fast
    assert typed(fast.data) == typed(plain.data)
    for path in paths(plain.data):
        assert str(fast.at(path)) == str(plain.at(path)), path
        assert str(fast.key_at(path)) == str(plain.key_at(path)), path
    assert fast.quoted == plain.quoted
    try:
        expected = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError):
        return fast  # the reader may refuse what safe_load refuses differently
    assert typed(fast.data) == typed(expected)
    return fast


@settings(max_examples=2000, deadline=None)
@given(documents())
def test_runs_read_as_the_parser_reads_them(text: str) -> None:
    assert_same_reading(text)


def test_a_plain_run_is_read_by_the_fast_lane() -> None:
    """The property above would hold with the lane never taken: here it is."""
    count = 10_000
    text = "inputs:\n" + "".join(f"  x{i}: {i}.5\n" for i in range(count)) + "outputs: {y: x0}\n"
    doc = assert_same_reading(text)
    assert isinstance(doc, Document)
    ((mapping, run),) = doc.runs
    assert mapping == ("inputs",) and len(run.keys) == count - 2
    assert str(doc.at(("inputs", "x5000"))) == "s.yaml:5002:10"
    assert str(doc.key_at(("inputs", "x5000"))) == "s.yaml:5002:3"


@pytest.mark.parametrize("context", CONTEXTS)
def test_each_context_with_a_plain_run(context: str) -> None:
    run = "".join(f"  x{i}: {i}.5\n" for i in range(MIN_RUN + 2))
    assert_same_reading(context.format(run=run))


def test_a_duplicate_after_the_run_is_located_where_the_parser_finds_it() -> None:
    run = "".join(f"  x{i}: {i}.5\n" for i in range(MIN_RUN + 2))
    found = read("inputs:\n" + run + "  x7: 1.0\n", True)
    assert found == f"s.yaml:{MIN_RUN + 4}:3: duplicate key 'x7'"
