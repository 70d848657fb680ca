"""The properties of tests/test_random_programs.py, checked on ONE program.

`check(spec)` loads the program P and its zero-perturbation twin Q (every
`let h: expr` rewritten as `h: (expr) + eps_h` with an input eps_h of zeros:
DESIGN.md's definition of a let source), then checks

  a0  P.evaluate() == Q.evaluate() (adding zeros changes no value)
  a1  P.grad wrt inputs and lets == Q.grad wrt inputs and eps_*  (all at once)
  a1s P.grad(wrt=[h]) alone == Q.grad(wrt=[eps_h])
  a2  the same for grad(order=2)
  b   P.grad(wrt=['s[i]'])['s[i]'] == P.grad(wrt=['s'])['s'][i]; b-none: None exactly
      when the whole source is unconnected (docs/spec.md: a component of a
      connected source is never None; of an unconnected one, it is unconnected too)
  c   P.jacobian rev == fwd (c-fwd) == stacked VJPs with cotangents e_k (c-vjp)
  d   P.hessian symmetric (d-sym), == the Jacobian of Q's gradient by central
      differences (d-fd)
  e   load(spec) == load(spec, rules=NO_RULES): values, gradients, Hessian
  f   P.grad . v == central differences of the forward program along v
      (inputs through P.evaluate(values=), lets through Q's eps_h); f-ref
      checks Q's gradients (inputs only) the same way

and returns the failures, each tagged with the property and whether the
source is an input or a let.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field

import numpy as np
from kinks import at_a_kink

import gradcli
from gradcli.errors import GradcliError

RTOL_AD = 1e-9  # two derivative programs of the same function (rounding only)
RTOL_FD = 1e-6  # Richardson-extrapolated central differences, h = 1e-3 .. 2.5e-4
STEP = 1e-3


@dataclass
class Failure:
    prop: str
    kind: str  # "input", "let" or "-" (the call itself)
    source: str
    message: str

    @property
    def tag(self) -> str:
        return f"{self.prop}:{self.kind}"


@dataclass
class Outcome:
    spec: dict
    rejected: str = ""
    failures: list[Failure] = field(default_factory=list)
    inconclusive: int = 0  # finite differences across a kink (not counted as failures)
    seed: int = -1


def run_seed(seed: int) -> Outcome:
    """The outcome of the program drawn from `seed` (for a process pool)."""
    from randprog import Seeded, program

    try:
        import gradcli.engine.rules  # noqa: F401 - property (e) once the rules table exists
        rules = True
    except ImportError:
        rules = False
    outcome = check(program(Seeded(seed)), seed, rules=rules)
    outcome.seed = seed
    return outcome


def eps_spec(spec: dict, shapes: dict[str, tuple[int, ...]]) -> dict:
    """The spec with every let h rewritten as (expr) + eps_h, eps_h a zero input."""
    inputs = dict(spec["inputs"])
    lets = {}
    for name, text in spec["let"].items():
        inputs[f"eps_{name}"] = np.zeros(shapes[name]).tolist() if shapes[name] else 0.0
        lets[name] = f"({text}) + eps_{name}"
    return {**spec, "inputs": inputs, "let": lets}


def _arr(x: object, shape: tuple[int, ...]) -> np.ndarray:
    return np.zeros(shape) if x is None else np.asarray(x, dtype=float)


def mismatch(got: object, want: object, shape: tuple[int, ...], rtol: float = RTOL_AD,
             scale: float = 0.0, strict_none: bool = False) -> str:
    """'' if close: |got - want| <= rtol * (max|got| + max|want| + scale) elementwise."""
    if strict_none and (got is None) != (want is None):
        return f"None vs value: got {_short(got)}, want {_short(want)}"
    a, b = _arr(got, shape), _arr(want, shape)
    if a.shape != b.shape:
        return f"shape {a.shape} != {b.shape}"
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        same = np.array_equal(a, b, equal_nan=True)
        return "" if same else f"non-finite: got {_short(got)}, want {_short(want)}"
    tol = rtol * (np.max(np.abs(a), initial=0) + np.max(np.abs(b), initial=0) + scale) + 1e-300
    err = np.max(np.abs(a - b), initial=0)
    return "" if err <= tol else f"max error {err:.3g} > tol {tol:.3g}: got {_short(got)}, " \
                                 f"want {_short(want)}"


def _short(x: object) -> str:
    if x is None:
        return "None"
    return np.array2string(np.asarray(x), precision=6, threshold=30, max_line_width=200)


def richardson(fn, h: float) -> tuple[np.ndarray, ...]:  # noqa: ANN001
    """fn(t) -> array; returns (R2, |R2 - R1|, |A(h/4)|, |A(h/2)|, max |fn|): R1, R2
    the Richardson estimates of fn'(0) from steps (h, h/2) and (h/2, h/4), A the
    second differences (O(h) where fn is smooth, O(1) at a kink)."""
    f0 = np.asarray(fn(0.0), dtype=float)
    d, a, size = [], [], np.abs(f0)
    for step in (h, h / 2, h / 4):
        fp, fm = np.asarray(fn(step), dtype=float), np.asarray(fn(-step), dtype=float)
        d.append((fp - fm) / (2 * step))
        a.append(np.abs(fp - 2 * f0 + fm) / step)
        size = np.maximum(size, np.maximum(np.abs(fp), np.abs(fm)))
    r1, r2 = (4 * d[1] - d[0]) / 3, (4 * d[2] - d[1]) / 3
    return r2, np.abs(r2 - r1), a[2], a[1], size


def fd_verdict(engine: np.ndarray, fn, scale: float) -> tuple[str, bool]:  # noqa: ANN001
    """('' or a message, inconclusive) comparing engine with d fn/dt at 0."""
    est, spread, a4, a2, size = richardson(fn, STEP)
    engine = np.asarray(engine, dtype=float)
    # What differences of a smooth fn get right: rounding is ~1e-16 |fn| / step.
    noise = RTOL_FD * (np.abs(est) + size) + 1e-300
    tol = RTOL_FD * (np.abs(engine) + np.abs(est) + size + scale) + 1e-300
    kink = (a4 > noise) & (a4 > 0.75 * a2)  # a slope jump that does not shrink with h
    shaky = spread > 0.25 * noise  # the extrapolations disagree: a kink within a step
    bad = (np.abs(engine - est) > tol) & ~kink & ~shaky
    if np.any(bad):
        return (f"engine {_short(engine)} vs finite differences {_short(est)} "
                f"(tol {np.max(tol):.3g})"), False
    return "", bool(np.any(kink | shaky))


def check(spec: dict, seed: int = 0, rules: bool = True, only: str = "abcdfe") -> Outcome:
    """All properties on one program (see the module docstring); `only`: some of them."""
    out = Outcome(spec)
    try:
        P = gradcli.load(spec)
        values = P.evaluate()
    except GradcliError as exc:
        out.rejected = f"{type(exc).__name__}: {exc}"
        return out
    flat = [np.asarray(v, dtype=float) for v in values.values()]
    if not all(np.all(np.isfinite(v)) and np.all(np.abs(v) < 1e8) for v in flat):
        out.rejected = "non-finite or huge output"
        return out
    ctx = Ctx(P, spec, seed, out)
    # The magnitude of the program's values: derivative terms are of this order
    # (inputs are O(1)), so it bounds the rounding error where a result cancels to 0.
    named = P.evaluate(outputs=list(spec.get("let", {})) + list(values))
    ctx.vscale = max(float(np.max(np.abs(np.asarray(v, dtype=float)), initial=0))
                     for v in named.values())
    ctx.fscale = max(float(sum(np.sum(np.abs(v)) for v in flat)), ctx.vscale)
    steps = (prop_a, prop_b, prop_c, prop_d, prop_f) + ((prop_e,) if rules else ())
    ctx.fd = "stop_gradient" not in str(spec)  # its derivative is not that of the values
    for number, step in enumerate(steps):
        if step.__name__[-1] not in only and step is not prop_a:
            continue
        ctx.rng = np.random.default_rng([seed, number])  # each property its own choices
        try:
            step(ctx)
        except Exception as exc:  # a crash is a failure of that property, never lost
            out.failures.append(Failure("raised", "-", step.__name__,
                                        f"raised {type(exc).__name__}: {exc}\n"
                                        f"{traceback.format_exc(limit=-3)}"))
    return out


class Ctx:
    """What the property checks share: P, Q, the sources and their kinds."""

    def __init__(self, P: gradcli.api.Problem, spec: dict, seed: int, out: Outcome) -> None:
        self.P, self.spec, self.out = P, spec, out
        self.rng = np.random.default_rng(seed)
        self.lets = list(spec.get("let", {}))
        self.inputs = [n for n, node in P.leaves.items() if node.is_float]
        self.sources = self.inputs + self.lets
        self.shape = {s: tuple(P.named[s].shape) for s in self.sources}
        self.kind = {s: "input" if s in self.inputs else "let" for s in self.sources}
        self.ref = {s: s if s in self.inputs else f"eps_{s}" for s in self.sources}
        self.Q = gradcli.load(eps_spec(spec, self.shape))
        self.base = dict(self.Q.values)
        self.fscale = 0.0
        self.fd = True  # finite differences apply (no stop_gradient)
        self.gscale = 0.0  # the largest reference gradient or value: the scale of terms
        self.vscale = 0.0

    def fail(self, prop: str, source: str, message: str) -> None:
        if message:
            kind = self.kind.get(source.split("[")[0], "-")
            self.out.failures.append(Failure(prop, kind, source, message))

    def ref_grad(self, sources: list[str], order: int = 1) -> dict[str, object]:
        got = self.Q.grad(wrt=[self.ref[s] for s in sources], order=order)
        return {s: got[self.ref[s]] for s in sources}

    def pick(self, items: list[str], k: int) -> list[str]:
        if len(items) <= k:
            return list(items)
        return [items[i] for i in sorted(self.rng.choice(len(items), k, replace=False))]


def prop_a(c: Ctx) -> None:
    qvals = c.Q.evaluate()
    for name, value in c.P.evaluate().items():  # adding zeros changes no value
        c.fail("a0", name, mismatch(value, qvals[name], np.shape(value), scale=c.fscale))
    want = c.ref_grad(c.sources)
    c.want1 = want
    c.gscale = max([float(np.max(np.abs(_arr(want[s], c.shape[s])), initial=0))
                    for s in c.sources] + [c.vscale])
    got = c.P.grad(wrt=c.sources)
    c.got1 = got
    for s in c.sources:
        c.fail("a1", s, mismatch(got[s], want[s], c.shape[s], scale=c.gscale,
                                      strict_none=True))
    for h in c.pick(c.lets, 1):
        alone = c.P.grad(wrt=[h])[h]
        c.fail("a1s", h, mismatch(alone, want[h], c.shape[h], scale=c.gscale,
                                        strict_none=True))
    second = c.pick(c.lets, 1)
    want2 = c.ref_grad(second, order=2)
    got2 = c.P.grad(wrt=second, order=2)
    scale2 = max([float(np.max(np.abs(_arr(want2[s], c.shape[s])), initial=0))
                  for s in second] + [c.gscale])
    for s in second:
        c.fail("a2", s, mismatch(got2[s], want2[s], c.shape[s], scale=scale2,
                                 strict_none=True))


def component(shape: tuple[int, ...], rng: np.random.Generator) -> tuple[str, tuple]:
    n0 = shape[0]
    forms = [(f"{n0 - 1}", (n0 - 1,)), ("0", (0,)), ("-1", (-1,)), ("1:", (slice(1, None),))]
    if len(shape) >= 2:
        forms += [(f":, {shape[1] - 1}", (slice(None), shape[1] - 1)), ("0, 0", (0, 0))]
    forms = [f for f in forms if np.zeros(shape)[f[1]].size]
    return forms[rng.integers(len(forms))]


def prop_b(c: Ctx) -> None:
    comps = {}
    for s in c.sources:
        if c.shape[s]:
            text, idx = component(c.shape[s], c.rng)
            comps[f"{s}[{text}]"] = (s, idx)
    if not comps:
        return
    got = c.P.grad(wrt=list(comps))
    for key, (s, idx) in comps.items():
        if c.got1[s] is None:
            if got[key] is not None:
                c.fail("b-none", key, "a component of an unconnected source is not None")
            continue
        full = _arr(c.got1[s], c.shape[s])[idx]
        if got[key] is None:
            c.fail("b", key, f"None, but the full gradient's component is {_short(full)}")
        else:
            c.fail("b", key, mismatch(got[key], full, full.shape, scale=c.gscale))


def prop_c(c: Ctx) -> None:
    srcs = c.pick(c.inputs, 1) + c.pick(c.lets, 1)
    rev = c.P.jacobian(mode="rev", wrt=srcs)
    fwd = c.P.jacobian(mode="fwd", wrt=srcs)
    shapes = {y: tuple(node.shape) for y, node in c.P.outputs.items()}
    zeros = {y: np.zeros(shape) for y, shape in shapes.items()}
    for y, yshape in shapes.items():
        rows: dict[str, list[np.ndarray]] = {s: [] for s in srcs}
        for k in range(int(np.prod(yshape, dtype=int))):  # row k: the VJP with e_k on y
            e = np.zeros(int(np.prod(yshape, dtype=int)))
            e[k] = 1.0
            g = c.P.grad(wrt=srcs, cotangent={**zeros, y: e.reshape(yshape)})
            for s in srcs:
                rows[s].append(_arr(g[s], c.shape[s]))
        for s in srcs:
            shape = yshape + c.shape[s]
            stacked = np.stack(rows[s]).reshape(shape)
            c.fail("c-fwd", s, mismatch(fwd[y][s], rev[y][s], shape, scale=c.gscale))
            c.fail("c-vjp", s, mismatch(rev[y][s], stacked, shape, scale=c.gscale))


def _contract(block: object, shape_i: tuple, shape_j: tuple, v: np.ndarray) -> np.ndarray:
    b = _arr(block, shape_i + shape_j).reshape(int(np.prod(shape_i, dtype=int)), -1)
    return (b @ v.reshape(-1)).reshape(shape_i)


def prop_d(c: Ctx) -> None:
    small = [s for s in c.sources if np.prod(c.shape[s], dtype=int) <= 6]
    srcs = c.pick([s for s in small if s in c.inputs], 1) + c.pick(
        [s for s in small if s in c.lets], 1)
    if not srcs:
        return
    H = c.P.hessian(wrt=srcs)
    hscale = max([float(np.max(np.abs(_arr(H[i][j], c.shape[i] + c.shape[j])), initial=0))
                  for i in srcs for j in srcs] + [c.gscale])
    for i in srcs:
        for j in srcs:
            si, sj = c.shape[i], c.shape[j]
            tr = np.transpose(_arr(H[j][i], sj + si),
                              tuple(range(len(sj), len(sj) + len(si))) + tuple(range(len(sj))))
            msg = mismatch(H[i][j], tr, si + sj, scale=hscale)
            if msg:
                kind = "input" if i in c.inputs and j in c.inputs else "let"
                c.out.failures.append(Failure("d-sym", kind, f"{i} (H[{i}][{j}])", msg))
    # At an exact tie of max/min (or an abs at 0, a comparison with equal
    # sides) the gradient is not differentiable: the engine's Hessian follows
    # the documented convention (ties split evenly), which a difference
    # quotient of the gradient along one direction cannot see.
    for j in srcs if c.fd and not at_a_kink(c.P) else ():
        v = c.rng.standard_normal(c.shape[j])
        ins = [s for s in srcs if s in c.inputs]
        # Q's gradients along v (P's for pairs of inputs, which need no rewrite)
        fq = _grads(c.Q, [c.ref[s] for s in c.sources], c.ref[j], c.base[c.ref[j]], v)
        fp = _grads(c.P, ins, j, c.base[j], v) if j in c.inputs and ins else fq
        for i in srcs:
            engine = _contract(H[i][j], c.shape[i], c.shape[j], v)
            pair_of_inputs = i in c.inputs and j in c.inputs
            fn, key = (fp, i) if pair_of_inputs else (fq, c.ref[i])
            msg, shaky = fd_verdict(engine, lambda t, fn=fn, key=key, i=i: _arr(
                fn(t)[key], c.shape[i]), c.gscale + hscale)
            c.out.inconclusive += shaky
            if msg:
                c.out.failures.append(Failure("d-fd", "input" if pair_of_inputs else "let",
                                              f"{i} (d/d{j} of grad {i})", msg))


def _total(problem: gradcli.api.Problem, name: str, base: np.ndarray, v: np.ndarray):
    """t -> the sum of all outputs with input `name` at base + t v (memoised)."""
    cache: dict[float, float] = {}

    def total(t: float) -> float:
        if t not in cache:
            vals = problem.evaluate(values={name: base + t * v})
            cache[t] = float(sum(np.sum(a) for a in vals.values()))
        return cache[t]
    return total


def _grads(problem: gradcli.api.Problem, wrt: list[str], name: str, base: np.ndarray,
           v: np.ndarray):
    """t -> problem's gradients with input `name` at base + t v (memoised)."""
    cache: dict[float, dict] = {}

    def grads(t: float) -> dict:
        if t not in cache:
            cache[t] = problem.grad(wrt=wrt, values={name: base + t * v})
        return cache[t]
    return grads


