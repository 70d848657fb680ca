"""Each accuracy case written once against a small vocabulary (numpy's names
and a few of the peers' own: softmax, cross_entropy, eigh ...), and that
vocabulary in each peer's own ops.  A peer without an op (no cbrt in
PyTorch, no neural-network functions in autograd) raises `Missing`: a dash.

Where gradcli's result is a convention rather than arithmetic, the forms
apply the same convention with the peer's ops, so the columns compare the
same function: eigenvectors and singular vectors signed to r . v > 0
(gradcli's fixed reference vector; the sign is piecewise constant, so no
derivative passes through it), R's diagonal made positive, and cholesky and
eigh fed the symmetric matrix read from the lower triangle."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np

from benchmarks.accuracy_peers import Form, Missing
from gradcli.engine.ops.spectral import reference_vector

UNARY = ("negative exp expm1 log log1p sin cos tan arcsin arccos arctan sinh cosh tanh "
         "arcsinh arccosh arctanh sqrt cbrt abs sign square log2 log10 exp2 sinc reciprocal "
         "deg2rad rad2deg floor ceil trunc round").split()
BINARY = "maximum minimum arctan2 hypot logaddexp logaddexp2 fmax fmin floor_divide mod fmod"
NUMPY = UNARY + BINARY.split() + "cross inner kron diagonal trace tril".split()


def _missing(name: str) -> Callable[..., Any]:
    def fn(*args: Any, **kwargs: Any) -> Any:
        raise Missing(name)

    return fn


def _namespace(xp: Any, **own: Any) -> SimpleNamespace:
    """numpy's names taken from xp where it has them, then the peer's own."""
    names = {n: getattr(xp, n) for n in NUMPY if hasattr(xp, n)}
    names.update(own)
    return SimpleNamespace(**names)


def jax_ns() -> SimpleNamespace:
    import jax
    import jax.numpy as jnp
    from jax.scipy import special

    la = jnp.linalg
    return _namespace(
        jnp, erf=special.erf, erfc=special.erfc, sigmoid=jax.nn.sigmoid,
        softplus=jax.nn.softplus, gelu=lambda x: jax.nn.gelu(x, approximate=False),
        silu=jax.nn.silu, elu=jax.nn.elu, relu=jax.nn.relu,
        leaky_relu=lambda x: jax.nn.leaky_relu(x, 0.01),
        logsumexp=lambda x: special.logsumexp(x, axis=-1),
        softmax=lambda x: jax.nn.softmax(x, axis=-1),
        log_softmax=lambda x: jax.nn.log_softmax(x, axis=-1),
        norm=lambda x: la.norm(x, axis=-1),
        vector_norm=lambda x, o: la.norm(x, ord=o, axis=-1),
        matrix_norm=lambda a, o: la.norm(a, ord=o, axis=(-2, -1)),
        var=lambda x: jnp.var(x, axis=-1), std=lambda x: jnp.std(x, axis=-1),
        sum=lambda x: jnp.sum(x, -1), mean=lambda x: jnp.mean(x, -1),
        prod=lambda x: jnp.prod(x, -1), max=lambda x: jnp.max(x, -1),
        min=lambda x: jnp.min(x, -1), cumsum=lambda x: jnp.cumsum(x, -1),
        cumprod=lambda x: jnp.cumprod(x, -1), swap=lambda x: jnp.swapaxes(x, -1, -2),
        einsum=jnp.einsum, inv=la.inv, det=la.det, solve=la.solve, cholesky=la.cholesky,
        logabsdet=lambda a: la.slogdet(a)[1], pinv=la.pinv, matrix_power=la.matrix_power,
        eigvalsh=la.eigvalsh, eigh=la.eigh, svdvals=lambda a: la.svd(a, compute_uv=False),
        svd=lambda a: la.svd(a, full_matrices=False), qr=la.qr, const=jnp.asarray)


def autograd_ns() -> SimpleNamespace:
    import autograd.numpy as anp
    from autograd.scipy import special

    la = anp.linalg
    return _namespace(
        anp, erf=special.erf, erfc=special.erfc, sigmoid=special.expit,
        logsumexp=lambda x: special.logsumexp(x, axis=-1),
        norm=lambda x: la.norm(x, axis=-1),
        vector_norm=lambda x, o: la.norm(x, ord=o, axis=-1),
        matrix_norm=lambda a, o: la.norm(a, ord=o, axis=(-2, -1)),
        var=lambda x: anp.var(x, axis=-1), std=lambda x: anp.std(x, axis=-1),
        sum=lambda x: anp.sum(x, -1), mean=lambda x: anp.mean(x, -1),
        prod=lambda x: anp.prod(x, -1), max=lambda x: anp.max(x, -1),
        min=lambda x: anp.min(x, -1), cumsum=lambda x: anp.cumsum(x, -1),
        cumprod=lambda x: anp.cumprod(x, -1), swap=lambda x: anp.swapaxes(x, -1, -2),
        einsum=anp.einsum, inv=la.inv, det=la.det, solve=la.solve, cholesky=la.cholesky,
        logabsdet=lambda a: la.slogdet(a)[1], pinv=la.pinv, matrix_power=la.matrix_power,
        eigvalsh=lambda a: la.eigh(a)[0], eigh=la.eigh,
        svdvals=lambda a: la.svd(a, compute_uv=False),
        svd=lambda a: la.svd(a, full_matrices=False), qr=la.qr, const=np.asarray)


def torch_ns() -> SimpleNamespace:
    import torch
    import torch.nn.functional as F

    la = torch.linalg
    return _namespace(
        torch, cbrt=_missing("cbrt"), mod=torch.remainder, erf=torch.special.erf,
        erfc=torch.special.erfc, sigmoid=torch.sigmoid, softplus=F.softplus, gelu=F.gelu,
        silu=F.silu, elu=F.elu, relu=torch.relu, leaky_relu=lambda x: F.leaky_relu(x, 0.01),
        logsumexp=lambda x: torch.logsumexp(x, -1),
        softmax=lambda x: torch.softmax(x, -1), log_softmax=lambda x: torch.log_softmax(x, -1),
        sparse_cross_entropy=lambda labels, x: F.cross_entropy(x, labels, reduction="none"),
        cross_entropy=lambda y, x: F.cross_entropy(x, y, reduction="none"),
        norm=lambda x: la.vector_norm(x, dim=-1),
        vector_norm=lambda x, o: la.vector_norm(x, ord=o, dim=-1),
        matrix_norm=lambda a, o: la.matrix_norm(a, ord=o),
        var=lambda x: torch.var(x, -1, correction=0),
        std=lambda x: torch.std(x, -1, correction=0),
        sum=lambda x: torch.sum(x, -1), mean=lambda x: torch.mean(x, -1),
        prod=lambda x: torch.prod(x, -1), max=lambda x: torch.amax(x, -1),
        min=lambda x: torch.amin(x, -1), cumsum=lambda x: torch.cumsum(x, -1),
        cumprod=lambda x: torch.cumprod(x, -1), swap=lambda x: torch.transpose(x, -1, -2),
        cross=lambda a, b: la.cross(a, b, dim=-1),
        diagonal=lambda x, o, a1, a2: torch.diagonal(x, o, a1, a2),
        trace=lambda x, o, a1, a2: torch.diagonal(x, o, a1, a2).sum(-1),
        einsum=torch.einsum, inv=la.inv, det=la.det, solve=la.solve, cholesky=la.cholesky,
        logabsdet=lambda a: la.slogdet(a)[1], pinv=la.pinv, matrix_power=la.matrix_power,
        eigvalsh=la.eigvalsh, eigh=la.eigh, svdvals=la.svdvals,
        svd=lambda a: la.svd(a, full_matrices=False), qr=la.qr, const=torch.as_tensor)


def tf_ns() -> SimpleNamespace:
    import tensorflow as tf
    import tensorflow.experimental.numpy as tnp

    la = tf.linalg
    return _namespace(
        tnp, erf=tf.math.erf,
        erfc=tf.math.erfc, sigmoid=tf.math.sigmoid, softplus=tf.math.softplus,
        gelu=lambda x: tf.nn.gelu(x, approximate=False), silu=tf.nn.silu, elu=tf.nn.elu,
        relu=tf.nn.relu, leaky_relu=lambda x: tf.nn.leaky_relu(x, 0.01),
        mod=tf.math.floormod, fmod=tf.truncatemod, floor_divide=tf.math.floordiv,
        logsumexp=lambda x: tf.reduce_logsumexp(x, -1),
        softmax=lambda x: tf.nn.softmax(x, -1), log_softmax=lambda x: tf.nn.log_softmax(x, -1),
        sparse_cross_entropy=lambda labels, x: tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=labels, logits=x),
        cross_entropy=lambda y, x: tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=x),
        norm=lambda x: tf.norm(x, axis=-1),
        vector_norm=lambda x, o: tf.norm(x, ord=o, axis=-1),
        matrix_norm=lambda a, o: tf.norm(a, ord=o, axis=[-2, -1]),
        var=lambda x: tf.math.reduce_variance(x, -1), std=lambda x: tf.math.reduce_std(x, -1),
        sum=lambda x: tf.reduce_sum(x, -1), mean=lambda x: tf.reduce_mean(x, -1),
        prod=lambda x: tf.reduce_prod(x, -1), max=lambda x: tf.reduce_max(x, -1),
        min=lambda x: tf.reduce_min(x, -1), cumsum=lambda x: tf.cumsum(x, -1),
        cumprod=lambda x: tf.math.cumprod(x, -1), swap=la.matrix_transpose,
        einsum=tf.einsum, inv=la.inv, det=la.det, solve=la.solve, cholesky=la.cholesky,
        logabsdet=lambda a: la.slogdet(a)[1], pinv=la.pinv, matrix_power=_missing("power"),
        eigvalsh=la.eigvalsh, eigh=la.eigh, svdvals=lambda a: la.svd(a, compute_uv=False),
        svd=lambda a: _tf_svd(la.svd(a)), qr=la.qr, const=tf.constant)


def _tf_svd(usv: tuple) -> tuple:
    s, u, v = usv  # TensorFlow's order, and V rather than Vh
    return u, s, tf_swap(v)


def tf_swap(v: Any) -> Any:
    import tensorflow as tf

    return tf.linalg.matrix_transpose(v)


# ---- the forms: case key -> outputs in the vocabulary ----------------------------------------

def _unary(name: str) -> Form:
    return lambda P, v: [getattr(P, name)(v["x"])]


def _binary(name: str) -> Form:
    return lambda P, v: [getattr(P, name)(v["a"], v["b"])]


def _columns(y: Any, count: int) -> list:
    return [y[:, i] for i in range(count)]


def _entries(y: Any, keep: list[tuple[int, int]] | None = None) -> list:
    rows, cols = y.shape[-2], y.shape[-1]
    keep = keep or [(i, j) for i in range(rows) for j in range(cols)]
    return [y[:, i, j] for i, j in keep]


def _sym_lower(P: Any, a: Any) -> Any:
    """The symmetric matrix read from the lower triangle, as gradcli reads it."""
    return P.tril(a) + P.swap(P.tril(a, -1))


def _signed(P: Any, vectors: Any) -> Any:
    """Columns signed to r . v > 0 (gradcli's convention); the sign is a constant."""
    r = P.const(reference_vector(vectors.shape[-2]).astype(_dtype(vectors)))
    return vectors * P.sign(P.einsum("i,pij->pj", r, vectors))[:, None, :]


def _dtype(x: Any) -> str:
    return "float32" if "32" in str(x.dtype) else "float64"


def _qr(P: Any, a: Any, part: int) -> Any:
    q, r = P.qr(a)
    sign = P.sign(P.diagonal(r, 0, 1, 2))
    return q * sign[:, None, :] if part == 0 else r * sign[:, :, None]


def _svd(P: Any, a: Any, part: int) -> Any:
    u, s, vh = P.svd(a)
    sign = P.sign(P.einsum("i,pij->pj", P.const(reference_vector(2).astype(_dtype(a))), u))
    return u * sign[:, None, :] if part == 0 else vh * sign[:, :, None]


LOWER3 = [(i, j) for i in range(3) for j in range(i + 1)]

FORMS: dict[str, Form] = {
    **{op: _unary(op) for op in UNARY if op not in ("negative",)},
    **{op: _unary(op) for op in ("erf", "erfc", "sigmoid", "softplus", "gelu", "silu", "elu",
                                 "relu", "leaky_relu")},
    "neg": _unary("negative"),
    **{op: _binary(op) for op in BINARY.split()},
    "add": lambda P, v: [v["a"] + v["b"]],
    "mul": lambda P, v: [v["a"] * v["b"]],
    "pow": lambda P, v: [v["a"] ** v["b"]],
    **{op: (lambda P, v, op=op: [getattr(P, op)(v["x"])])
       for op in ("logsumexp", "norm", "var", "std", "sum", "mean", "prod", "max", "min")},
    **{op: (lambda P, v, op=op: _columns(getattr(P, op)(v["x"]), 3))
       for op in ("softmax", "log_softmax", "cumsum", "cumprod")},
    "sparse_cross_entropy": lambda P, v: [P.sparse_cross_entropy(v["labels"], v["x"])],
    "cross_entropy": lambda P, v: [P.cross_entropy(v["y"], v["x"])],
    "cross": lambda P, v: _columns(P.cross(v["a"], v["b"]), 3),
    "inner": lambda P, v: [P.diagonal(P.inner(v["a"], v["b"]), 0, 0, 1)],
    "kron": lambda P, v: _columns(P.swap(P.diagonal(
        P.kron(v["a"][:, None, :], v["b"][None, :, :]), 0, 0, 1)), 6),
    "diagonal": lambda P, v: _columns(P.diagonal(v["a"], 1, 1, 2), 2),
    "trace": lambda P, v: [P.trace(v["a"], -1, 1, 2)],
    "matmul": lambda P, v: _entries(v["a"] @ v["b"]),
    "einsum": lambda P, v: _columns(P.einsum("pij,pj->pi", v["a"], v["v"]), 2),
    "inv": lambda P, v: _entries(P.inv(v["a"])),
    "det": lambda P, v: [P.det(v["a"])],
    "solve": lambda P, v: _columns(P.solve(v["a"], v["v"])[:, :, 0], 2),
    "cholesky": lambda P, v: _entries(P.cholesky(_sym_lower(P, v["a"])), LOWER3),
    "logabsdet": lambda P, v: [P.logabsdet(v["a"])],
    "pinv": lambda P, v: _entries(P.pinv(v["a"])),
    "matrix_power n=3": lambda P, v: _entries(P.matrix_power(v["a"], 3)),
    "matrix_power n=-2": lambda P, v: _entries(P.matrix_power(v["a"], -2)),
    "qr_q": lambda P, v: _entries(_qr(P, v["a"], 0)),
    "qr_r": lambda P, v: _entries(_qr(P, v["a"], 1), [(0, 0), (0, 1), (1, 1)]),
    "eigh_w": lambda P, v: _columns(P.eigvalsh(_sym_lower(P, v["a"])), 2),
    "eigh_v": lambda P, v: _entries(_signed(P, P.eigh(_sym_lower(P, v["a"]))[1])),
    "svd_s": lambda P, v: _columns(P.svdvals(v["a"]), 2),
    "svd_u": lambda P, v: _entries(_svd(P, v["a"], 0)),
    "svd_vh": lambda P, v: _entries(_svd(P, v["a"], 2)),
    **{f"norm ord={o}": (lambda P, v, o=o: [P.vector_norm(v["x"], o)])
       for o in (1, 3, 0.5)},
    "norm ord=inf": lambda P, v: [P.vector_norm(v["x"], np.inf)],
    "norm ord=-inf": lambda P, v: [P.vector_norm(v["x"], -np.inf)],
    "norm ord='nuc'": lambda P, v: [P.matrix_norm(v["a"], "nuc")],
    "norm ord=2 (matrix)": lambda P, v: [P.matrix_norm(v["a"], 2)],
    "norm ord=-2 (matrix)": lambda P, v: [P.matrix_norm(v["a"], -2)],
    "norm ord=1 (matrix)": lambda P, v: [P.matrix_norm(v["a"], 1)],
    "norm ord=inf (matrix)": lambda P, v: [P.matrix_norm(v["a"], np.inf)],
}
