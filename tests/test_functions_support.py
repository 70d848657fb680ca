"""Shared helpers of the catalogue tests (no tests here)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gradcli.engine.autodiff import grad
from gradcli.engine.evaluate import evaluate
from gradcli.engine.graph import Node, const, leaf
from gradcli.engine.ops import nodes as N
from gradcli.language.functions import CATALOGUE, Context

CTX = Context("float64")
CTX32 = Context("float32")


def build(name: str, *args: Any, ctx: Context = CTX, **kwargs: Any) -> Node:
    return CATALOGUE[name].build(ctx, *args, **kwargs)


def value(name: str, *args: Any, ctx: Context = CTX, **kwargs: Any) -> np.ndarray:
    """Evaluate a catalogue function on constant arguments (arrays become constants)."""
    args = tuple(const(a) if isinstance(a, np.ndarray) else a for a in args)
    return evaluate([build(name, *args, ctx=ctx, **kwargs)], {})[0]


def builder(name: str, **kwargs: Any):
    """A build(*nodes) for fdcheck: the nodes are the leading positional arguments."""
    return lambda *xs: build(name, *xs, **kwargs)


def gradients(fn, *arrays: np.ndarray, order: int = 1) -> list[np.ndarray]:
    """d(sum fn)/d(each array) (order 2: the gradient of the sum of the gradient)."""
    xs = [leaf(f"x{i}", a.shape, str(a.dtype)) for i, a in enumerate(arrays)]
    outs: Sequence[Node] = [fn(*xs)]
    for _ in range(order):
        gs = grad(outs, xs)
        outs = [g if g is not None else N.zeros_like(x) for g, x in zip(gs, xs)]
    return evaluate(outs, {f"x{i}": a for i, a in enumerate(arrays)})


def rand(shape: tuple[int, ...], seed: int = 0, low: float = -2.0, high: float = 2.0
         ) -> np.ndarray:
    return np.random.default_rng(seed).uniform(low, high, shape)
