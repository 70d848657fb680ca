"""The peers of docs/accuracy.md's side-by-side table: JAX, PyTorch,
TensorFlow and HIPS autograd, each measured on the accuracy harness's own
points against its own 50-digit references.

A peer is a namespace of numpy-like functions (its own ops, by the names the
forms of `accuracy_forms.py` use) and a way to differentiate: every case is
n numbers in, m numbers out per point, all points in one batch, so the
Jacobian row of output i is the gradient of the sum of output i over the
points (the points are independent), and row j of its Hessian is the
gradient of the sum of that gradient's column j: m + m n reverse passes,
each a `torch.autograd.grad` (create_graph), nested `tf.GradientTape` or
`autograd.grad`.  JAX is asked its own way: jit(vmap(jacrev)) and
jit(vmap(hessian)) of the per-point map.

Nothing here is imported by gradcli or its tests; a peer that is not
installed is simply left out."""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

from gradcli.verify.accuracy.case import Case

Results = tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]
Form = Callable[[Any, dict[str, Any]], list[Any]]


class Missing(Exception):
    """The peer has no such op (its column shows a dash)."""


@dataclass(frozen=True)
class Peer:
    name: str
    version: str
    ns: SimpleNamespace  # the forms' vocabulary in the peer's own ops
    run: Callable[[Form, Case, np.ndarray, str, SimpleNamespace], Results]

    def results(self, form: Form, case: Case, points: np.ndarray, dtype: str) -> Results:
        """Values, first and second derivatives at the points (None: an order
        the peer cannot give); raises Missing where it has no such op."""
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                return self.run(form, case, points, dtype, self.ns)
        except AttributeError as exc:  # the vocabulary has no such name for this peer
            raise Missing(str(exc)) from None


def installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def _split(case: Case, x: Any, reshape: Callable) -> dict[str, Any]:
    out, start = {}, 0
    for name, shape in case.inputs:
        size = int(np.prod(shape, dtype=np.int64))
        part = x[:, start:start + size]
        out[name] = reshape(part, (-1,) + shape) if shape else reshape(part, (-1,))
        start += size
    return out


def _fixed(case: Case, count: int) -> dict[str, np.ndarray]:
    return {name: np.full(count, value, dtype=kind) for name, kind, value in case.fixed}


def _stack(columns: list, count: int) -> np.ndarray:
    return np.stack([np.asarray(c, np.float64).reshape(count) for c in columns], axis=1)