def prop_f(c: Ctx) -> None:
    if not c.fd:
        return
    for s in c.sources:
        v = c.rng.standard_normal(c.shape[s])
        name = c.ref[s]
        fq = _total(c.Q, name, c.base[name], v)
        fp = _total(c.P, s, c.base[s], v) if s in c.inputs else fq
        engine = float(np.sum(_arr(c.got1[s], c.shape[s]) * v))
        msg, shaky = fd_verdict(np.array(engine), fp, c.fscale)
        c.out.inconclusive += shaky
        c.fail("f", s, msg)
        reference = float(np.sum(_arr(c.want1[s], c.shape[s]) * v))
        msg, _ = fd_verdict(np.array(reference), fq, c.fscale)
        c.fail("f-ref", s, msg)


def prop_e(c: Ctx) -> None:
    try:
        from gradcli.engine.rules import NO_RULES
    except ImportError:
        return
    P0 = gradcli.load(c.spec, rules=NO_RULES)
    plain = P0.evaluate()
    for name, value in c.P.evaluate().items():
        c.fail("e", name, mismatch(value, plain[name], np.shape(value), scale=c.fscale))
    g0 = P0.grad(wrt=c.sources)
    for s in c.sources:
        c.fail("e", s, mismatch(c.got1[s], g0[s], c.shape[s], scale=c.gscale,
                                strict_none=True))
    srcs = c.pick(c.inputs, 1) + c.pick(c.lets, 1)
    H, H0 = c.P.hessian(wrt=srcs), P0.hessian(wrt=srcs)
    hscale = max([float(np.max(np.abs(_arr(H0[i][j], c.shape[i] + c.shape[j])), initial=0))
                  for i in srcs for j in srcs] + [c.gscale])
    for i in srcs:
        for j in srcs:
            c.fail("e", f"{i},{j}", mismatch(H[i][j], H0[i][j], c.shape[i] + c.shape[j],
                                             scale=hscale))

