"""Numbers spelled as bytes, a chunk at a time, with no Python object per element.

A chunk of n numbers becomes an (n, width) uint8 matrix: row i holds the
spelling of element i, and NUL bytes wherever a row has nothing (no
spelling contains a NUL).  Callers put such matrices side by side (brackets,
separators, CSV indices) and `pack` drops every NUL, which leaves the
spellings one after the other in C order: the bytes of a whole chunk come
from a handful of numpy operations.

Floats are spelled as `repr` spells them, digit for digit (tree.py's rules):
the shortest round-trip digits (shortest.py; float32 in its own digits),
positional for decimal exponents -4 < e < 16 with at least one digit after
the point, else `d.ddde+XX`.  YAML puts ".0" into `1e-300` (PyYAML reads a
number without a point as a string) and writes .nan/.inf; JSON quotes the
non-finite words; CSV writes them bare.  Integers and booleans are exact.

With `significant=P` floats are spelled as `format(x, ".Pg")` (text, and csv
with --precision): the shortest digits rounded to P digits give exactly the
correctly rounded P digits for P <= 15 (a normal float64 has more than 15
digits of precision), except where the shortest digits end in a 5 just past
the P-th (x may be just above or below that tie) and for subnormal float64,
which are spelled by Python, as are P of 16 and 17.  Anything else the vectorised path
does not cover (float16, integers beyond 10^18, chunks shorter than `SMALL`)
is spelled per element with Python and then packed the same way.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from .tree import float_digits, spell_elements

_DIGITS = 17  # a float64 needs at most 17 significant digits
_POW10 = np.array([10**i for i in range(20)], dtype=np.uint64)
# Below this many elements `repr` per element is quicker than the ~150 numpy
# calls of the vectorised path (about 1 us each), and needs none of its tables:
# a small result prints as fast as a shell loop wants.
SMALL = 256
_EXACT_ROUNDING = 15  # rounding the shortest digits is exact up to this many digits


class Dialect(NamedTuple):
    """How one data format spells what numbers cannot say alike."""

    nan: bytes
    inf: bytes
    neg_inf: bytes
    point_before_exponent: bool = False  # YAML: 1.0e-300, never 1e-300
    point_zero: bool = True  # 2.0 rather than 2 (repr does, format(2.0, "g") does not)


JSON = Dialect(b'"nan"', b'"inf"', b'"-inf"')
CSV = Dialect(b"nan", b"inf", b"-inf")
YAML = Dialect(b".nan", b".inf", b"-.inf", point_before_exponent=True)
G_FORMAT = Dialect(b"nan", b"inf", b"-inf", point_zero=False)  # format(x, ".Pg")


def pack(matrix: np.ndarray) -> bytes:
    """The rows of a spelling matrix, one after the other, NULs dropped."""
    return matrix[matrix != 0].tobytes()


def side_by_side(*parts: np.ndarray) -> np.ndarray:
    """Spelling matrices (or (n,) byte columns) joined column-wise."""
    return np.concatenate([p.reshape(len(p), -1) for p in parts], axis=1)


def constant(n: int, text: bytes) -> np.ndarray:
    """The same bytes on each of n rows."""
    return np.broadcast_to(np.frombuffer(text, dtype=np.uint8), (n, len(text)))


def from_strings(texts: list[str] | list[bytes]) -> np.ndarray:
    """Python strings as a spelling matrix (the per-element fallback)."""
    arr = np.array(texts, dtype="S")
    if arr.dtype.itemsize == 0 or len(arr) == 0:
        return np.zeros((len(texts), 1), dtype=np.uint8)
    return arr.view(np.uint8).reshape(len(arr), arr.dtype.itemsize)


def spell(values: np.ndarray, dialect: Dialect = JSON,
          significant: int | None = None) -> np.ndarray:
    """The spelling matrix of a 1-D chunk of bool, integer or float values;
    floats with `significant` digits when given (as `format(x, ".Pg")`)."""
    kind = values.dtype.kind
    if kind == "b":
        return _WORDS[values.astype(np.intp)]
    if kind in "iu":
        return spell_integers(values)
    if values.dtype.itemsize > 8:  # longdouble: float64's digits, as tree.float_digits
        values = values.astype(np.float64)
    if (values.dtype not in (np.float64, np.float32) or len(values) < SMALL
            or (significant or 0) > _EXACT_ROUNDING):
        matrix = from_strings(python_spelling(values, dialect, significant))
    else:
        matrix = spell_finite(values, dialect, significant)
    return _special(matrix, values, dialect)


def python_spelling(values: np.ndarray, dialect: Dialect,
                    significant: int | None = None) -> list[bytes]:
    """Each element spelled by Python (tree.spell_elements, or `format`);
    the dialect's non-finite words come later (`_special`)."""
    if significant is not None:
        tokens = [format(x, f".{significant}g") for x in float_digits(values)]
        if dialect.point_zero:  # a float never looks like an integer
            tokens = [t if any(c in t for c in ".en") else t + ".0" for t in tokens]
    else:
        tokens = spell_elements(values)
    if dialect.point_before_exponent:
        tokens = [t.replace("e", ".0e", 1) if "e" in t and "." not in t else t for t in tokens]
    return [t.encode() for t in tokens]


