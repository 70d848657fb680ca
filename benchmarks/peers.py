"""The same workloads written for each peer that is importable: HIPS
autograd, PyTorch, JAX (with and without jit) and TensorFlow (tf.function).
Each builder returns {workload: call} or {} when the peer is missing."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable

import numpy as np

from benchmarks.workloads import HESS, JAC, MLP, PINN, SEED000

Calls = dict[str, Callable[[], object]]


def available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def autograd_calls() -> Calls:
    if not available("autograd"):
        return {}
    import autograd
    import autograd.numpy as anp
    from autograd.scipy.special import logsumexp

    def seed(a, b):
        return anp.sum(anp.dot(anp.sin(a), b))

    def loss(params):
        w1, b1, w2, b2, w3, b3 = params
        h1 = anp.tanh(anp.dot(MLP["X"], w1) + b1)
        h2 = anp.tanh(anp.dot(h1, w2) + b2)
        z = anp.dot(h2, w3) + b3
        logp = z - logsumexp(z, axis=1, keepdims=True)
        return -anp.mean(logp[np.arange(64), MLP["labels"]])

    def mlp_u(p):
        h = anp.tanh(anp.dot(p, PINN["W1"]) + PINN["b1"])
        h = anp.tanh(anp.dot(h, PINN["W2"]) + PINN["b2"])
        return anp.sum(anp.dot(h, PINN["W3"]) + PINN["b3"])

    seed_grad = autograd.grad(seed, argnum=(0, 1))
    mlp_grad = autograd.grad(loss)
    params = [MLP[k] for k in ("W1", "b1", "W2", "b2", "W3", "b3")]
    jac = autograd.jacobian(lambda x: anp.tanh(anp.dot(JAC["W"], x)))
    hess = autograd.hessian(lambda x: logsumexp(anp.dot(HESS["A"], x)) + 0.5 * anp.sum(x * x))
    point_hess = autograd.hessian(lambda p: mlp_u(p[None, :]))
    return {
        "a_seed000_grad": lambda: seed_grad(SEED000["a"], SEED000["b"]),
        "b_mlp_grad": lambda: mlp_grad(params),
        "c_jacobian_tanh_256": lambda: jac(JAC["x"]),
        "d_hessian_logsumexp": lambda: hess(HESS["x"]),
        # autograd has no vmap: a Python loop over the points is what users write
        "e_per_point_hessians": lambda: [point_hess(p) for p in PINN["P"]],
    }


def torch_calls() -> Calls:
    if not available("torch"):
        return {}
    import torch
    from torch.func import hessian, jacrev, vmap

    torch.set_num_threads(int(os.environ.get("BENCH_THREADS") or os.cpu_count() or 1))
    t = {k: torch.tensor(v) for k, v in {**MLP, "labels": MLP["labels"]}.items()}
    params = [t[k].clone().requires_grad_() for k in ("W1", "b1", "W2", "b2", "W3", "b3")]
    a = torch.tensor(SEED000["a"], requires_grad=True)
    b = torch.tensor(SEED000["b"], requires_grad=True)
    W, x = torch.tensor(JAC["W"]), torch.tensor(JAC["x"])
    A, xh = torch.tensor(HESS["A"]), torch.tensor(HESS["x"])
    P = torch.tensor(PINN["P"])
    pw = {k: torch.tensor(v) for k, v in PINN.items()}

    def seed() -> object:
        return torch.autograd.grad(torch.sum(torch.sin(a) @ b), (a, b))

    def mlp() -> object:
        w1, b1, w2, b2, w3, b3 = params
        h1 = torch.tanh(t["X"] @ w1 + b1)
        h2 = torch.tanh(h1 @ w2 + b2)
        loss = torch.nn.functional.cross_entropy(h2 @ w3 + b3, t["labels"])
        return torch.autograd.grad(loss, params)

    def u(p: torch.Tensor) -> torch.Tensor:
        h = torch.tanh(p @ pw["W1"] + pw["b1"])
        h = torch.tanh(h @ pw["W2"] + pw["b2"])
        return (h @ pw["W3"] + pw["b3"]).sum()

    jac = jacrev(lambda v: torch.tanh(W @ v))
    hess = hessian(lambda v: torch.logsumexp(A @ v, 0) + 0.5 * torch.sum(v * v))
    per_point = vmap(hessian(u))
    return {
        "a_seed000_grad": seed,
        "b_mlp_grad": mlp,
        "c_jacobian_tanh_256": lambda: jac(x),
        "d_hessian_logsumexp": lambda: hess(xh),
        "e_per_point_hessians": lambda: per_point(P),
    }


def jax_calls(jit: bool) -> Calls:
    if not available("jax"):
        return {}
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    wrap = jax.jit if jit else (lambda f: f)
    j = {k: jnp.asarray(v) for k, v in MLP.items()}
    params = [j[k] for k in ("W1", "b1", "W2", "b2", "W3", "b3")]
    pw = {k: jnp.asarray(v) for k, v in PINN.items()}

    def loss(ps):
        w1, b1, w2, b2, w3, b3 = ps
        h1 = jnp.tanh(j["X"] @ w1 + b1)
        h2 = jnp.tanh(h1 @ w2 + b2)
        logp = jax.nn.log_softmax(h2 @ w3 + b3)
        return -jnp.mean(jnp.take_along_axis(logp, j["labels"][:, None], axis=1))

    def u(p):
        h = jnp.tanh(p @ pw["W1"] + pw["b1"])
        h = jnp.tanh(h @ pw["W2"] + pw["b2"])
        return jnp.sum(h @ pw["W3"] + pw["b3"])

    seed = wrap(jax.grad(lambda a, b: jnp.sum(jnp.sin(a) @ b), argnums=(0, 1)))
    mlp = wrap(jax.grad(loss))
    jac = wrap(jax.jacrev(lambda v: jnp.tanh(jnp.asarray(JAC["W"]) @ v)))
    hess = wrap(jax.hessian(lambda v: jax.nn.logsumexp(jnp.asarray(HESS["A"]) @ v)
                            + 0.5 * jnp.sum(v * v)))
    per_point = wrap(jax.vmap(jax.hessian(u)))
    a, b = jnp.asarray(SEED000["a"]), jnp.asarray(SEED000["b"])
    x, xh, P = jnp.asarray(JAC["x"]), jnp.asarray(HESS["x"]), jnp.asarray(PINN["P"])

    def ready(f: Callable[[], object]) -> Callable[[], object]:
        return lambda: jax.block_until_ready(f())

    return {
        "a_seed000_grad": ready(lambda: seed(a, b)),
        "b_mlp_grad": ready(lambda: mlp(params)),
        "c_jacobian_tanh_256": ready(lambda: jac(x)),
        "d_hessian_logsumexp": ready(lambda: hess(xh)),
        "e_per_point_hessians": ready(lambda: per_point(P)),
    }


def tensorflow_calls() -> Calls:
    if not available("tensorflow"):
        return {}
    import tensorflow as tf

    if os.environ.get("BENCH_THREADS"):
        threads = int(os.environ["BENCH_THREADS"])
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    f64 = tf.float64
    t = {k: tf.constant(v) for k, v in MLP.items()}
    params = [tf.Variable(MLP[k]) for k in ("W1", "b1", "W2", "b2", "W3", "b3")]
    a, b = tf.Variable(SEED000["a"]), tf.Variable(SEED000["b"])
    W, A = tf.constant(JAC["W"]), tf.constant(HESS["A"])
    x, xh, P = tf.constant(JAC["x"]), tf.constant(HESS["x"]), tf.constant(PINN["P"])
    pw = {k: tf.constant(v, dtype=f64) for k, v in PINN.items()}

    @tf.function
    def seed():
        with tf.GradientTape() as tape:
            y = tf.reduce_sum(tf.matmul(tf.sin(a), b))
        return tape.gradient(y, [a, b])

    @tf.function
    def mlp():
        with tf.GradientTape() as tape:
            w1, b1, w2, b2, w3, b3 = params
            h = tf.tanh(tf.tanh(t["X"] @ w1 + b1) @ w2 + b2)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                t["labels"], h @ w3 + b3))
        return tape.gradient(loss, params)

    @tf.function
    def jac():
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.tanh(tf.linalg.matvec(W, x))
        return tape.jacobian(y, x)

    @tf.function
    def hess():
        with tf.GradientTape() as outer:
            outer.watch(xh)
            with tf.GradientTape() as inner:
                inner.watch(xh)
                f = tf.reduce_logsumexp(tf.linalg.matvec(A, xh)) + 0.5 * tf.reduce_sum(xh * xh)
            g = inner.gradient(f, xh)
        return outer.jacobian(g, xh)

    @tf.function
    def per_point():
        with tf.GradientTape() as outer:
            outer.watch(P)
            with tf.GradientTape() as inner:
                inner.watch(P)
                h = tf.tanh(tf.tanh(P @ pw["W1"] + pw["b1"]) @ pw["W2"] + pw["b2"])
                u = tf.reduce_sum(h @ pw["W3"] + pw["b3"])
            g = inner.gradient(u, P)
        return outer.batch_jacobian(g, P)

    return {"a_seed000_grad": seed, "b_mlp_grad": mlp, "c_jacobian_tanh_256": jac,
            "d_hessian_logsumexp": hess, "e_per_point_hessians": per_point}
