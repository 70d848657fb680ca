"""The allocator tuning: planned once for programs with a large node, never
for tiny ones, switchable off, and visible in glibc's malloc.

The decision (which programs tune) is tested as logic with tune_allocator
stubbed out; the tuning itself only in subprocesses, so this process's
malloc is never touched by these tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import gradcli.engine.evaluate
from gradcli.engine.allocator import LARGE
from gradcli.engine.graph import leaf
from gradcli.engine.ops import nodes as N

# Plans a program of sum(x * x) with x of the given shape, then reports how
# often tune_allocator ran (its cache), what it returned, and whether a
# 24 MiB array is still mmapped by glibc: by default anything above 128 KiB
# is, after tuning nothing below 32 MiB is.
CODE = """
import ctypes, json
import numpy as np
import gradcli
from gradcli.engine.allocator import tune_allocator

p = gradcli.load({"inputs": {"x": {"value": 0.5, "shape": %s}}, "outputs": {"y": "sum(x * x)"}})
p.grad()
info = tune_allocator.cache_info()
tuned = tune_allocator() if info.currsize else None
again = tune_allocator() if info.currsize else None
mmapped = None
libc = ctypes.CDLL(None)
if hasattr(libc, "mallinfo2"):
    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks",
                    "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
    libc.mallinfo2.restype = MallInfo2
    before = libc.mallinfo2().hblks
    block = np.ones(3 << 20)
    mmapped = libc.mallinfo2().hblks - before
print(json.dumps({"planned": info.currsize, "misses": tune_allocator.cache_info().misses,
                  "tuned": tuned, "again": again, "mmapped": mmapped}))
"""
GLIBC = sys.platform.startswith("linux")


def _run(shape: str, **env: str) -> dict:
    done = subprocess.run([sys.executable, "-c", CODE % shape], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **env})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("shape,tunes", [((LARGE - 1,), False), ((LARGE,), True),
                                         ((2, LARGE // 2), True), ((3, 5), False)])
def test_plan_tunes_when_a_node_is_large(monkeypatch: pytest.MonkeyPatch,
                                         shape: tuple[int, ...], tunes: bool) -> None:
    calls: list[None] = []
    monkeypatch.setattr(gradcli.engine.evaluate, "tune_allocator", lambda: calls.append(None))
    x = leaf("x", shape, "float64")
    gradcli.engine.evaluate.plan([N.reduce_sum(N.unary("sin", x), tuple(range(len(shape))))])
    assert len(calls) == int(tunes)


def test_a_large_intermediate_of_small_inputs_tunes(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[None] = []
    monkeypatch.setattr(gradcli.engine.evaluate, "tune_allocator", lambda: calls.append(None))
    side = int(LARGE**0.5)  # an outer product of side x side elements
    u, v = leaf("u", (side, 1), "float64"), leaf("v", (1, side), "float64")
    gradcli.engine.evaluate.plan([N.reduce_sum(N.mul(u, v), (0, 1))])
    assert len(calls) == 1


def test_tiny_programs_leave_the_allocator_alone() -> None:
    got = _run("[3]")
    assert got["planned"] == 0 and got["tuned"] is None
    if GLIBC and got["mmapped"] is not None:
        assert got["mmapped"] == 1  # glibc's default: a large block is mmapped


@pytest.mark.skipif(not GLIBC, reason="glibc mallopt")
def test_large_programs_tune_it_once() -> None:
    got = _run("[200, 200]")
    assert got["planned"] == 1 and got["tuned"] is True
    assert got["again"] is True and got["misses"] == 1  # cached: mallopt ran once
    if got["mmapped"] is not None:
        assert got["mmapped"] == 0  # now kept in the heap


def test_it_can_be_switched_off() -> None:
    got = _run("[200, 200]", GRADCLI_MALLOC_TUNING="0")
    assert got["planned"] == 1 and got["tuned"] is False
    if GLIBC and got["mmapped"] is not None:
        assert got["mmapped"] == 1
