"""Accuracy cases of the reductions and the softmax family: ops of a vector
(three numbers per point), with closed forms of their Jacobians and second
derivatives written without cancellation at 50 digits."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from mpmath import mp

from gradcli.verify.accuracy.case import Case, Mp
from gradcli.verify.accuracy.points import (
    Range,
    magnitudes,
    same_scale_vectors,
    scaled_vectors,
    spread_logits,
)

N = 3  # entries per vector


def _vector(op: str, outputs: Sequence[str], points: Callable[[Range], np.ndarray],
            value: Callable, jac: Callable, second: Callable, where: str = "",
            inputs: tuple[tuple[str, tuple[int, ...]], ...] = (("x", (N,)),),
            fixed: tuple[tuple[str, str, int], ...] = (),
            loose: Callable[[np.ndarray], np.ndarray] | None = None) -> Case:
    return Case(op, inputs, tuple(outputs), points, value, jac, second, where, None, fixed,
                loose)


def near_tie(points: np.ndarray) -> np.ndarray:
    """Logit rows whose two largest entries are within 1e-2 of each other."""
    top = np.sort(points, axis=1)
    return top[:, -1] - top[:, -2] < 1e-2


def dominated(points: np.ndarray) -> np.ndarray:
    """Vectors with an entry 100 times larger than each of the others."""
    size = np.sort(np.abs(points), axis=1)
    return size[:, -1] >= 100 * size[:, -2]


def softmax(x: Sequence[Mp]) -> list[Mp]:
    m = max(x)
    e = [mp.exp(v - m) for v in x]
    total = mp.fsum(e)
    return [v / total for v in e]


def complement(x: Sequence[Mp]) -> list[Mp]:
    """1 - softmax(x)_i, as the sum of the other probabilities (no cancellation)."""
    p = softmax(x)
    return [mp.fsum(p[j] for j in range(len(x)) if j != i) for i in range(len(x))]


def lse(x: Sequence[Mp]) -> Mp:
    m = max(x)
    return m + mp.log(mp.fsum(mp.exp(v - m) for v in x))


def log_softmax(x: Sequence[Mp]) -> list[Mp]:
    """x_i - lse(x) = -log1p(sum over j != i of exp(x_j - x_i)): no cancellation."""
    return [-mp.log1p(mp.fsum(mp.exp(x[j] - x[i]) for j in range(len(x)) if j != i))
            for i in range(len(x))]


def lse_hessian(x: Sequence[Mp]) -> list[list[Mp]]:
    """diag(s) - s s^T, the diagonal as s_i (1 - s_i) from the complement."""
    p, q = softmax(x), complement(x)
    n = len(x)
    return [[p[i] * q[i] if i == j else -p[i] * p[j] for j in range(n)] for i in range(n)]


def log_softmax_jacobian(x: Sequence[Mp]) -> list[list[Mp]]:
    p, q = softmax(x), complement(x)
    n = len(x)
    return [[q[i] if i == j else -p[j] for j in range(n)] for i in range(n)]


def softmax_second(x: Sequence[Mp]) -> list[list[list[Mp]]]:
    """d2 s_i / dx_j dx_k = s_i (d_ij - s_j)(d_ik - s_k) - s_i s_j (d_jk - s_k)."""
    p, q = softmax(x), complement(x)
    n = len(x)

    def delta_minus(i: int, j: int) -> Mp:
        return q[i] if i == j else -p[j]

    return [[[p[i] * delta_minus(i, j) * delta_minus(i, k) - p[i] * p[j] * delta_minus(j, k)
              for k in range(n)] for j in range(n)] for i in range(n)]


def _logit_points(r: Range) -> np.ndarray:
    return spread_logits(r, N)


def _positive_vectors(r: Range) -> np.ndarray:
    m = magnitudes(r)
    rows = np.stack([m, np.roll(m, 7), np.roll(m, 301)], axis=1)
    return rows


def _label_points(r: Range) -> np.ndarray:
    """(labels, logits) pairs: one-hot labels on each class, and smoothed ones."""
    labels = r.exact([1, 0, 0, 0, 1, 0, 0.9, 0.05, 0.05, 0.2, 0.3, 0.5]).reshape(-1, N)
    logits = _logit_points(r)
    return np.concatenate([np.concatenate([np.repeat(label[None], len(logits), 0), logits], 1)
                           for label in labels])


def _cross_entropy_value(v: Sequence[Mp]) -> list[Mp]:
    y, x = v[:N], v[N:]
    return [-mp.fsum(yi * li for yi, li in zip(y, log_softmax(x)))]


def _cross_entropy_jacobian(v: Sequence[Mp]) -> list[list[Mp]]:
    y, x = v[:N], v[N:]
    by_labels = [-li for li in log_softmax(x)]
    p, q = softmax(x), complement(x)
    total = mp.fsum(y)
    # d/dx_j = s_j sum(y) - y_j = y_j (s_j - 1) + s_j sum_{i != j} y_i
    by_logits = [-y[j] * q[j] + p[j] * (total - y[j]) for j in range(N)]
    return [by_labels + by_logits]


def _cross_entropy_second(v: Sequence[Mp]) -> list[list[list[Mp]]]:
    y, x = v[:N], v[N:]
    h = lse_hessian(x)
    j = log_softmax_jacobian(x)
    total = mp.fsum(y)
    out = [[mp.zero] * (2 * N) for _ in range(2 * N)]
    for a in range(N):
        for b in range(N):
            out[a][N + b] = out[N + b][a] = -j[a][b]
            out[N + a][N + b] = total * h[a][b]
    return [out]


def _norm(x: Sequence[Mp]) -> Mp:
    return mp.sqrt(mp.fsum(v * v for v in x))


def _norm_second(x: Sequence[Mp]) -> list[list[list[Mp]]]:
    r = _norm(x)
    n = len(x)
    # (delta_ij r^2 - x_i x_j) / r^3, the diagonal as the sum of the other squares
    return [[[(mp.fsum(x[k] ** 2 for k in range(n) if k != i) if i == j else -x[i] * x[j])
              / r ** 3 for j in range(n)] for i in range(n)]]


def _var(x: Sequence[Mp]) -> Mp:
    mu = mp.fsum(x) / len(x)
    return mp.fsum((v - mu) ** 2 for v in x) / len(x)


def _var_second(x: Sequence[Mp]) -> list[list[list[Mp]]]:
    n = len(x)
    return [[[mp.mpf(2) * ((1 if i == j else 0) - mp.mpf(1) / n) / n for j in range(n)]
             for i in range(n)]]


def _std_second(x: Sequence[Mp]) -> list[list[list[Mp]]]:
    n = len(x)
    mu = mp.fsum(x) / n
    d = [v - mu for v in x]
    sd = mp.sqrt(_var(x))
    # d2 sqrt(v) = v'' / (2 sd) - v'_i v'_j / (4 sd^3), v' = 2 d / n
    v2 = _var_second(x)[0]
    return [[[v2[i][j] / (2 * sd) - (2 * d[i] / n) * (2 * d[j] / n) / (4 * sd ** 3)
              for j in range(n)] for i in range(n)]]


def _zeros2(n: int) -> list[list[list[Mp]]]:
    return [[[mp.zero] * n for _ in range(n)]]


def _unit(i: int, n: int = N) -> list[Mp]:
    return [mp.one if j == i else mp.zero for j in range(n)]


def _argmax(x: Sequence[Mp]) -> int:
    return max(range(len(x)), key=lambda i: x[i])


def _prod_second(x: Sequence[Mp]) -> list[list[list[Mp]]]:
    n = len(x)
    return [[[mp.zero if i == j else mp.fprod(x[k] for k in range(n) if k not in (i, j))
              for j in range(n)] for i in range(n)]]


SOFTMAX_WHERE = "one dominant logit, others up to 700 below; offsets ±1000"
LOGITS = [f"[:, {i}]" for i in range(N)]

CASES: list[Case] = [
    _vector("logsumexp", ["logsumexp(x, axis=-1)"], _logit_points, lambda x: [lse(x)],
            lambda x: [softmax(x)], lambda x: [lse_hessian(x)], SOFTMAX_WHERE),
    _vector("softmax", [f"softmax(x){c}" for c in LOGITS], _logit_points, softmax,
            lambda x: [[p_i * d for d in row]
                       for p_i, row in zip(softmax(x), log_softmax_jacobian(x))],
            softmax_second, SOFTMAX_WHERE, loose=near_tie),
    _vector("log_softmax", [f"log_softmax(x){c}" for c in LOGITS], _logit_points,
            log_softmax, log_softmax_jacobian,
            lambda x: [[[-h for h in row] for row in lse_hessian(x)] for _ in range(N)],
            SOFTMAX_WHERE),
    _vector("sparse_cross_entropy", ["sparse_cross_entropy(labels, x)"], _logit_points,
            lambda x: [-log_softmax(x)[0]], lambda x: [[-v for v in log_softmax_jacobian(x)[0]]],
            lambda x: [lse_hessian(x)], SOFTMAX_WHERE + "; label 0",
            fixed=(("labels", "int64", 0),)),
    _vector("cross_entropy", ["cross_entropy(y, x)"], _label_points, _cross_entropy_value,
            _cross_entropy_jacobian, _cross_entropy_second,
            SOFTMAX_WHERE + "; one-hot and smoothed labels", (("y", (N,)), ("x", (N,)))),
    _vector("norm", ["norm(x, axis=-1)"], scaled_vectors, lambda x: [_norm(x)],
            lambda x: [[v / _norm(x) for v in x]], _norm_second, "vectors at 1e±200",
            loose=dominated),
    _vector("var", ["var(x, axis=-1)"], scaled_vectors, lambda x: [_var(x)],
            lambda x: [[2 * (v - mp.fsum(x) / N) / N for v in x]], _var_second,
            "vectors at 1e±200"),
    _vector("std", ["std(x, axis=-1)"], scaled_vectors, lambda x: [mp.sqrt(_var(x))],
            lambda x: [[(v - mp.fsum(x) / N) / (N * mp.sqrt(_var(x))) for v in x]],
            _std_second, "vectors at 1e±200", loose=dominated),
    _vector("sum", ["sum(x, axis=-1)"], _positive_vectors, lambda x: [mp.fsum(x)],
            lambda x: [[mp.one] * N], lambda x: _zeros2(N), "positive entries"),
    _vector("mean", ["mean(x, axis=-1)"], _positive_vectors, lambda x: [mp.fsum(x) / N],
            lambda x: [[mp.one / N] * N], lambda x: _zeros2(N), "positive entries"),
    _vector("prod", ["prod(x, axis=-1)"], same_scale_vectors, lambda x: [mp.fprod(x)],
            lambda x: [[mp.fprod(x[k] for k in range(N) if k != i) for i in range(N)]],
            _prod_second, "positive entries of one scale"),
    _vector("max", ["max(x, axis=-1)"], _positive_vectors, lambda x: [max(x)],
            lambda x: [_unit(_argmax(x))], lambda x: _zeros2(N), "distinct entries"),
    _vector("min", ["min(x, axis=-1)"], _positive_vectors, lambda x: [min(x)],
            lambda x: [_unit(min(range(N), key=lambda i: x[i]))], lambda x: _zeros2(N),
            "distinct entries"),
]
