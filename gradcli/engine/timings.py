"""Where the time of one command goes (`--timings`): phases accumulate wall
time; a Problem carries one clock, the CLI adds loading and rendering."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Clock:
    """Accumulated seconds per phase, in the order phases first ran."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

    def report(self, total: float | None = None) -> str:
        """One line per phase; with the command's wall time, also what the
        phases do not cover (option parsing, imports, command logic)."""
        rows = dict(self.seconds)
        if total is not None:
            rows["other (options, imports, command logic)"] = max(
                0.0, total - sum(self.seconds.values()))
        width = max((len(k) for k in rows), default=5)
        lines = [f"gradcli: timings: {k:<{width}} {v * 1e3:9.3f} ms" for k, v in rows.items()]
        whole = sum(self.seconds.values()) if total is None else total
        lines.append(f"gradcli: timings: {'total':<{width}} {whole * 1e3:9.3f} ms")
        return "\n".join(lines)
