"""The allocator tuning: applied once for large programs, never for tiny
ones, and switchable off."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CODE = """
import gradcli
p = gradcli.load({"inputs": {"x": {"value": 0.5, "shape": %s}}, "outputs": {"y": "sum(x * x)"}})
p.grad()
from gradcli.engine.allocator import tune_allocator
planned = tune_allocator.cache_info().currsize
print(planned, tune_allocator() if planned else "-")
"""


def _run(shape: str, **env: str) -> str:
    done = subprocess.run([sys.executable, "-c", CODE % shape], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **env})
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_tiny_programs_leave_the_allocator_alone() -> None:
    assert _run("[3]") == "0 -"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt")
def test_large_programs_tune_it_once() -> None:
    assert _run("[200, 200]") == "1 True"
    from gradcli.engine.allocator import tune_allocator

    assert tune_allocator() in (True, False)  # idempotent, never raises


def test_it_can_be_switched_off() -> None:
    assert _run("[200, 200]", GRADCLI_MALLOC_TUNING="0") == "1 False"
