"""The static memory plan of a program, like XLA's buffer assignment: when a
program is planned, every intermediate an in-place forward can write (a row's
`Into`, engine/ops/row.py) gets a buffer from a small pool, reused as soon as
no live value needs it any more.  A run then writes into those buffers with
numpy's `out=` arguments, so a steady-state call allocates only its results
and its speed no longer depends on how malloc and the kernel treat freed
memory (glibc unmaps freed blocks above 128 KiB; the next op faults its
pages in again).

What the plan guarantees:
- inputs and constants are never written: only pool buffers are;
- views share memory with their operand: a step without an in-place form
  (reshape, transpose, broadcast_to, getitem, a row that may return its
  operand) is taken to alias every operand, so a buffer stays busy until the
  last reader of any value that may view it;
- results never live in the pool: a value that reaches an output, directly or
  through such views, is computed by the allocating forward (a fresh array of
  its own for every call), so the next call cannot overwrite what a caller holds;
- a step never writes a buffer one of its operands lives in, except an
  elementwise ufunc writing over an operand of the same layout that dies there
  (numpy reads each element before writing it).

The buffers belong to the program: `Pool` allocates them on the first run and
keeps them for the next when they are small enough (RETAIN_BYTES); a run that
finds them taken (another thread running the same program) gets its own.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from gradcli.engine.graph import Node, Shape
from gradcli.engine.ops import TABLE
from gradcli.engine.ops.row import Into, into_form

# Below one page numpy's allocations come from its own cache or malloc's
# small bins: no page faults, and out= plumbing would cost more than it saves.
MIN_BYTES = 4096
# A program keeps its buffers between calls up to this size; a larger one,
# such as a chunked Jacobian pass sized to a quarter of memory, allocates them
# per call (still reused within the call) and frees them when it returns.
# Kept buffers go with their program: a Problem remembers at most
# gradcli.api.PLANS (128) planned requests, least recently used dropped first.
RETAIN_BYTES = 32 << 20


@dataclass(frozen=True)
class Target:
    """Where one step writes: pool buffer `buffer` seen as `shape`/`dtype`,
    plus its kernel's scratch buffers (same shape and dtype)."""

    buffer: int
    shape: Shape
    dtype: str
    scratch: tuple[int, ...] = ()


@dataclass(frozen=True)
class MemoryPlan:
    sizes: tuple[int, ...]            # bytes of each pool buffer
    targets: Mapping[int, Target]     # position in the schedule -> where that step writes

    @property
    def nbytes(self) -> int:
        return sum(self.sizes)

    def views(self) -> tuple[np.ndarray, ...]:
        """Fresh buffers, seen as every target's result array then its scratch
        arrays, targets in schedule order (the order `compile_program` unpacks)."""
        buffers = [np.empty(size, dtype=np.uint8) for size in self.sizes]

        def view(b: int, t: Target) -> np.ndarray:
            dtype = np.dtype(t.dtype)
            count = int(np.prod(t.shape, dtype=np.int64))
            return buffers[b][: count * dtype.itemsize].view(dtype).reshape(t.shape)

        return tuple(v for _, t in sorted(self.targets.items())
                     for v in (view(t.buffer, t), *(view(s, t) for s in t.scratch)))

    def view_positions(self) -> dict[int, tuple[int, ...]]:
        """Schedule position -> indices in `views()` of its result and scratch."""
        found: dict[int, tuple[int, ...]] = {}
        k = 0
        for position, t in sorted(self.targets.items()):
            found[position] = tuple(range(k, k + 1 + len(t.scratch)))
            k += 1 + len(t.scratch)
        return found


def _nbytes(node: Node) -> int:
    return int(np.prod(node.shape, dtype=np.int64)) * np.dtype(node.dtype).itemsize


def in_place(node: Node) -> Into | None:
    """The node's in-place forward if the planner may use it: same bits as the
    allocating forward needs the operands in the result's dtype (no promotion
    a preallocated `out` would change), and only floats or comparisons of one
    dtype (integer and boolean sums promote)."""
    into = into_form(TABLE[node.op])
    if into is None or _nbytes(node) < MIN_BYTES:
        return None
    dtypes = {np.dtype(x.dtype) for x in node.inputs}
    out = np.dtype(node.dtype)
    if len(dtypes) > 1:
        return None
    if out.kind in "fc" and dtypes <= {out}:
        return into
    if out == np.bool_ and into.inplace and dtypes and next(iter(dtypes)).kind in "fc":
        return into  # a comparison ufunc: float operands, boolean result
    return None


