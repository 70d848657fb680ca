"""Reference numbers of specs/heat-equation-pinn.yaml, computed without gradcli.

Writes heat_pinn_weights.npz (seeded numpy, glorot_uniform limits) and
prints the expect: block.  The loss gradient is derived by hand below and
confirmed with sympy at 40 significant digits, so the numbers in the spec
are independent of the engine they check.

    python specs/data/heat_pinn_reference.py          # from the repository root

Network: u(x, t) = tanh([x, t] @ K1 + b1) @ K2 + b2, K1 (2, H), K2 (H, 1).
Writing w = K1[0], v = K1[1], a = K2[:, 0], z = x w + t v + b1, s = tanh z,
with s' = 1 - s^2, s'' = -2 s s', s''' = -2 s' (1 - 3 s^2):
    u_t  = sum_j a_j v_j s'_j,   u_xx = sum_j a_j w_j^2 s''_j
    r    = u_t - alpha u_xx                          (PDE residual)
    e    = u(x0, 0) - sin(pi x0)                      (initial condition)
    loss = mean(r^2) + mean(e^2)
and d loss = 2 mean(r dr) + 2 mean(e de), with
    dr/da_j = v_j s'_j - alpha w_j^2 s''_j
    dr/dv_j = a_j (s'_j + t v_j s''_j - alpha t w_j^2 s'''_j)
    dr/dw_j = a_j (x v_j s''_j - 2 alpha w_j s''_j - alpha x w_j^2 s'''_j)
    dr/db_j = a_j (v_j s''_j - alpha w_j^2 s'''_j),   dr/db2 = 0
    de/da_j = s_j,  de/dw_j = a_j s'_j x0,  de/dv_j = 0,  de/db_j = a_j s'_j,  de/db2 = 1
(the last four at z = x0 w + b1).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
HIDDEN = 6
ALPHA = 0.1
X = np.array([[0.1], [0.25], [0.4], [0.55], [0.7], [0.85], [0.3], [0.6]])
T = np.array([[0.05], [0.1], [0.15], [0.2], [0.25], [0.3], [0.4], [0.45]])
X0 = np.array([[0.0], [0.3], [0.6], [0.9]])


def weights() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20240501)
    limit1 = np.sqrt(6 / (2 + HIDDEN))
    limit2 = np.sqrt(6 / (HIDDEN + 1))
    return {"u.1.kernel": rng.uniform(-limit1, limit1, (2, HIDDEN)),
            "u.1.bias": rng.uniform(-0.1, 0.1, HIDDEN),
            "u.2.kernel": rng.uniform(-limit2, limit2, (HIDDEN, 1)),
            "u.2.bias": np.array([0.05])}


def by_hand(p: dict[str, np.ndarray]) -> tuple[float, dict[str, np.ndarray]]:
    w, v, b, a = p["u.1.kernel"][0], p["u.1.kernel"][1], p["u.1.bias"], p["u.2.kernel"][:, 0]
    s = np.tanh(X * w + T * v + b)                       # (N, H)
    s1 = 1 - s**2
    s2 = -2 * s * s1
    s3 = -2 * s1 * (1 - 3 * s**2)
    r = (a * (v * s1 - ALPHA * w**2 * s2)).sum(axis=1)   # (N,)
    q = np.tanh(X0 * w + b)                              # (M, H), t = 0
    q1 = 1 - q**2
    e = (q @ a) + p["u.2.bias"][0] - np.sin(np.pi * X0[:, 0])
    n, m = len(r), len(e)
    loss = float(np.mean(r**2) + np.mean(e**2))
    rr, ee = (2 / n) * r[:, None], (2 / m) * e[:, None]
    d_a = (rr * (v * s1 - ALPHA * w**2 * s2)).sum(0) + (ee * q).sum(0)
    d_v = (rr * a * (s1 + T * v * s2 - ALPHA * T * w**2 * s3)).sum(0)
    d_w = (rr * a * (X * v * s2 - 2 * ALPHA * w * s2 - ALPHA * X * w**2 * s3)).sum(0) \
        + (ee * a * q1 * X0).sum(0)
    d_b = (rr * a * (v * s2 - ALPHA * w**2 * s3)).sum(0) + (ee * a * q1).sum(0)
    grads = {"u.1.kernel": np.stack([d_w, d_v]), "u.1.bias": d_b,
             "u.2.kernel": d_a[:, None], "u.2.bias": np.array([(ee[:, 0]).sum()])}
    return loss, grads


def by_sympy(p: dict[str, np.ndarray]) -> tuple[float, dict[str, np.ndarray]]:
    import sympy as sp

    w = sp.symbols(f"w0:{HIDDEN}")
    v = sp.symbols(f"v0:{HIDDEN}")
    b = sp.symbols(f"b0:{HIDDEN}")
    a = sp.symbols(f"a0:{HIDDEN}")
    c, x, t = sp.symbols("c x t")
    u = sum(a[j] * sp.tanh(w[j] * x + v[j] * t + b[j]) for j in range(HIDDEN)) + c
    def f(value: float) -> sp.Float:  # the exact binary value of a float64
        return sp.Float(float(value), 40)

    residual = sp.diff(u, t) - f(ALPHA) * sp.diff(u, x, 2)
    initial = u.subs(t, 0) - sp.sin(sp.pi * x)
    values = {c: p["u.2.bias"][0]}
    for j in range(HIDDEN):
        values.update({w[j]: p["u.1.kernel"][0, j], v[j]: p["u.1.kernel"][1, j],
                       b[j]: p["u.1.bias"][j], a[j]: p["u.2.kernel"][j, 0]})
    exact = {k: f(val) for k, val in values.items()}
    params = [*w, *v, *b, *a, c]
    # loss = sum_k weight_k * term_k^2, d loss = sum_k 2 weight_k term_k d term_k
    terms = [(residual.subs({x: f(xi), t: f(ti)}), len(X)) for xi, ti in zip(X[:, 0], T[:, 0])]
    terms += [(initial.subs(x, f(xi)), len(X0)) for xi in X0[:, 0]]
    loss = sp.Integer(0)
    total = dict.fromkeys(params, sp.Integer(0))
    for term, count in terms:
        value = term.evalf(40, subs=exact)
        loss += value**2 / count
        for q in params:
            total[q] += 2 * value * sp.diff(term, q).evalf(40, subs=exact) / count

    def num(q: sp.Symbol) -> float:
        return float(total[q])

    grads = {"u.1.kernel": np.array([[num(w[j]) for j in range(HIDDEN)],
                                     [num(v[j]) for j in range(HIDDEN)]]),
             "u.1.bias": np.array([num(b[j]) for j in range(HIDDEN)]),
             "u.2.kernel": np.array([[num(a[j])] for j in range(HIDDEN)]),
             "u.2.bias": np.array([num(c)])}
    return float(loss), grads


def main() -> None:
    p = weights()
    np.savez(HERE / "heat_pinn_weights.npz", **p)
    loss, grads = by_hand(p)
    loss_s, grads_s = by_sympy(p)
    assert abs(loss - loss_s) <= 1e-14 * abs(loss_s), (loss, loss_s)
    for key in grads:
        np.testing.assert_allclose(grads[key], grads_s[key], rtol=1e-13, atol=1e-16)
    print("expect:")
    print(f"  value:\n    loss: {loss_s!r}")
    print("  grad:")
    for key, g in grads_s.items():
        print(f"    {key}: {g.tolist()!r}")


if __name__ == "__main__":
    main()
