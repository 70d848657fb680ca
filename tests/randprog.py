"""Random gradcli programs for the property suite (tests/test_random_programs.py).

`program(chooser)` draws a spec dict of the YAML's shape: a few float64
inputs of small shapes, a chain of 2-6 `let` names (each built on an
earlier one, with shape ops between them and derivative calls inside them)
and 1-2 small outputs.  Every expression is built with its shape known, so
almost every draw is a valid spec; arguments of log/sqrt/... are positive by
construction and magnitudes are kept moderate (a rough bound per expression).

The chooser is either a numpy Generator (`Seeded`, fast, for the bulk run)
or hypothesis's `draw` (`Drawn`, which can shrink a failing program).  Every
choice is an integer whose smallest value is the simplest option, so
hypothesis shrinks toward short programs of plain ops.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from randops import CAP, Ex, adapt_ops, any_ops, derivative_call, elementwise, size_of

__all__ = ["Seeded", "Drawn", "program", "Ex", "CAP"]


class Seeded:
    """Choices from numpy's default_rng(seed)."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def int(self, lo: int, hi: int) -> int:
        return int(self.rng.integers(lo, hi + 1))


class Drawn:
    """Choices from hypothesis (`st.data()` or a composite's draw)."""

    def __init__(self, draw) -> None:  # noqa: ANN001 - hypothesis's DrawFn
        from hypothesis import strategies as st

        self.draw = draw
        self.st = st

    def int(self, lo: int, hi: int) -> int:
        return self.draw(self.st.integers(lo, hi))


INPUT_SHAPES = [(), (3,), (2, 3), (2,), (4,), (3, 2), (2, 2), (3, 3), (4, 1), (1, 3),
                (2, 2, 2), (2, 1, 3)]


@dataclass
class Builder:
    """The program being drawn: the pool of named values and the choices."""

    ch: object
    pool: dict[str, Ex]
    depth_left: int = 2

    # ---- choices ---------------------------------------------------------------
    def int(self, lo: int, hi: int) -> int:
        return self.ch.int(lo, hi)

    def pick(self, options: list):
        return options[self.int(0, len(options) - 1)]

    def chance(self, percent: int) -> bool:
        """True with the given probability; shrinks to False."""
        return self.int(0, 99) >= 100 - percent

    # ---- expressions -----------------------------------------------------------
    def atom(self, shape: tuple[int, ...] | None = None) -> Ex:
        """A name of the pool (of that shape if one exists)."""
        names = list(self.pool)
        if shape is not None:
            same = [n for n in names if self.pool[n].shape == shape]
            if same and self.chance(70):
                names = same
        return self.pool[self.pick(names)]

    def fresh(self, shape: tuple[int, ...], start: Ex | None = None) -> Ex:
        """An expression of exactly `shape` built from the pool."""
        x = start if start is not None else self.atom(shape)
        if self.depth_left > 0 and self.chance(25):
            self.depth_left -= 1
            try:
                x = self.transform(x)
            finally:
                self.depth_left += 1
        x = self.adapt(x, shape)
        if self.chance(40):
            x = elementwise(self, x)
        return x

    def adapt(self, x: Ex, shape: tuple[int, ...]) -> Ex:
        return adapt_ops(self, x, shape)

    def transform(self, x: Ex) -> Ex:
        """One random op applied to x (shape changes allowed)."""
        y = any_ops(self, x)
        if size_of(y.shape) > CAP or len(y.shape) > 4:
            return x
        return y.tamed()


def _values(shape: tuple[int, ...], rng: np.random.Generator) -> object:
    a = rng.uniform(-1.2, 1.2, size=shape)
    a = np.where(np.abs(a) < 0.05, a + 0.2, a)  # no values at the kinks of abs, relu, sign
    return float(a) if a.ndim == 0 else np.round(a, 6).tolist()


PATTERNS = ["reshape-reshape", "transpose-transpose", "neg-neg", "self-minus", "self-op",
            "same-reshape-in-dot", "derivative-call"]


