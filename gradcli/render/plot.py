"""`gradcli plot`: a function of one swept input and its derivatives, drawn
on one figure (matplotlib, the optional extra `gradcli[plot]`).

How the curves are computed.  The swept input (or one component of an
input, `--over 'inp[0,0]=0:1:101'`) must hold a single number; every other
input keeps its value.  Replacing the input by the whole grid at once would
be wrong in general (`sum(x * w)` or `mean(x)` would mix the points), so the
curves are the derivative graphs of ONE point, vmapped over the grid:

  1. for each output component f, the nested gradients d^k f/dx^k
     (k = 1..order) are built as graphs, exactly as `grad --order k` builds
     them (for a single number, the nested gradient IS the k-th derivative);
  2. `batching.vmap` gives every node a leading axis of grid points, the
     swept input being replaced by the grid;
  3. the batched program is planned once and run once per chunk of points.

No Python loop runs over the points (DESIGN: vectorise, never loop), yet
each point is computed exactly as the single-point graph would; a test
checks the curves against `Problem.grad(values=...)` point by point.
Memory is bounded by sizing the chunks from the graph's size.

matplotlib is imported only when a figure is rendered, with its Agg
canvas and the object API (no pyplot, no global backend switch).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcli.errors import Location, SpecError

MISSING_MATPLOTLIB = "plotting needs matplotlib: pip install 'gradcli[plot]'"
DEFAULT_POINTS = 201
MAX_POINTS = 1_000_000
MAX_CURVES = 12  # output components: beyond this a figure is unreadable
CHUNK_ELEMENTS = 20_000_000  # elements of all intermediate arrays in one batched pass
SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


@dataclass(frozen=True)
class Over:
    """`--over SOURCE=START:STOP[:POINTS]`."""

    source: str
    start: float
    stop: float
    points: int

    def grid(self) -> np.ndarray:
        return np.linspace(self.start, self.stop, self.points)


@dataclass(frozen=True)
class Series:
    """One curve: the order-th derivative of one output component."""

    output: str      # "y" or "y[1]"
    order: int
    values: np.ndarray


@dataclass(frozen=True)
class Curves:
    title: str
    over: Over
    grid: np.ndarray
    series: tuple[Series, ...]
    notes: tuple[str, ...] = ()


def parse_over(text: str, problem: Any) -> Over:
    """`x=-3:3:201`; bounds may be constant expressions (`x=-pi:pi`)."""
    from gradcli.language.specfile import ConstExpr

    source, sep, bounds = text.partition("=")
    parts = bounds.split(":")
    if not sep or not source.strip() or len(parts) not in (2, 3):
        raise SpecError(f"--over needs SOURCE=START:STOP[:POINTS], like x=-3:3:201; got "
                        f"'{text}'", "--over")
    where = Location("--over", 1, len(source) + 2)
    try:
        start, stop = (float(problem.constant_value(ConstExpr(p, where)))
                       for p in parts[:2])
    except (SpecError, TypeError, ValueError) as exc:
        message = exc.message if isinstance(exc, SpecError) else str(exc)
        raise SpecError(f"--over {text}: the bounds must be numbers: {message}",
                        "--over") from None
    points = DEFAULT_POINTS
    if len(parts) == 3:
        if not parts[2].strip().isdigit():
            raise SpecError(f"--over {text}: POINTS must be a whole number, like 201",
                            "--over")
        points = int(parts[2])
    if not 2 <= points <= MAX_POINTS:
        raise SpecError(f"--over {text}: POINTS must be between 2 and {MAX_POINTS}", "--over")
    if not (np.isfinite(start) and np.isfinite(stop)) or start == stop:
        raise SpecError(f"--over {text}: START and STOP must be finite and different",
                        "--over")
    return Over(source.strip(), start, stop, points)


def sweep(problem: Any, over: Over, order: int = 1,
          outputs: Sequence[str] | None = None) -> Curves:
    """Every selected output component and its derivatives 1..order along the grid."""
    from gradcli.language.wrt import parse_source

    if order < 0:
        raise SpecError("--order must be 0 or more", "--order")
    source = parse_source(over.source, problem.named, "--over")
    x, shape = _swept_leaf(problem, source, over)
    chosen = problem.select_outputs(outputs)
    nodes, labels, notes = _derivative_graphs(_components(chosen), source, x, order)
    columns = _run_over_grid(problem, nodes, source, x, shape, over)
    series = tuple(Series(label, k, column) for (label, k), column in zip(labels, columns))
    if any(not np.all(np.isfinite(s.values)) for s in series):
        notes.append("some values are NaN or infinite; a figure leaves them out")
    if problem.spec.file == "--expr":  # -e: the expression says more than a name
        title = "; ".join(f"{e.name} = {e.text}" for e in problem.spec.outputs)
    else:
        title = f"{problem.spec.name}: {', '.join(n for n, _ in chosen)} over {over.source}"
    return Curves(title, over, over.grid().astype(x.dtype), series, tuple(notes))


def _swept_leaf(problem: Any, source: Any, over: Over) -> tuple[Any, tuple[int, ...]]:
    """The input leaf behind `--over` and the shape of the swept part (one number)."""
    from gradcli.engine.ops.structure import selected_shape

    x = problem.leaves.get(source.name)
    if x is None or problem.named.get(source.name) is not x:
        raise SpecError(f"--over sweeps an input; '{source.name}' is an expression (let or "
                        "output): sweep the inputs it is computed from", "--over")
    shape = x.shape if source.index is None else selected_shape(x.shape, source.index)
    if int(np.prod(shape, dtype=np.int64)) != 1:
        raise SpecError(f"--over {over.source} holds {int(np.prod(shape))} numbers (shape "
                        f"{shape}); sweep a single number, e.g. one component like "
                        f"{source.name}[{', '.join('0' * len(x.shape)) or '0'}]", "--over")
    return x, shape


def _components(chosen: Sequence[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """(label, scalar node) for every element of the chosen outputs."""
    from gradcli.engine.ops import nodes as N
    from gradcli.engine.ops.structure import getitem

    functions: list[tuple[str, Any]] = []
    for name, node in chosen:
        if not node.is_float:
            raise SpecError(f"output '{name}' is {node.dtype}: only float outputs can be "
                            "plotted", "--output")
        for flat in range(node.size):
            index = tuple(int(i) for i in np.unravel_index(flat, node.shape))
            # A one-element output (a (1, 1) network output) is just its name.
            label = name + (f"[{', '.join(map(str, index))}]" if node.size > 1 else "")
            element = getitem(node, index) if node.shape else node
            functions.append((label, N.reshape(element, ())))
    if len(functions) > MAX_CURVES:
        raise SpecError(f"the selected outputs have {len(functions)} components; a plot "
                        f"shows at most {MAX_CURVES}: select fewer with --output, or reduce "
                        "them in an expression (sum, mean, an index)", "--output")
    return functions


def _derivative_graphs(functions: list[tuple[str, Any]], source: Any, x: Any, order: int
                       ) -> tuple[list[Any], list[tuple[str, int]], list[str]]:
    """Each function and its nested gradients w.r.t. the swept number, as
    scalar nodes of one point, with (label, order) and notes in words."""
    from gradcli.engine.ops import nodes as N
    from gradcli.engine.ops.structure import getitem

    nodes: list[Any] = []
    labels: list[tuple[str, int]] = []
    notes: list[str] = []
    for label, f in functions:
        current = f
        nodes.append(f)
        labels.append((label, 0))
        for k in range(1, order + 1):
            (g,) = _grad_of_sum(current, x)
            if g is not None and source.index is not None:
                g = getitem(g, source.index)
            if g is None:
                if k == 1:
                    notes.append(f"{label} does not depend on {source.key}: its derivatives "
                                 "are 0")
                g = N.fill(0.0, (), f.dtype)
            current = N.reshape(g, ())
            nodes.append(current)
            labels.append((label, k))
    return nodes, labels, notes


def _run_over_grid(problem: Any, nodes: list[Any], source: Any, x: Any,
                   shape: tuple[int, ...], over: Over) -> list[np.ndarray]:
    """The one-point graphs vmapped over the grid, run chunk by chunk (the
    last chunk padded, so one planned program serves them all)."""
    from gradcli.engine.batching import vmap
    from gradcli.engine.evaluate import plan
    from gradcli.engine.graph import leaf, toposort
    from gradcli.engine.ops import apply
    from gradcli.engine.ops import nodes as N

    point = leaf("sweep-point", (), x.dtype)  # the swept number, then its batch
    if source.index is None:
        swept = N.reshape(point, x.shape)
    else:
        swept = apply("setitem", (x, N.reshape(point, shape)), {"index": source.index})
    per_point = max(1, sum(n.size for n in toposort(nodes)))
    chunk = max(1, min(over.points, CHUNK_ELEMENTS // per_point))
    (stacked,) = vmap([swept], {id(point): leaf("sweep-grid", (chunk,), x.dtype)})
    program = plan(vmap(nodes, {id(x): stacked}))
    grid = over.grid().astype(x.dtype)
    values = dict(problem.inputs_for(None))
    parts: list[list[np.ndarray]] = [[] for _ in nodes]
    for start in range(0, over.points, chunk):
        part = grid[start:start + chunk]
        padded = np.concatenate([part, np.full(chunk - len(part), part[-1], dtype=x.dtype)])
        arrays = program.run({**values, "sweep-grid": padded})
        for column, array in zip(parts, arrays):
            column.append(np.asarray(array)[: len(part)])
    return [np.concatenate(column) for column in parts]


def _grad_of_sum(f: Any, x: Any) -> list[Any]:
    """d(sum of f)/dx as a graph (None when f does not depend on x)."""
    from gradcli.engine.autodiff import sum_all, vjp
    from gradcli.engine.ops import nodes as N

    total = sum_all(f)
    return vjp([total], [N.fill(1.0, (), total.dtype)], [x])


# ---- output ------------------------------------------------------------------------

def series_label(series: Series, over: str) -> str:
    """y, dy/dx, d²y/dx², ... (Leibniz notation, as the user would write it)."""
    if series.order == 0:
        return series.output
    power = "" if series.order == 1 else str(series.order).translate(SUPERSCRIPTS)
    if len(series.output) == 1 and len(over) == 1:
        return f"d{power}{series.output}/d{over}{power}"
    return f"d{power} {series.output}/d {over}{power}"  # spaced: d² loss/d w[0]²


def render_csv(curves: Curves, precision: int = 17) -> bytes:
    """The points as CSV: one column for the grid, one per curve."""
    header = [curves.over.source] + [series_label(s, curves.over.source) for s in curves.series]
    rows = [",".join(_csv_cell(h) for h in header)]
    columns = [curves.grid] + [s.values for s in curves.series]
    for i in range(len(curves.grid)):
        rows.append(",".join(_number(float(c[i]), precision) for c in columns))
    return ("\n".join(rows) + "\n").encode("utf-8")


def _csv_cell(text: str) -> str:
    return f'"{text}"' if any(c in text for c in ',"\n') else text


def _number(value: float, precision: int) -> str:
    if np.isnan(value):
        return "nan"
    if np.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(value) if precision >= 17 else f"{value:.{precision}g}"


def require_matplotlib() -> None:
    """Fail early, before any computing, when the extra is not installed."""
    try:
        import matplotlib  # noqa: F401 - only its presence is checked
    except ImportError:
        raise SpecError(MISSING_MATPLOTLIB) from None


def render_figure(curves: Curves, fmt: str = "png", size: tuple[int, int] = (800, 500),
                  dpi: int = 100, stacked: bool = False) -> bytes:
    """PNG or SVG bytes of exactly `size` pixels (no tight bounding box, so
    the size asked for is the size written)."""
    require_matplotlib()
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if fmt not in ("png", "svg"):
        raise SpecError(f"a figure is png or svg, not {fmt}", "--format")
    width, height = size
    figure = Figure(figsize=(width / dpi, height / dpi), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    orders = sorted({s.order for s in curves.series})
    outputs = list(dict.fromkeys(s.output for s in curves.series))
    rows = len(orders) if stacked else 1
    axes = figure.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
    colours = matplotlib.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    dashes = ["-", "--", ":", "-."]
    for s in curves.series:
        ax = axes[orders.index(s.order)] if stacked else axes[0]
        if len(outputs) == 1 or stacked:
            key = outputs.index(s.output) if stacked else s.order
            colour, style = colours[key % len(colours)], "-"
        else:
            colour = colours[outputs.index(s.output) % len(colours)]
            style = dashes[s.order % len(dashes)]
        values = np.where(np.isfinite(s.values), s.values, np.nan)
        ax.plot(curves.grid, values, style, color=colour, linewidth=1.6,
                label=series_label(s, curves.over.source))
    for ax in axes:
        low, high = ax.dataLim.y0, ax.dataLim.y1
        if low <= 0.0 <= high:  # a zero line only where it does not squash the curves
            ax.axhline(0.0, color="0.6", linewidth=0.8, zorder=0)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", fontsize="small")
    axes[-1].set_xlabel(curves.over.source)
    axes[0].set_title(curves.title, fontsize="medium")
    buffer = io.BytesIO()
    # Fixed metadata and svg ids: the same spec gives byte-identical files.
    metadata = {"Date": None} if fmt == "svg" else {"Software": "gradcli"}
    with matplotlib.rc_context({"svg.hashsalt": "gradcli", "svg.fonttype": "path"}):
        figure.savefig(buffer, format=fmt, dpi=dpi, metadata=metadata)
    return buffer.getvalue()