_WORDS = np.frombuffer(b"false" + b"true\0", dtype=np.uint8).reshape(2, 5)


def _patch(matrix: np.ndarray, rows: np.ndarray, words: list[bytes]) -> np.ndarray:
    """`matrix` with the given rows replaced by `words` (widened as needed)."""
    width = max(matrix.shape[1], *(len(w) for w in words))
    out = np.zeros((len(matrix), width), dtype=np.uint8)
    out[:, :matrix.shape[1]] = matrix
    out[rows] = 0
    for row, word in zip(rows.tolist(), words):
        out[row, :len(word)] = np.frombuffer(word, dtype=np.uint8)
    return out


def _special(matrix: np.ndarray, values: np.ndarray, dialect: Dialect) -> np.ndarray:
    """Overwrite the rows of non-finite values with the dialect's words."""
    if values.dtype.kind != "f":
        return matrix
    rows = np.flatnonzero(~np.isfinite(values))
    if not len(rows):
        return matrix
    bad = values[rows]
    words = [dialect.nan if np.isnan(x) else dialect.inf if x > 0 else dialect.neg_inf
             for x in bad.tolist()]
    return _patch(matrix, rows, words)


def spell_integers(values: np.ndarray) -> np.ndarray:
    """Integers in decimal; magnitudes of 10^18 and more per element."""
    if values.dtype.kind == "u" and values.size and values.max() >= _POW10[18]:
        return from_strings([str(v) for v in values.tolist()])
    wide = values.astype(np.int64)
    if values.size and (wide.min() <= -(10**18) or wide.max() >= 10**18):
        return from_strings([str(v) for v in values.tolist()])
    rest = np.abs(wide).astype(np.uint64)
    out = np.zeros((len(values), 19), dtype=np.uint8)
    out[:, 0] = (wide < 0) * ord("-")
    ten = np.uint64(10)
    for column in range(18, 0, -1):  # digits from the right; leading zeros stay NUL
        head = rest // ten
        digit = (rest - head * ten).astype(np.uint8)
        out[:, column] = np.where((rest > 0) | (column == 18), digit + ord("0"), 0)
        rest = head
    return out


def _trailing_zeros(half: np.ndarray) -> np.ndarray:
    """Decimal zeros at the end of each uint32 below 10^9 (8 for zero)."""
    count = np.zeros(len(half), dtype=np.int32)
    for power in range(1, 9):
        divisor = np.uint32(10**power)
        count += half - half // divisor * divisor == 0
    return count


