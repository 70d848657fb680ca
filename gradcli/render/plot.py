"""`gradcli plot` output: the curves of a sweep (`engine/sweep.py`) as CSV
points or a figure (matplotlib, the optional extra `gradcli[plot]`).

matplotlib is imported only when a figure is rendered, with its Agg
canvas and the object API (no pyplot, no global backend switch).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np

from gradcli.errors import SpecError

if TYPE_CHECKING:
    from gradcli.engine.sweep import Curves, Series

MISSING_MATPLOTLIB = "plotting needs matplotlib: pip install 'gradcli[plot]'"
SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


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
