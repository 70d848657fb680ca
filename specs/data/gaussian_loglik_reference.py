"""Reference numbers of specs/gaussian-log-likelihood-cholesky.yaml, computed
without gradcli: closed forms evaluated with mpmath at 50 significant digits.

    python specs/data/gaussian_loglik_reference.py    # prints the expect: block

With n points x_i in d dimensions, r_i = x_i - mu, S = sum_i r_i r_i^T and
Sigma = A A^T + I (symmetric positive definite),
    loglik = -1/2 trace(Sigma^-1 S) - n/2 log det Sigma - n d/2 log(2 pi)
    d loglik / d mu    = Sigma^-1 sum_i r_i
    d loglik / d Sigma = 1/2 (Sigma^-1 S Sigma^-1 - n Sigma^-1)          (symmetric)
    d loglik / d A     = 2 (d loglik / d Sigma) A = (Sigma^-1 S Sigma^-1 - n Sigma^-1) A
    d2 loglik / d mu2  = -n Sigma^-1
and the Hessian in A, one direction E at a time: with M = Sigma^-1 S Sigma^-1 - n Sigma^-1
(so d loglik / d A = M A) and dSigma = E A^T + A E^T,
    dM = -Sigma^-1 dSigma M - Sigma^-1 S Sigma^-1 dSigma Sigma^-1
    d (d loglik / d A) = dM A + M E
(M's first term expands -Sigma^-1 dSigma Sigma^-1 S Sigma^-1 + n Sigma^-1 dSigma Sigma^-1).
(Giles 2008, sections 2.2.2 and 2.2.3: d log det X = trace(X^-1 dX),
d X^-1 = -X^-1 dX X^-1).  The spec computes the same function differently:
the quadratic form through cholesky and solve, the log-determinant through
slogdet, and every derivative by gradcli's rules.
"""

from __future__ import annotations

import mpmath

mpmath.mp.dps = 50

X = [[0.3, -1.2], [1.1, 0.4], [-0.7, 0.9], [0.2, -0.3], [1.5, 1.0]]
MU = [0.25, -0.1]
A = [[1.2, 0.0], [0.5, 0.9]]


def main() -> None:
    n, d = len(X), len(MU)
    a = mpmath.matrix(A)
    sigma = a * a.T + mpmath.eye(d)
    inv = sigma ** -1
    residuals = [mpmath.matrix([X[i][k] - MU[k] for k in range(d)]) for i in range(n)]
    s = mpmath.zeros(d, d)
    total = mpmath.zeros(d, 1)
    for r in residuals:
        s += r * r.T
        total += r
    quad = sum((inv * s)[k, k] for k in range(d))
    loglik = -quad / 2 - n * mpmath.log(mpmath.det(sigma)) / 2 - n * d * mpmath.log(
        2 * mpmath.pi) / 2
    grad_mu = inv * total
    grad_a = (inv * s * inv - n * inv) * a
    hess_mu = -n * inv
    m = inv * s * inv - n * inv
    hess_a = {}  # (i, j) -> the 3x3 matrix d(grad_a)/dA[i, j]
    for i in range(d):
        for j in range(d):
            e = mpmath.zeros(d, d)
            e[i, j] = 1
            dsigma = e * a.T + a * e.T
            dm = -inv * dsigma * m - inv * s * inv * dsigma * inv
            hess_a[i, j] = dm * a + m * e

    def rows(m: mpmath.matrix) -> str:
        return "[" + ", ".join("[" + ", ".join(repr(float(m[i, j])) for j in range(m.cols))
                               + "]" for i in range(m.rows)) + "]"

    print("expect:")
    print(f"  value:\n    loglik: {float(loglik)!r}")
    print(f"  grad:\n    mu: [{', '.join(repr(float(v)) for v in grad_mu)}]")
    print(f"    A: {rows(grad_a)}")
    print(f"  hessian:\n    mu:\n      mu: {rows(hess_mu)}")
    # block layout: A shape + A shape, H[i, j, k, l] = d2 loglik / dA[i,j] dA[k,l]
    blocks = ", ".join(
        "[" + ", ".join(rows(hess_a[i, j]) for j in range(d)) + "]" for i in range(d))
    print(f"    A:\n      A: [{blocks}]")


if __name__ == "__main__":
    main()