def _guard(fn: Callable[[], np.ndarray]) -> np.ndarray | None:
    """An order the peer cannot differentiate (no rule, a NaN check that
    raises) is shown as a dash."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn()
    except Missing:
        raise
    except Exception:  # noqa: BLE001 - any failure of the peer is its missing column
        return None


# ---- JAX ---------------------------------------------------------------------------------

def _jax_run(form: Form, case: Case, points: np.ndarray, dtype: str,
             ns: SimpleNamespace) -> Results:
    """JAX's own way: jit(vmap(jacrev(f))) and jit(vmap(hessian(f))) of the
    per-point map f (hessian is forward-over-reverse)."""
    import jax
    import jax.numpy as jnp

    count, n = points.shape
    x0 = jnp.asarray(points.astype(dtype))
    fixed = {k: jnp.asarray(v) for k, v in _fixed(case, count).items()}

    def f(x: Any, extra: dict) -> Any:  # one point: (n,) -> (m,)
        ins = {k: v[None] for k, v in extra.items()}
        return jnp.stack(form(ns, {**_split(case, x[None], jnp.reshape), **ins}), -1)[0]

    value = np.asarray(jax.jit(jax.vmap(f))(x0, fixed), np.float64)
    first = _guard(lambda: np.asarray(jax.jit(jax.vmap(jax.jacrev(f)))(x0, fixed),
                                      np.float64).reshape(count, -1))
    second = _guard(lambda: np.asarray(jax.jit(jax.vmap(jax.hessian(f)))(x0, fixed),
                                       np.float64).reshape(count, -1))
    return value, first, second


# ---- PyTorch -----------------------------------------------------------------------------

def _torch_run(form: Form, case: Case, points: np.ndarray, dtype: str,
               ns: SimpleNamespace) -> Results:
    import torch

    count, n = points.shape
    x = torch.tensor(points.astype(dtype), requires_grad=True)
    fixed = {k: torch.as_tensor(v) for k, v in _fixed(case, count).items()}
    outs = form(ns, {**_split(case, x, torch.reshape), **fixed})
    value = _stack([o.detach() for o in outs], count)

    def grad(y: Any, create: bool) -> Any:
        if not y.requires_grad:
            return torch.zeros_like(x)
        g = torch.autograd.grad(y, x, create_graph=create, retain_graph=True,
                                allow_unused=True)[0]
        return torch.zeros_like(x) if g is None else g

    grads = _guard(lambda: [grad(o.sum(), True) for o in outs])
    if grads is None:
        return value, None, None
    first = np.concatenate([g.detach().numpy(force=True).astype(np.float64) for g in grads], 1)
    second = _guard(lambda: np.concatenate([
        grad(g[:, j].sum(), False).detach().numpy(force=True).astype(np.float64)
        for g in grads for j in range(n)], 1))
    return value, first, second


# ---- TensorFlow --------------------------------------------------------------------------

def _tf_run(form: Form, case: Case, points: np.ndarray, dtype: str,
            ns: SimpleNamespace) -> Results:
    import tensorflow as tf

    count, n = points.shape
    x = tf.constant(points.astype(dtype))
    fixed = {k: tf.constant(v) for k, v in _fixed(case, count).items()}

    def zero_if_none(g: Any) -> Any:
        return tf.zeros_like(x) if g is None else g

    with tf.GradientTape(persistent=True) as outer:
        outer.watch(x)
        with tf.GradientTape(persistent=True) as inner:
            inner.watch(x)
            outs = form(ns, {**_split(case, x, tf.reshape), **fixed})
            sums = [tf.reduce_sum(o) for o in outs]
        grads = _guard(lambda: [zero_if_none(inner.gradient(s, x)) for s in sums])
        columns = None if grads is None else [tf.reduce_sum(g[:, j]) for g in grads
                                              for j in range(n)]
    value = _stack([o.numpy() for o in outs], count)
    if grads is None:
        return value, None, None
    first = np.concatenate([g.numpy().astype(np.float64) for g in grads], 1)
    second = _guard(lambda: np.concatenate([
        zero_if_none(outer.gradient(c, x)).numpy().astype(np.float64) for c in columns], 1))
    return value, first, second


# ---- autograd ----------------------------------------------------------------------------

def _autograd_run(form: Form, case: Case, points: np.ndarray, dtype: str,
                  ns: SimpleNamespace) -> Results:
    import autograd
    import autograd.numpy as anp

    count, n = points.shape
    x0 = points.astype(dtype)
    fixed = _fixed(case, count)

    def outs(x: Any) -> list:
        return form(ns, {**_split(case, x, anp.reshape), **fixed})

    value = _stack(outs(x0), count)
    m = value.shape[1]
    grads = [autograd.grad(lambda x, i=i: anp.sum(outs(x)[i])) for i in range(m)]
    first = _guard(lambda: np.concatenate([np.asarray(g(x0), np.float64) for g in grads], 1))
    second = _guard(lambda: np.concatenate([
        np.asarray(autograd.grad(lambda x, g=g, j=j: anp.sum(g(x)[:, j]))(x0), np.float64)
        for g in grads for j in range(n)], 1))
    return value, first, second


def peers(names: list[str] | None = None) -> list[Peer]:
    """The installed peers (or those of `names` that are installed), with the
    namespaces of accuracy_forms."""
    from benchmarks import accuracy_forms as F

    found = []
    if installed("jax") and (names is None or "jax" in names):
        import jax

        jax.config.update("jax_enable_x64", True)
        import jaxlib

        found.append(Peer("JAX", f"{jax.__version__} (jaxlib {jaxlib.__version__})",
                          F.jax_ns(), _jax_run))
    if installed("torch") and (names is None or "torch" in names):
        import torch

        torch.set_num_threads(1)
        found.append(Peer("PyTorch", torch.__version__, F.torch_ns(), _torch_run))
    if installed("tensorflow") and (names is None or "tensorflow" in names):
        import os

        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import tensorflow as tf

        found.append(Peer("TensorFlow", tf.__version__, F.tf_ns(), _tf_run))
    if installed("autograd") and (names is None or "autograd" in names):
        from importlib.metadata import version

        found.append(Peer("autograd", version("autograd"), F.autograd_ns(), _autograd_run))
    return found
