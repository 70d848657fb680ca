"""The static memory plan (gradcli/engine/memory.py): intermediates live in a
small pool of buffers reused by liveness, a warm call allocates only its
results (measured with tracemalloc), and reuse changes no bit of any result.
Inputs are never written, results never alias the pool, views keep their
base buffer busy, and concurrent calls of one program do not share buffers."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from randprog import Seeded, program
from workbound import peak_bytes

import gradcli
from gradcli.engine import memory
from gradcli.engine.evaluate import plan
from gradcli.engine.finite import Watch
from gradcli.engine.graph import leaf
from gradcli.engine.ops import nodes as N

SHAPE = (1000, 64)  # 512 KB an array: glibc would mmap it without the plan
NBYTES = 1000 * 64 * 8


def _mlp_hessians() -> gradcli.api.Problem:
    rng = np.random.default_rng(0)
    return gradcli.load({"inputs": {
        "P": rng.uniform(-1, 1, size=(1000, 2)).tolist(),
        "W1": rng.normal(size=(2, 64)).tolist(), "b1": np.zeros(64).tolist(),
        "W2": (rng.normal(size=(64, 64)) / 8).tolist(), "b2": np.zeros(64).tolist(),
        "W3": (rng.normal(size=(64, 1)) / 8).tolist()},
        "outputs": {"u": "tanh(tanh(P @ W1 + b1) @ W2 + b2) @ W3"}, "wrt": ["P"]})


def _chain() -> tuple[list, dict[str, np.ndarray]]:
    """Twelve elementwise steps on (1000, 64), two views of an intermediate
    read after later steps, one output."""
    x = leaf("x", SHAPE, "float64")
    y = leaf("y", SHAPE, "float64")
    a = N.unary("tanh", x)
    b = N.mul(a, y)
    view = N.transpose(b, (1, 0))          # a view of b's buffer, read at the end
    c = N.unary("exp", N.neg(a))
    d = N.add(N.mul(c, c), N.unary("sech2", y))
    e = N.mul(N.add(d, x), N.unary("sin", d))
    out = N.add(N.transpose(N.mul(e, N.unary("cos", e)), (1, 0)), view)
    rng = np.random.default_rng(1)
    return [out], {"x": rng.normal(size=SHAPE), "y": rng.normal(size=SHAPE)}


def test_a_warm_call_allocates_its_results_only() -> None:
    outputs, values = _chain()
    program = plan(outputs)
    assert program.pool is not None
    # Liveness reuse: twelve (1000, 64) intermediates (plus sech2's scratch)
    # fit in a few buffers.
    assert program.pool_bytes <= 4 * NBYTES
    first = peak_bytes(lambda: program.run(values))
    second = peak_bytes(lambda: program.run(values))
    # The first call allocates the pool; the second only its one result
    # (plus Python objects: views, small ints), far below one intermediate.
    assert first >= program.pool_bytes
    assert second < NBYTES + NBYTES // 4, second
    unplanned = plan(outputs, reuse=False)
    assert unplanned.pool_bytes >= 10 * NBYTES


def test_per_point_hessians_allocate_no_intermediate_when_warm() -> None:
    problem = _mlp_hessians()
    problem.hessian(batch_axis=0)
    peak = peak_bytes(lambda: problem.hessian(batch_axis=0))
    # The (2, 1000, 64) tangent stacks are 1 MB each and the program has ~25
    # intermediates of 0.5-1 MB; the result is (1000, 2, 2) doubles (32 KB),
    # and the result's stack before reshaping (2000, 2) another 32 KB.
    assert peak < NBYTES // 2, peak


def test_reuse_changes_no_bit_and_the_checked_path_agrees() -> None:
    outputs, values = _chain()
    reused, alone = plan(outputs), plan(outputs, reuse=False)
    a = reused.run(values)[0]
    b = alone.run(values)[0]
    checked = reused.run(values, watch=Watch())[0]
    assert np.array_equal(a, b) and np.array_equal(a, checked)
    # and the value is the graph's (numpy's own evaluation, to rounding)
    x, y = values["x"], values["y"]
    t = np.tanh(x)
    c = np.exp(-t)
    d = c * c + 1 / np.cosh(y) ** 2
    e = (d + x) * np.sin(d)
    np.testing.assert_allclose(a, (e * np.cos(e)).T + (t * y).T, rtol=1e-12, atol=1e-14)


def test_inputs_are_never_written_and_results_never_reused() -> None:
    outputs, values = _chain()
    program = plan(outputs)
    kept = {k: v.copy() for k, v in values.items()}
    first = program.run(values)[0]
    snapshot = first.copy()
    other = {k: v * 0.5 for k, v in values.items()}
    second = program.run(other)[0]
    assert all(np.array_equal(values[k], kept[k]) for k in values)
    assert np.array_equal(first, snapshot)
    assert not np.shares_memory(first, second)


def test_a_view_keeps_its_base_buffer_busy() -> None:
    # b is read through a transpose after eight more steps: were its buffer
    # freed when b itself was last read, a later step would overwrite it.
    outputs, values = _chain()
    program = plan(outputs)
    expected = plan(outputs, reuse=False).run(values)[0]
    for _ in range(2):
        assert np.array_equal(program.run(values)[0], expected)


def test_concurrent_calls_get_their_own_buffers() -> None:
    outputs, values = _chain()
    program = plan(outputs)
    inputs = [{k: v * (1 + i / 8) for k, v in values.items()} for i in range(4)]
    expected = [plan(outputs, reuse=False).run(v)[0] for v in inputs]
    failures: list[int] = []

    def work(i: int) -> None:
        for _ in range(5):
            if not np.array_equal(program.run(inputs[i])[0], expected[i]):
                failures.append(i)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures


def test_large_pools_are_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "RETAIN_BYTES", NBYTES)
    outputs, values = _chain()
    program = plan(outputs)
    program.run(values)
    assert program.pool is not None and program.pool.held_bytes == 0
    direct = plan([N.mul(leaf("x", SHAPE, "float64"), leaf("y", SHAPE, "float64"))])
    assert direct.pool is None  # no intermediate: no pool, the plain compiled function


@pytest.mark.parametrize("seed", range(40))
def test_random_programs_are_bit_identical_with_and_without_reuse(
        seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every intermediate of the random property programs (tiny shapes)
    goes through the pool here, so layouts, views and reductions of all
    kinds meet the reuse; results must not change by a single bit."""
    monkeypatch.setattr(memory, "MIN_BYTES", 0)
    spec = program(Seeded(seed))
    results = []
    original = memory.assign

    def alone(*args: object, **kwargs: object) -> memory.MemoryPlan:
        return original(*args[:3], reuse=False)  # type: ignore[arg-type]

    for reuse in (True, False):
        with monkeypatch.context() as m:
            if not reuse:
                m.setattr("gradcli.engine.evaluate.assign", alone)
            try:
                problem = gradcli.load(spec)
                results.append((problem.evaluate(), problem.grad(), problem.hessian()))
            except gradcli.errors.GradcliError:
                pytest.skip("not a valid program")
    assert _same(results[0], results[1])


def _same(a: object, b: object) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, tuple):
        return isinstance(b, tuple) and len(a) == len(b) and all(map(_same, a, b))
    if a is None or b is None:
        return a is b
    return np.array_equal(a, b, equal_nan=True) and np.asarray(a).dtype == np.asarray(b).dtype