def assign(order: Sequence[Node], outputs: Sequence[Node], last_use: Mapping[int, int],
           reuse: bool = True) -> MemoryPlan:
    """Buffers for `order` (a schedule), reused by liveness (greedy, best fit);
    `reuse=False` gives every target buffers of its own (a reference for tests)."""
    forms = {id(n): in_place(n) for n in order if n.op not in ("input", "const")}
    # Rows with an in-place form return fresh arrays from their allocating
    # forward too (ufuncs, matmul, reductions...): never a view of an operand.
    fresh = {id(n) for n in order
             if n.op not in ("input", "const") and into_form(TABLE[n.op]) is not None}
    escapes = _escaping(order, outputs, fresh)
    sizes: list[int] = []
    free: set[int] = set()
    release: dict[int, int] = {}       # buffer -> last position a value in it is read
    writer: dict[int, int] = {}        # buffer -> id of the node written into it last
    roots: dict[int, frozenset[int]] = {}
    targets: dict[int, Target] = {}

    def take(need: int) -> int:
        fits = [b for b in free if sizes[b] >= need]
        if fits:
            b = min(fits, key=lambda k: sizes[k])
        elif free:
            b = max(free, key=lambda k: sizes[k])
            sizes[b] = need
        else:
            sizes.append(need)
            b = len(sizes) - 1
        free.discard(b)
        return b

    for position, node in enumerate(order):
        into = forms.get(id(node))
        done_here: list[int] = []
        if into is not None and id(node) not in escapes:
            b = _reusable(node, into, position, roots, writer, release) if reuse else None
            if b is None:
                b = take(_nbytes(node))
            scratch = tuple(take(_nbytes(node)) for _ in range(into.scratch))
            done_here += scratch
            for s in scratch:
                release[s] = position
            targets[position] = Target(b, node.shape, node.dtype, scratch)
            roots[id(node)] = frozenset((b,))
            writer[b] = id(node)
            release[b] = last_use.get(id(node), position)
        else:
            # Without an in-place form a step may return (a view of) an operand.
            inherited = frozenset() if id(node) in escapes or id(node) in fresh else (
                frozenset().union(*(roots.get(id(x), frozenset()) for x in node.inputs)))
            roots[id(node)] = inherited
            for b in inherited:
                release[b] = max(release[b], last_use.get(id(node), position))
        for b, last in release.items():
            if last <= position and b not in free:
                done_here.append(b)
        if reuse:
            free.update(done_here)
    return MemoryPlan(tuple(sizes), targets)


def _escaping(order: Sequence[Node], outputs: Sequence[Node], fresh: set[int]) -> set[int]:
    """Nodes whose memory may reach a result: the outputs and, through steps
    that may return views of their operands, those operands."""
    escapes = {id(o) for o in outputs}
    for node in reversed(order):
        if id(node) in escapes and id(node) not in fresh:
            escapes.update(id(x) for x in node.inputs)
    return escapes


def _reusable(node: Node, into: Into, position: int, roots: Mapping[int, frozenset[int]],
              writer: Mapping[int, int], release: Mapping[int, int]) -> int | None:
    """A buffer an elementwise ufunc may overwrite while reading it: an
    operand's own buffer (not a view of it), same shape and dtype, whose
    values die at this step, and no other operand looking into it."""
    if not into.inplace:
        return None
    for x in node.inputs:
        held = roots.get(id(x), frozenset())
        if len(held) != 1 or x.shape != node.shape or x.dtype != node.dtype:
            continue
        (b,) = held
        if writer.get(b) != id(x) or release.get(b) != position:
            continue
        if all(y is x or b not in roots.get(id(y), frozenset()) for y in node.inputs):
            return b
    return None


class Pool:
    """A program's buffers at run time: `take()` gives the step views and
    whether they must be handed back with `give()`."""

    def __init__(self, plan: MemoryPlan, retain: bool | None = None) -> None:
        self.plan = plan
        self.retain = plan.nbytes <= RETAIN_BYTES if retain is None else retain
        self._lock = threading.Lock()
        self._views: tuple[np.ndarray, ...] | None = None

    def take(self) -> tuple[tuple[np.ndarray, ...], bool]:
        if not self._lock.acquire(blocking=False):
            return self.plan.views(), False  # in use by another thread: buffers of our own
        if self._views is None:
            try:
                self._views = self.plan.views()
            except BaseException:
                self._lock.release()
                raise
        return self._views, True

    def give(self) -> None:
        if not self.retain:
            self._views = None
        self._lock.release()

    @property
    def held_bytes(self) -> int:
        """Bytes kept between calls (0 before the first run or when not retained)."""
        return self.plan.nbytes if self._views is not None else 0
