"""The vectorised number spelling (render/shortest.py, render/spell.py)
against the per-element reference: `repr` for float64, numpy's Dragon4 for
float32, PyYAML's representer for YAML."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gradcli.render import spell
from gradcli.render.shortest import shortest_digits
from gradcli.render.tree import float_digits, spell_elements


def _canonical(digits: int, exponent: int) -> tuple[int, int]:
    """digits * 10**exponent without trailing zeros in `digits`."""
    while digits and digits % 10 == 0:
        digits, exponent = digits // 10, exponent + 1
    return digits, exponent


def _reference(text: str) -> tuple[int, int]:
    """The (digits, exponent) a repr-like spelling writes."""
    mantissa, _, exp = text.lower().partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = int((whole + fraction).lstrip("-") or "0")
    return _canonical(digits, int(exp or 0) - len(fraction))


def _hard_float64(rng: np.random.Generator) -> np.ndarray:
    """Random bit patterns plus the families where shortest-digit algorithms
    go wrong: powers of two (a closer lower neighbour) and their neighbours,
    subnormals, powers of ten, integers, the extremes."""
    twos = np.ldexp(1.0, np.arange(-1074, 1024))
    parts = [rng.integers(0, 2**63, 20000, dtype=np.uint64).view(np.float64), twos,
             np.nextafter(twos, np.inf), np.nextafter(twos[1:], 0),
             rng.integers(1, 2**52, 3000, dtype=np.uint64).view(np.float64),  # subnormal
             10.0 ** np.arange(-323, 309), rng.integers(1, 2**53, 3000).astype(np.float64),
             np.array([5e-324, 1e-323, 2.2250738585072014e-308, 1.7976931348623157e308,
                       9007199254740993.0, 2.0**70, 1e23, 8.41e21, 0.1, 0.3, 2 / 3])]
    values = np.abs(np.concatenate(parts))
    return values[np.isfinite(values) & (values > 0)]


def test_float64_digits_are_those_of_repr():
    values = _hard_float64(np.random.default_rng(0))
    digits, exponent = shortest_digits(values)
    got = [_canonical(d, e) for d, e in zip(digits.tolist(), exponent.tolist())]
    want = [_reference(repr(v)) for v in values.tolist()]
    bad = [(v, g, w) for v, g, w in zip(values.tolist(), got, want) if g != w]
    assert not bad, bad[:5]


def test_float32_digits_are_the_shortest_in_float32():
    rng = np.random.default_rng(1)
    twos = np.ldexp(np.float32(1), np.arange(-149, 128)).astype(np.float32)
    values = np.abs(np.concatenate([
        rng.integers(0, 2**31, 20000, dtype=np.uint32).view(np.float32), twos,
        np.nextafter(twos, np.float32(np.inf)), rng.standard_normal(3000).astype(np.float32),
        rng.integers(1, 2**23, 2000, dtype=np.uint32).view(np.float32)]))
    values = values[np.isfinite(values) & (values > 0)]
    digits, exponent = shortest_digits(values)
    got = [_canonical(d, e) for d, e in zip(digits.tolist(), exponent.tolist())]
    want = [_reference(np.format_float_scientific(v, unique=True)) for v in values]
    assert got == want


def _spelled(values: np.ndarray, dialect: spell.Dialect) -> list[str]:
    matrix = spell.side_by_side(spell.spell(values, dialect), spell.constant(len(values), b"\n"))
    return spell.pack(matrix).decode().split("\n")[:-1]


def _mixed(rng: np.random.Generator, n: int = 3000) -> np.ndarray:
    values = rng.standard_normal(n) * 10.0 ** rng.integers(-30, 30, n)
    values[:12] = [0.0, -0.0, np.nan, np.inf, -np.inf, 1e16, 1e15, 1e-4, 1e-5, 5e-324,
                   -2.5e17, 123456789.0]
    return values


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_chunks_are_spelled_as_repr_spells_each_element(dtype):
    values = _mixed(np.random.default_rng(2)).astype(dtype)
    assert len(values) >= spell.SMALL  # the vectorised path
    reference = spell_elements(values)
    assert _spelled(values, spell.CSV) == reference
    quoted = [f'"{t}"' if t in ("nan", "inf", "-inf") else t for t in reference]
    assert _spelled(values, spell.JSON) == quoted


def test_yaml_spelling_is_pyyamls():
    values = _mixed(np.random.default_rng(3))
    reference = [yaml.safe_dump(v).splitlines()[0] for v in values.tolist()]
    assert _spelled(values, spell.YAML) == reference
    assert _spelled(values[:20], spell.YAML) == reference[:20]  # the per-element path


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(np.float64, st.integers(spell.SMALL, 2 * spell.SMALL),
                  elements=st.floats(allow_nan=True, allow_infinity=True)))
def test_any_float64_chunk(values):
    assert _spelled(values, spell.CSV) == spell_elements(values)


def test_integers_and_booleans():
    rng = np.random.default_rng(4)
    ints = np.concatenate([rng.integers(-2**62, 2**62, 500), [0, -1, 9, 10, -10, 10**18 - 1,
                                                             -(10**18) + 1, 10**18,
                                                             -2**63, 2**63 - 1]])
    assert _spelled(ints, spell.JSON) == [str(v) for v in ints.tolist()]
    big = np.array([0, 2**64 - 1, 5], dtype=np.uint64)
    assert _spelled(big, spell.JSON) == ["0", "18446744073709551615", "5"]
    assert _spelled(np.array([True, False] * 200), spell.JSON) == ["true", "false"] * 200
    half = np.array([1.5, np.nan, 0.1], dtype=np.float16)
    assert _spelled(half, spell.JSON) == ["1.5", '"nan"', "0.1"]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_significant_digits_are_those_of_format_g(dtype):
    rng = np.random.default_rng(5)
    subnormal = rng.integers(1, 2**52, 300, dtype=np.uint64).view(np.float64)
    values = np.concatenate([_mixed(rng, 2000), subnormal, np.arange(-300, 300) * 0.125,
                             [0.5, 2.5, 99999999.5, 9.9999999, 1e15]]).astype(dtype)
    for significant in (1, 3, 8, 15, 17):
        expected = [format(x, f".{significant}g") for x in float_digits(values)]
        assert _spelled_g(values, spell.G_FORMAT, significant) == expected
        with_point = [t if any(c in t for c in ".en") else t + ".0" for t in expected]
        assert _spelled_g(values, spell.CSV, significant) == with_point


def _spelled_g(values: np.ndarray, dialect: spell.Dialect, significant: int) -> list[str]:
    matrix = spell.spell(values, dialect, significant)
    rows = spell.side_by_side(matrix, spell.constant(len(values), b"\n"))
    return spell.pack(rows).decode().split("\n")[:-1]
