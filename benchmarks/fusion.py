"""python -m benchmarks.fusion

How to run chains of elementwise ops, measured on the shapes of workload (e)
(1000 points × 64 units, tangent stacks of 2): numpy allocating a temporary
per op (gradcli before the memory plan), numpy writing each op into buffers
planned in advance (`out=`, what gradcli does now), and numexpr (one
multithreaded pass in cache-sized blocks, no temporaries) when installed.
Also the costs behind sech2: exp, tanh and cosh per element, the in-place
sech2 kernel, and a sech2 that reuses tanh's value where that is exact (the
tails need their own exp, on a masked subset).  Each figure is the best of
many repeats (least disturbed by other work on the machine)."""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable

import numpy as np

from gradcli.engine.ops.elementwise import _sech2, _sech2_into

N, H = 1000, 64


def best_us(call: Callable[[], object], repeats: int = 30, number: int = 20) -> float:
    call()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            call()
        best = min(best, (time.perf_counter() - start) / number)
    return best * 1e6


def chains() -> dict[str, float]:
    """The tangent update of (e)'s second layer: out = c + d * (-2 s * t * a),
    s, t, a of (N, H), c, d of (2, N, H): five elementwise ops."""
    rng = np.random.default_rng(0)
    s, t, a = (rng.normal(size=(N, H)) for _ in range(3))
    c, d = (rng.normal(size=(2, N, H)) for _ in range(2))
    small = [np.empty((N, H)) for _ in range(2)]
    big = np.empty((2, N, H))

    def allocating() -> np.ndarray:
        return c + d * ((-2.0 * s) * t * a)

    def planned() -> np.ndarray:
        np.multiply(s, -2.0, out=small[0])
        np.multiply(small[0], t, out=small[1])
        np.multiply(small[1], a, out=small[0])
        np.multiply(d, small[0], out=big)
        np.add(c, big, out=big)
        return big

    out = {"numpy, a temporary per op": best_us(allocating),
           "numpy, out= into planned buffers": best_us(planned)}
    assert np.array_equal(allocating(), planned())
    if importlib.util.find_spec("numexpr"):
        import numexpr

        def fused() -> np.ndarray:
            return numexpr.evaluate("c + d * (-2.0 * s * t * a)", out=big,
                                    local_dict={"a": a, "s": s, "t": t, "c": c, "d": d})

        for threads in sorted({1, numexpr.detect_number_of_cores()}):
            numexpr.set_num_threads(threads)
            out[f"numexpr, one pass, {threads} thread(s)"] = best_us(fused)
        out["numexpr result bit-identical to numpy"] = float(
            np.array_equal(np.asarray(fused()), allocating()))
    return out


def sech2_costs() -> dict[str, float]:
    """ns an element over (N, H) of normal values."""
    x = np.random.default_rng(1).normal(size=(N, H))
    o, d = np.empty_like(x), np.empty_like(x)
    t = np.tanh(x)
    tail = np.abs(t) > 2 / 3  # where (1 - t)(1 + t) would lose more than 2 ulps

    def reuse() -> None:  # exact where tanh is far from ±1, exp only on the tails
        np.subtract(1, t, out=o)
        np.add(1, t, out=d)
        np.multiply(o, d, out=o)
        np.abs(x, out=d, where=tail)
        np.multiply(d, -2, out=d, where=tail)
        np.exp(d, out=d, where=tail)
        np.copyto(o, 4 * d / (1 + d) ** 2, where=tail)

    per = 1e3 / x.size
    return {"np.exp": best_us(lambda: np.exp(x, out=o)) * per,
            "np.tanh": best_us(lambda: np.tanh(x, out=o)) * per,
            "np.cosh": best_us(lambda: np.cosh(x, out=o)) * per,
            "1/cosh(x)**2, allocating": best_us(lambda: 1 / np.cosh(x) ** 2) * per,
            "sech2 kernel, allocating": best_us(lambda: _sech2(x)) * per,
            "sech2 kernel, in planned buffers": best_us(
                lambda: _sech2_into(o, x, scratch=(d,))) * per,
            f"reusing tanh ({tail.mean():.0%} tails by masked exp)": best_us(reuse) * per,
            "np.exp on those tails only (masked)": best_us(
                lambda: np.exp(x, out=o, where=tail)) * per}


def main() -> None:
    print("elementwise chain of (e), microseconds a call (best of repeats):")
    for name, value in chains().items():
        print(f"  {name:45s} {value:9.1f}")
    print("sech2 and its parts, nanoseconds an element:")
    for name, value in sech2_costs().items():
        print(f"  {name:45s} {value:9.2f}")


if __name__ == "__main__":
    main()