def program(ch: object) -> dict:
    """A random spec dict (inputs, let, outputs)."""
    b = Builder(ch, {})
    rng = np.random.default_rng(b.int(0, 2**20))
    inputs: dict[str, object] = {}
    for i in range(b.int(1, 3)):
        shape = INPUT_SHAPES[b.int(0, len(INPUT_SHAPES) - 1)]
        name = f"x{i}"
        inputs[name] = _values(shape, rng)
        b.pool[name] = Ex(name, shape, 1.2, kind="input")
    lets: dict[str, str] = {}
    count = b.int(2, 6)
    for i in range(1, count + 1):
        name = f"h{i}"
        previous = [n for n in b.pool if n.startswith("h")]
        base = b.pool[previous[-1]] if previous and not b.chance(25) else \
            b.pool[b.pick(list(b.pool))]
        ex = None
        if b.chance(45):
            ex = pattern(b, base)
        if ex is None:
            ex = b.transform(base)
            if b.chance(50):
                ex = b.transform(ex)
            if ex.text == base.text:
                ex = elementwise(b, ex)
        ex = ex.tamed()
        lets[name] = ex.text
        b.pool[name] = Ex(name, ex.shape, ex.bound, kind="let", note=ex.note)
    outputs: dict[str, str] = {}
    names = [n for n in b.pool if n.startswith("h")]
    for j in range(b.int(1, 2)):
        shape = () if j == 0 or b.chance(50) else b.pick([(2,), (3,), (2, 2)])
        terms = [b.fresh(shape, b.pool[names[-1]] if j == 0 else None)]
        for _extra in range(b.int(0, 1)):
            other = b.pool[b.pick(names)]
            terms.append(b.fresh(shape, other))
        text = " + ".join(t.text for t in terms)
        outputs[f"y{j}" if j else "y"] = text
    return {"inputs": inputs, "let": lets, "outputs": outputs}


def pattern(b: Builder, x: Ex) -> Ex | None:
    """The shape-op patterns the trust issue names (None: not applicable)."""
    kind = b.pick(PATTERNS)
    n = size_of(x.shape)
    if kind == "reshape-reshape":
        if x.note.startswith("reshape") and n > 1:
            orig = x.note.split(":", 1)[1]
            return Ex(f"reshape({x.text}, {orig})", eval(orig), x.bound, note="")
        shape = b.pick(factor_shapes(n))
        return Ex(f"reshape({x.text}, {shape!r})", shape, x.bound,
                  note=f"reshape:{x.shape!r}")
    if kind == "transpose-transpose":
        if len(x.shape) < 2:
            return None
        form = b.pick(["{}.T", "transpose({})"])
        return Ex(form.format(x.text), x.shape[::-1], x.bound, note="transpose")
    if kind == "neg-neg":
        return Ex(f"(-{x.text})", x.shape, x.bound, note="neg")
    if kind == "self-minus":
        op = b.pick(["-", "+", "*"])
        return Ex(f"({x.text} {op} {x.text})", x.shape,
                  x.bound * x.bound if op == "*" else 2 * x.bound)
    if kind == "self-op":
        y = b.fresh(x.shape, x)
        return Ex(f"({x.text} - {y.text})", x.shape, x.bound + y.bound)
    if kind == "same-reshape-in-dot":
        if n < 2:
            return None
        r = f"reshape({x.text}, ({n},))"
        other = b.fresh((n,))
        return Ex(f"({r} * dot({r}, {other.text}))", (n,), x.bound * x.bound * other.bound * n)
    if kind == "derivative-call":
        return derivative_call(b, x)
    return None


def factor_shapes(n: int) -> list[tuple[int, ...]]:
    """Shapes of n elements, at most 3 axes (so reshape has a target)."""
    shapes = [(n,), (n, 1), (1, n)]
    for a in range(2, n):
        if n % a == 0:
            shapes.append((a, n // a))
            for c in range(2, n // a):
                if (n // a) % c == 0:
                    shapes.append((a, c, n // a // c))
    if n == 1:
        shapes += [(), (1, 1)]
    return shapes


def to_yaml(spec: dict) -> str:
    """The spec as a YAML file that `gradcli grad FILE --wrt h1` reads."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def lists_inline(dumper: yaml.SafeDumper, data: list) -> yaml.Node:
        return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)

    Dumper.add_representer(list, lists_inline)
    return yaml.dump(spec, Dumper=Dumper, sort_keys=False, width=10_000)
