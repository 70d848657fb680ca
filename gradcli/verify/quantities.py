"""Which quantities `gradcli check` compares: what `expect:` names, the
gradient of every source, the kinds `--what` asks for, restricted to the
sources `--wrt` names; every nested order below one that is checked."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from gradcli.engine.transforms import check_order
from gradcli.errors import SpecError, suggest

KINDS = ("value", "grad", "orders", "jacobian", "hessian")


@dataclass(frozen=True)
class Quantity:
    """One checked quantity: `value.y`, `grad.a`, `orders.2.x`, `jacobian.y.a`, `hessian.a.b`."""

    kind: str
    key: str
    output: str | None = None
    source: str | None = None
    other: str | None = None
    order: int = 1
    path: tuple[Any, ...] = ()   # where it sits under expect: (for error locations)


@dataclass(frozen=True)
class Expected:
    """Wraps an expected value so that `None` (an expected unconnected result)
    differs from "no expectation"."""

    value: Any


def parse_what(text: str | None) -> tuple[str, ...] | None:
    if not text:
        return None
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise SpecError(f"--what takes a comma-separated list of {', '.join(KINDS)}; "
                        f"got {text!r}", "--what")
    return kinds


def _mapping(value: Any, where: str, at: Any = None) -> dict[Any, Any]:
    if not isinstance(value, dict):
        raise SpecError(f"expect: {where} must be a mapping", at)
    return value


def expect_at(problem: Any, *path: Any) -> Any:
    """The location of expect:/path in the spec file (its nearest located parent)."""
    doc = problem.spec.doc
    return doc.key_at(("expect",) + path) if doc is not None else problem.spec.expect_at


def _validate(problem: Any, q: Quantity, path: tuple[Any, ...]) -> None:
    """Names in expect: are checked here, so a typo is a located spec error
    (exit 2), not a failed comparison."""
    at = expect_at(problem, q.kind, *path)
    if q.output is not None and (q.output not in problem.named or q.output in problem.leaves):
        known = [n for n in problem.named if n not in problem.leaves]
        raise SpecError(f"expect: {q.key} names '{q.output}', which is not an output or let "
                        f"name{suggest(q.output, known)}", at)
    for key in (q.source, q.other):
        if key is not None:
            try:
                problem.sources([key])
            except SpecError as exc:
                raise SpecError(f"expect: {q.key}: {exc.message}", at) from None


def _norm(key: Any) -> str:
    return "".join(str(key).split())


def quantities(problem: Any, what: tuple[str, ...] | None,
               wrt: tuple[str, ...] | None = None) -> list[tuple[Quantity, Expected | None]]:
    """The quantities to check with their expected value (None when `expect:`
    does not name them).  Default: what `expect:` names, plus the gradient of
    every default source.  With `wrt`, exactly those sources: expect: entries
    of other sources are left out, and the default blocks use them."""
    expect = problem.spec.expect or {}
    kinds = what or tuple(k for k in KINDS if k == "grad" or k in expect)
    outputs = list(problem.outputs)
    if wrt:
        sources = [s.key for s in problem.sources(list(wrt))]
    else:
        if problem.spec.wrt:  # the spec's own wrt:, checked with its own locations
            problem.sources(None)
        sources = problem.default_wrt()
    chosen = {_norm(k) for k in sources}

    def keep(*keys: Any) -> bool:
        return not wrt or all(_norm(k) in chosen for k in keys)

    missing = object()
    found: list[tuple[Quantity, tuple[Any, ...], Any]] = []
    for kind in kinds:
        at = expect_at(problem, kind)
        block = _mapping(expect.get(kind, {}), kind, at) if kind != "orders" else {}
        if kind == "value":
            for name in block or outputs:
                found.append((Quantity("value", f"value.{name}", output=name), (name,),
                              block.get(name, missing)))
        elif kind == "grad":
            for key in dict.fromkeys(sources + [k for k in block if keep(k)]):
                found.append((Quantity("grad", f"grad.{key}", source=key), (key,),
                              block.get(key, missing)))
        elif kind == "orders":
            found += _orders(problem, expect, at, sources, keep, missing)
        else:
            if kind == "hessian":
                block = {k: v for k, v in block.items() if keep(k)}
            rows = block or {name: {} for name in (outputs if kind == "jacobian" else sources)}
            for first, inner in rows.items():
                inner = _mapping(inner, f"{kind}.{first}", expect_at(problem, kind, first))
                seconds = [k for k in inner if keep(k)] or sources
                for second in seconds:
                    q = Quantity(kind, f"{kind}.{first}.{second}",
                                 output=first if kind == "jacobian" else None,
                                 source=second if kind == "jacobian" else first,
                                 other=second if kind == "hessian" else None)
                    found.append((q, (first, second), inner.get(second, missing)))
    found = _lower_orders(found, missing)
    for q, path, _ in found:
        _validate(problem, q, path)
    return [(replace(q, path=(q.kind,) + path), None if want is missing else Expected(want))
            for q, path, want in found]


def _orders(problem: Any, expect: dict, at: Any, sources: list[str], keep: Any,
            missing: object) -> list[tuple[Quantity, tuple[Any, ...], Any]]:
    found = []
    orders = _mapping(expect.get("orders", {}), "orders", at) or {2: {}}
    for order, wanted in orders.items():
        if isinstance(order, bool) or not isinstance(order, int) or order < 1:
            raise SpecError(f"expect: orders keys must be integers >= 1, got {order!r}",
                            expect_at(problem, "orders", order))
        check_order(order, expect_at(problem, "orders", order))
        wanted = _mapping(wanted, f"orders.{order}", expect_at(problem, "orders", order))
        for key in [k for k in wanted if keep(k)] or sources:
            found.append((Quantity("orders", f"orders.{order}.{key}", source=key,
                                   order=order), (order, key), wanted.get(key, missing)))
    return found


def _lower_orders(found: list[tuple[Quantity, tuple[Any, ...], Any]], missing: object
                  ) -> list[tuple[Quantity, tuple[Any, ...], Any]]:
    """Every order 1..N of a source whose order N is checked: a wrong order-2
    rule shows at order 2, not only through order 3.  Order 1 is `grad.KEY`
    when that is checked already, else `orders.1.KEY`."""
    keys = {q.key for q, _, _ in found}
    extra: list[tuple[Quantity, tuple[Any, ...], Any]] = []
    for q, _, _ in found:
        if q.kind != "orders":
            continue
        for order in range(1, q.order):
            key = f"orders.{order}.{q.source}"
            if key in keys or (order == 1 and f"grad.{q.source}" in keys):
                continue
            keys.add(key)
            extra.append((Quantity("orders", key, source=q.source, order=order),
                          (order, q.source), missing))
    if not extra:
        return found
    rest = [f for f in found if f[0].kind != "orders"]
    orders = sorted([f for f in found if f[0].kind == "orders"] + extra,
                    key=lambda f: f[0].order)
    at = next((i for i, f in enumerate(found) if f[0].kind == "orders"), len(rest))
    return rest[:at] + orders + rest[at:]
