"""Central finite-difference checks of first and second derivatives, shared
by the op tests.  Every check compares the engine's derivative *graph* with
differences of values in float64, along random directions (u·J·v and
w·H·v), so a wrong rule anywhere in a Jacobian or Hessian shows up."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from gradcli.engine.autodiff import jvp, vjp
from gradcli.engine.evaluate import evaluate
from gradcli.engine.graph import Node, leaf
from gradcli.engine.ops import nodes as N

Builder = Callable[..., Node]


def _leaves(arrays: Sequence[np.ndarray]) -> list[Node]:
    return [leaf(f"x{i}", a.shape, str(a.dtype)) for i, a in enumerate(arrays)]


def _values(arrays: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    return {f"x{i}": np.asarray(a) for i, a in enumerate(arrays)}


def _dot(a: Sequence[np.ndarray | None], b: Sequence[np.ndarray]) -> float:
    return float(sum(np.sum(x * y) for x, y in zip(a, b) if x is not None))


def _fd(fn: Callable[[list[np.ndarray]], float], arrays: list[np.ndarray],
        direction: list[np.ndarray], h: float) -> float:
    # integer operands (indices) are never differentiated: keep them integers
    plus = [a + h * d if a.dtype.kind == "f" else a for a, d in zip(arrays, direction)]
    minus = [a - h * d if a.dtype.kind == "f" else a for a, d in zip(arrays, direction)]
    return (fn(plus) - fn(minus)) / (2 * h)


def check_derivatives(build: Builder, *arrays: np.ndarray, wrt: Sequence[int] | None = None,
                      seed: int = 0, h: float = 1e-5, rtol: float = 1e-6,
                      atol: float = 1e-8, order: int = 2) -> None:
    """Assert vjp, jvp and (order 2) vjp-of-vjp of `build` against central differences.

    `wrt` lists the positions of the differentiable arguments (default: all
    float arrays); the others are held fixed.
    """
    rng = np.random.default_rng(seed)
    arrays = [np.asarray(a) for a in arrays]
    xs = _leaves(arrays)
    out = build(*xs)
    wrt = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"] if wrt is None else list(wrt)
    values = _values(arrays)
    y = evaluate([out], values)[0]
    u = rng.standard_normal(y.shape)
    dirs = [rng.standard_normal(a.shape) if i in wrt else np.zeros(a.shape)
            for i, a in enumerate(arrays)]

    def value_dot_u(point: list[np.ndarray]) -> float:
        return float(np.sum(u * evaluate([out], _values(point))[0]))

    # first order, reverse: u · J v
    cot = vjp([out], [leaf("u", y.shape, str(y.dtype))], [xs[i] for i in wrt])
    numeric = _fd(value_dot_u, arrays, dirs, h)
    got = evaluate([c if c is not None else N.zeros_like(xs[i]) for c, i in zip(cot, wrt)],
                   {**values, "u": u})
    engine = _dot(got, [dirs[i] for i in wrt])
    _close(engine, numeric, rtol, atol, "vjp")

    # first order, forward: u · (J v)
    tangent_leaves = {id(xs[i]): leaf(f"t{i}", arrays[i].shape, "float64") for i in wrt}
    (tan,) = jvp([out], tangent_leaves)
    tan_value = np.zeros(y.shape) if tan is None else evaluate(
        [tan], {**values, **{f"t{i}": dirs[i] for i in wrt}})[0]
    _close(float(np.sum(u * tan_value)), numeric, rtol, atol, "jvp")
    if order < 2:
        return

    # second order: w · H v with H the Hessian of s = u · f, via vjp of the vjp graph
    s = N.reduce_sum(N.mul(out, _const(u)), tuple(range(out.ndim)))
    first = vjp([s], [N.ones_like(s)], [xs[i] for i in wrt])
    first = [f if f is not None else N.zeros_like(xs[i]) for f, i in zip(first, wrt)]
    w = [rng.standard_normal(arrays[i].shape) for i in wrt]
    inner = N.reduce_sum(N.mul(first[0], _const(w[0])), tuple(range(first[0].ndim)))
    for f, wi in zip(first[1:], w[1:]):
        inner = N.add(inner, N.reduce_sum(N.mul(f, _const(wi)), tuple(range(f.ndim))))
    second = vjp([inner], [N.ones_like(inner)], [xs[i] for i in wrt])
    second = [c if c is not None else N.zeros_like(xs[i]) for c, i in zip(second, wrt)]
    engine2 = _dot(evaluate(second, values), [dirs[i] for i in wrt])

    def grad_dot_w(point: list[np.ndarray]) -> float:
        return _dot(evaluate(first, _values(point)), w)

    _close(engine2, _fd(grad_dot_w, arrays, dirs, h), rtol, atol, "vjp of vjp")


def _const(value: np.ndarray) -> Node:
    from gradcli.engine.graph import const

    return const(np.asarray(value, dtype="float64"))


def _close(engine: float, numeric: float, rtol: float, atol: float, what: str) -> None:
    assert np.isfinite(engine), f"{what}: engine gave {engine}"
    assert abs(engine - numeric) <= atol + rtol * max(abs(numeric), abs(engine)), (
        f"{what}: engine {engine!r} vs finite differences {numeric!r}")


def check_batching(build: Builder, *arrays: np.ndarray, batched: Sequence[bool],
                   size: int = 3, seed: int = 1) -> None:
    """Assert the batching rule of the op at the graph's root: applying it to
    stacked operands equals applying the op to each slice."""
    from gradcli.engine.ops import TABLE

    rng = np.random.default_rng(seed)
    stacks = [rng.standard_normal((size,) + np.shape(a)) if b else np.asarray(a)
              for a, b in zip(arrays, batched)]
    if any(np.asarray(a).dtype.kind != "f" for a in arrays):
        # integer operands (indices) vary along the batch too, with values kept valid
        stacks = [np.stack([np.roll(a, k) for k in range(size)])
                  if b and np.asarray(a).dtype.kind != "f" else s
                  for a, s, b in zip(arrays, stacks, batched)]
    xs = _leaves([np.asarray(a) for a in arrays])
    out = build(*xs)
    blanks = [leaf(f"x{i}", s.shape, str(s.dtype)) for i, s in enumerate(stacks)]
    mapping = {id(x): b for x, b in zip(xs, blanks)}
    inputs = tuple(mapping.get(id(i), i) for i in out.inputs)
    flags = tuple(id(i) in mapping and batched[xs.index(i)] for i in out.inputs)
    batched_out = TABLE[out.op].batch(inputs, flags, out.attrs)
    got = evaluate([batched_out], _values(stacks))[0]
    for k in range(size):
        one = [s[k] if b else s for s, b in zip(stacks, batched)]
        expected = evaluate([out], _values(one))[0]
        np.testing.assert_allclose(got[k], expected, rtol=1e-12, atol=1e-12)


def directional_fd(problem, grads: dict[str, np.ndarray], h: float = 1e-6,
                   seed: int = 0) -> tuple[float, float]:
    """(engine, central difference) of the sum of a Problem's outputs along a
    random direction in the sources of `grads` (a {source: gradient} dict)."""
    rng = np.random.default_rng(seed)
    direction = {k: rng.standard_normal(problem.values[k].shape) for k in grads}
    engine = sum(float(np.sum(grads[k] * d)) for k, d in direction.items())

    def at(sign: float) -> float:
        moved = {k: problem.values[k] + sign * h * d for k, d in direction.items()}
        return float(sum(np.sum(v) for v in problem.evaluate(values=moved).values()))

    return engine, (at(1) - at(-1)) / (2 * h)
