"""Every shipped spec against its own expect: block, and the seed numbers
as the posts printed them (float32) under --dtype float32."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import gradcli
from gradcli.verify.expect import compare_expect

SPECS = sorted((Path(__file__).parent.parent / "specs").glob("*.yaml"))


def test_there_are_specs() -> None:
    assert len(SPECS) >= 8


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_spec_matches_its_expect_block_to_1e_12(path: Path) -> None:
    problem = gradcli.load(path)
    assert problem.spec.expect, f"{path.name} has no expect: block"
    results = compare_expect(problem, rtol=1e-12, atol=1e-13)
    assert results
    failed = [r for r in results if not r.passed]
    assert not failed, failed


SPEC_DIR = Path(__file__).parent.parent / "specs"

# (spec, quantity, kwargs for grad or None for evaluate, the digits the post printed)
FLOAT32_POSTS = [
    ("symbolic-gradient-sin-matmul", "a", {},
     [[0.540302277, -1.979985], [-0.416146845, 1.92034054]]),
    ("symbolic-gradient-sin-matmul", "b", {}, [[1.75076842], [-0.138295487]]),
    ("gradient-of-a-list-of-losses-sums", "xentropy", None, [0.6881597, 0.71584916]),
    ("gradient-of-a-list-of-losses-sums", "w", {},
     [[0.20586157, -0.20586154], [0.2607238, -0.26072377]]),
    ("gradient-of-mean-loss", "w", {}, [[0.10293078, -0.10293077], [0.1303619, -0.13036188]]),
    ("higher-derivatives-through-concat", "x", {"order": 1}, [[0.01973224]] * 4),
    ("higher-derivatives-through-concat", "t", {"order": 1}, [[0.00986612]] * 4),
    ("higher-derivatives-through-concat", "x", {"order": 2}, [[-0.07853862]] * 4),
    ("higher-derivatives-through-concat", "x", {"order": 3}, [[0.31104344]] * 4),
    ("partial-derivatives-of-a-network", "inp[0,0]", {}, [0.005358851049095392]),
    ("partial-derivatives-of-a-network", "inp[0,1]", {}, [-0.010795005597174168]),
    ("assign-gradient-wrt-patch", "patch", {}, [[1, 2], [1, 2]]),
]


@pytest.mark.parametrize("name,key,kwargs,printed", FLOAT32_POSTS,
                         ids=[f"{n}:{k}:{(a or {}).get('order', 0)}"
                              for n, k, a, _ in FLOAT32_POSTS])
def test_float32_agrees_with_the_posts_digits(name: str, key: str, kwargs: dict | None,
                                              printed: list) -> None:
    problem = gradcli.load(SPEC_DIR / f"{name}.yaml", dtype="float32")
    if kwargs is None:
        got = problem.evaluate()[key]
    else:
        got = problem.grad(wrt=[key], **kwargs)[key]
    assert got.dtype == np.float32
    # Near-cancelling entries (like -0.20586154 vs -0.20586157) differ between
    # float32 programs in the last digits; 1e-5 relative is float32 precision.
    np.testing.assert_allclose(got, np.asarray(printed, dtype=np.float64), rtol=1e-5, atol=1e-7)