def _write_digits(digits: np.ndarray, out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Write the ASCII digits of `digits` (< 10^17) into out[:, :17], moved
    to the left with "0"s after them; return how many digits each has (at
    least 1) and how many of them are significant (no trailing zeros)."""
    count = np.maximum(np.searchsorted(_POW10[:_DIGITS + 1], digits, side="right"), 1)
    left = digits * _POW10[_DIGITS - count]
    # two 9-digit halves fit uint32, whose division by a constant is cheap
    high = (left // _POW10[9]).astype(np.uint32)
    low = (left - high.astype(np.uint64) * _POW10[9]).astype(np.uint32)
    zeros = _trailing_zeros(low)
    low_empty = low == 0
    zeros[low_empty] += 1 + _trailing_zeros(high[low_empty])
    ten, zero = np.uint32(10), np.uint32(ord("0"))
    for half, first, last in ((low, 16, 7), (high, 7, -1)):
        for column in range(first, last, -1):
            head = half // ten
            out[:, column] = half - head * ten + zero
            half = head
    significant = np.maximum(_DIGITS - zeros, 1)
    return count.astype(np.int32), significant


def _rounded(digits: np.ndarray, exponent: np.ndarray,
             significant: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """digits * 10^exponent rounded to `significant` digits (half up), and
    the rows that are exact ties, whose side only the binary value knows."""
    count = np.searchsorted(_POW10[:_DIGITS + 1], digits, side="right")
    drop = np.maximum(count - significant, 0)
    unit = _POW10[drop]
    kept = digits // unit
    rest = digits - kept * unit
    half = unit // np.uint64(2)  # 5 * 10^(drop-1); 0 when nothing is dropped
    tie = (drop > 0) & (rest == half)
    return kept + (rest > half) * (drop > 0), exponent + drop, tie


def spell_finite(values: np.ndarray, dialect: Dialect = JSON,
                 significant: int | None = None) -> np.ndarray:
    """float64/float32 values as `repr` spells them, or with `significant`
    digits as `format(x, ".Pg")`; non-finite rows are junk (`spell`
    overwrites them)."""
    from .shortest import shortest_digits  # lazy-for-speed: only large chunks need its table

    if not np.isfinite(values).all():
        values = np.where(np.isfinite(values), values, 0)
    digits, exponent = shortest_digits(np.abs(values))
    ties = None
    if significant is not None:
        digits, exponent, tie = _rounded(digits, exponent, significant)
        if values.dtype == np.float64:  # subnormals have fewer bits than 15 digits need
            tie |= (np.abs(values) < np.finfo(np.float64).tiny) & (values != 0)
        ties = np.flatnonzero(tie)
    source = np.empty((len(values), _SOURCE_WIDTH), dtype=np.uint8)
    count, kept = _write_digits(digits, source)
    point = exponent.astype(np.int32) + count  # value = 0.DDD x 10^point
    point[digits == 0] = 1  # zero is "0.0"
    # The template classes: positional by (point, digits), scientific by
    # (digits, 2 or 3 exponent digits); the sign doubles them.  repr is
    # positional up to 16 digits before the point, "g" up to `significant`.
    kind = (np.clip(point, -3, 16) + 3) * _DIGITS + kept - 1
    scientific = (point < -3) | (point > (significant or 16))
    if scientific.any():  # rare in most results: only then fill the exponent columns
        shown = point - 1
        magnitude = np.abs(shown)
        kind[scientific] = (_FIXED + (kept - 1) * 2 + (magnitude >= 100))[scientific]
        source[:, _EXP_SIGN] = np.where(shown < 0, ord("-"), ord("+"))
        source[:, _EXP_DIGITS] = magnitude // 100 + ord("0")
        source[:, _EXP_DIGITS + 1] = magnitude // 10 % 10 + ord("0")
        source[:, _EXP_DIGITS + 2] = magnitude % 10 + ord("0")
    kind = kind * 2 + np.signbit(values)
    source[:, _CONSTANTS:] = _CONSTANT_BYTES
    # One flat gather (2-D fancy indexing is three times slower).
    rows = np.arange(0, len(values) * _SOURCE_WIDTH, _SOURCE_WIDTH, dtype=np.int32)
    table = _templates(dialect.point_before_exponent, dialect.point_zero)
    out = np.take(source.ravel(), table[kind] + rows[:, None])
    if ties is not None and len(ties):
        out = _patch(out, ties, python_spelling(values[ties], dialect, significant))
    return out


# Columns of the per-element source row a template picks from.
_EXP_SIGN = _DIGITS
_EXP_DIGITS = _DIGITS + 1
_CONSTANTS = _DIGITS + 4
_CONSTANT_BYTES = np.frombuffer(b".e0-\0", dtype=np.uint8)
_POINT, _E, _ZERO, _MINUS, _NUL = range(_CONSTANTS, _CONSTANTS + 5)
_SOURCE_WIDTH = _CONSTANTS + 5
_FIXED = 20 * _DIGITS  # positional classes come first: point in [-3, 16] x digits
_WIDTH = 25  # "-" + 17 digits + "." + "e-308"


@functools.cache
def _templates(point_before_exponent: bool, point_zero: bool) -> np.ndarray:
    """For each class, the source column of each output byte (NUL-padded)."""
    classes = []
    for point in range(-3, 17):
        for n in range(1, _DIGITS + 1):
            digits = list(range(n))
            if point <= 0:
                body = [_ZERO, _POINT] + [_ZERO] * -point + digits
            elif point < n:
                body = digits[:point] + [_POINT] + digits[point:]
            else:  # trailing zeros up to the point, then ".0" (or nothing)
                body = list(range(point)) + ([_POINT, _ZERO] if point_zero else [])
            classes.append(body)
    for n in range(1, _DIGITS + 1):
        for wide in (False, True):
            body = [0]
            if n > 1:
                body += [_POINT] + list(range(1, n))
            elif point_before_exponent:
                body += [_POINT, _ZERO]
            body += [_E, _EXP_SIGN] + list(range(_EXP_DIGITS + (not wide), _EXP_DIGITS + 3))
            classes.append(body)
    table = np.full((2 * len(classes), _WIDTH), _NUL, dtype=np.int32)
    for i, body in enumerate(classes):
        table[2 * i, :len(body)] = body
        table[2 * i + 1, :len(body) + 1] = [_MINUS] + body
    return table
