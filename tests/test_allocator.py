"""The allocator tuning changes the whole process, so the library never
applies it by itself: the CLI does at its entry point, and API users opt in
with `gradcli.tune_allocator()`; GRADCLI_MALLOC_TUNING=0 switches it off."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

LIBRARY = """
import gradcli
p = gradcli.load({"inputs": {"x": {"value": 0.5, "shape": %s}}, "outputs": {"y": "sum(x * x)"}})
p.grad()
from gradcli.engine.allocator import tune_allocator
planned = tune_allocator.cache_info().currsize
print(planned, tune_allocator() if planned else "-")
"""

OPT_IN = """
import gradcli
print(gradcli.tune_allocator(), gradcli.tune_allocator())
"""

CLI = """
import sys
from gradcli.cli.group import main
try:
    main(["eval", "-e", "x * 2", "--set", "x=1.0", "--format", "json"])
except SystemExit:
    pass
from gradcli.engine.allocator import tune_allocator
print(tune_allocator.cache_info().currsize, file=sys.stderr)
"""


def _run(code: str, **env: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **env})
    assert done.returncode == 0, done.stderr
    return (done.stdout + done.stderr).strip()


@pytest.mark.parametrize("shape", ["[3]", "[200, 200]"])
def test_the_library_leaves_the_allocator_alone(shape: str) -> None:
    assert _run(LIBRARY % shape) == "0 -"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt")
def test_api_users_opt_in_once() -> None:
    assert _run(OPT_IN) == "True True"


def test_the_cli_entry_point_applies_it() -> None:
    assert _run(CLI).splitlines()[-1] == "1"


def test_it_can_be_switched_off() -> None:
    assert _run(OPT_IN, GRADCLI_MALLOC_TUNING="0") == "False False"
