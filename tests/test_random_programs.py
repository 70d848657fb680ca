"""Properties of random programs: let sources are zero perturbations, component
sources are components, Jacobians agree in every mode, Hessians are
symmetric Jacobians of the gradient, rewrites change nothing, and gradients
agree with finite differences (tests/propcheck.py lists them, tests/randprog.py
draws the programs).

GRADCLI_PROGRAMS seeded programs (default 1000) are drawn once and each is
checked for every property, in GRADCLI_WORKERS processes (default: one per
CPU); each property is then one test, which reports how many programs fail it
and prints the smallest failing ones as YAML, with the command that shows the
wrong derivative.  `python tests/shrink.py SEED TAG` shrinks a failing
program; tests/data/random_program_failures.yaml keeps the minimal programs
found so far as regression cases.

A hypothesis test draws GRADCLI_HYPOTHESIS_PROGRAMS more programs through the
same generator (default 20; GRADCLI_SHRINK=1 lets hypothesis shrink a failure).
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, Phase, assume, configuration, given, settings
from hypothesis import strategies as st
from propcheck import Outcome, check, run_seed
from randprog import Drawn, program, to_yaml

configuration.set_hypothesis_home_dir(tempfile.mkdtemp(prefix="gradcli-hypothesis-"))
COUNT = int(os.environ.get("GRADCLI_PROGRAMS", "1000"))
WORKERS = int(os.environ.get("GRADCLI_WORKERS", str(os.cpu_count() or 1)))
HYPOTHESIS_COUNT = int(os.environ.get("GRADCLI_HYPOTHESIS_PROGRAMS", "20"))
SHRINK = os.environ.get("GRADCLI_SHRINK", "") not in ("", "0")
CORPUS = Path(__file__).parent / "data" / "random_program_failures.yaml"

PROPERTIES = {
    "a0": "adding a zero input at every let changes no value",
    "a1": "grad wrt a let == grad wrt a zero input added there (all sources in one call)",
    "a1s": "the same, the let alone in wrt",
    "a2": "the same for grad(order=2)",
    "b": "a component source == that component of the full gradient",
    "b-none": "a component source is None exactly when its whole source is unconnected",
    "c-fwd": "jacobian(mode='fwd') == jacobian(mode='rev')",
    "c-vjp": "jacobian rows == grad with cotangent e_k",
    "d-sym": "hessian blocks symmetric: H[i][j] == H[j][i] transposed",
    "d-fd": "hessian == central differences of the gradient",
    "e": "load(spec) == load(spec, rules=NO_RULES): values, gradients, Hessian",
    "f": "grad . v == central differences of the forward program along v",
    "f-ref": "the same for the zero-perturbation program's gradients (inputs only)",
    "raised": "no property check raises",
}


@pytest.fixture(scope="module")
def outcomes() -> list[Outcome]:
    seeds = range(COUNT)
    if WORKERS <= 1:
        return [run_seed(s) for s in seeds]
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with ProcessPoolExecutor(WORKERS, mp_context=context) as pool:
        return list(pool.map(run_seed, seeds, chunksize=4))


def test_programs_are_rarely_rejected(outcomes: list[Outcome]) -> None:
    rejected = [o for o in outcomes if o.rejected]
    reasons = Counter(o.rejected.split(":")[0] for o in rejected)
    assert len(rejected) <= 0.02 * len(outcomes), (len(rejected), reasons)


@pytest.mark.parametrize("prop", list(PROPERTIES))
def test_property(outcomes: list[Outcome], prop: str) -> None:
    if prop == "e":
        pytest.importorskip("gradcli.engine.rules")
    checked = [o for o in outcomes if not o.rejected]
    failing = [o for o in checked if any(f.prop == prop for f in o.failures)]
    if failing:
        pytest.fail(report(prop, failing, len(checked)), pytrace=False)


def report(prop: str, failing: list[Outcome], total: int, shown: int = 2) -> str:
    """How many programs fail `prop`, by kind of source, and the smallest as YAML."""
    kinds = Counter(f.kind for o in failing for f in {f.kind: f for f in o.failures
                                                       if f.prop == prop}.values())
    lines = [f"property {prop} ({PROPERTIES[prop]}) failed in {len(failing)} of {total} "
             f"programs (sources: {dict(kinds)}); seeds {[o.seed for o in failing[:20]]}"]
    for o in sorted(failing, key=lambda o: len(to_yaml(o.spec)))[:shown]:
        lines.append(describe(o, prop))
    return "\n".join(lines)


def describe(o: Outcome, prop: str | None = None) -> str:
    fails = [f for f in o.failures if prop is None or f.prop == prop]
    where = f"seed {o.seed}" if o.seed >= 0 else "program"
    lines = [f"\n--- {where}: {len(fails)} failure(s); the program as YAML:",
             to_yaml(o.spec).rstrip()]
    for f in fails[:3]:
        lines.append(f"  {f.prop} [{f.kind}] at {f.source}: {f.message.rstrip()}")
    source = next((f.source for f in fails if f.kind in ("input", "let")), None)
    if source is not None:
        again = o.seed if o.seed >= 0 else "spec.yaml"
        lines.append(f"  reproduce: save the YAML as spec.yaml; gradcli grad spec.yaml "
                     f"--wrt '{source.split(' ')[0]}'; shrink: python tests/shrink.py {again} "
                     f"{fails[0].tag}")
    return "\n".join(lines)


# ---- the minimal failing programs found so far -------------------------------------------

def _corpus() -> list[dict]:
    if not CORPUS.exists():
        return []
    return yaml.safe_load(CORPUS.read_text()) or []


@pytest.mark.parametrize("case", _corpus(), ids=lambda case: case["name"])
def test_regression_corpus(case: dict) -> None:
    spec = case["spec"]
    spec.setdefault("let", {})
    outcome = check(spec, seed=case.get("seed", 0))
    assert not outcome.rejected, outcome.rejected
    if outcome.failures:
        pytest.fail(f"{case['name']}: {case['bug']}\n" + describe(outcome), pytrace=False)


# ---- the same properties on programs drawn by hypothesis ---------------------------------

@st.composite
def programs(draw: st.DrawFn) -> dict:
    return program(Drawn(draw))


PHASES = [Phase.explicit, Phase.generate] + ([Phase.shrink] if SHRINK else [])


@settings(max_examples=HYPOTHESIS_COUNT, derandomize=True, database=None, deadline=None,
          phases=PHASES, suppress_health_check=list(HealthCheck))
@given(programs())
def test_hypothesis_programs(spec: dict) -> None:
    outcome = check(spec)
    assume(not outcome.rejected)
    if outcome.failures:
        raise AssertionError(describe(outcome))
