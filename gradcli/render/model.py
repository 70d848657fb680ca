"""What a command computed, in a form every output format can render.

The CLI turns engine results into one `Result`; each format module only reads
it. Keeping the data format-neutral is what makes `--format json` and
`--format csv` agree on every number and every key.

`eq=False` on both dataclasses: their fields hold numpy arrays and mappings,
which cannot be hashed and do not compare to a single bool, so the generated
`__eq__`/`__hash__` of a plain frozen dataclass would raise when used. Identity
semantics are the honest choice for containers of arrays.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True, eq=False)
class Entry:
    """One computed quantity.

    `path` is where it sits in the JSON document, e.g. ("grad", "a") or
    ("jacobian", "y", "a"); keys are kept exactly as the user wrote them
    ("inp[0,0]"). `value` None means unconnected (JSON null).
    """

    path: tuple[str, ...]
    title: str
    value: np.ndarray | None
    note: str = ""
    # For Jacobian/Hessian blocks: how many leading axes index the "row"
    # quantity (the output, or source i); text output then also shows the
    # block as a rows x columns matrix, as mathematicians write it.
    row_axes: int | None = None

    def __post_init__(self) -> None:
        # Checked here so a wrong call fails where it is made, not deep in a
        # format module (and not only for the formats a test happens to use).
        if not self.path or not all(isinstance(p, str) and p for p in self.path):
            raise ValueError(f"Entry.path must be non-empty strings, got {self.path!r}")


@dataclass(frozen=True, eq=False)
class Result:
    """Everything one command prints.

    `meta` holds extra top-level JSON keys placed after "command" and before
    the sections (e.g. {"order": 1, "dtype": "float64"}); `summary` are the
    lines the text format prints first, saying what was computed.
    `sections` are top-level keys a document always carries, as {} when no
    entry falls under them, so readers never need to test for the key;
    `notes` are what the CLI says on stderr about it.
    """

    command: str
    entries: tuple[Entry, ...]
    meta: Mapping[str, Any] = field(default_factory=dict)
    summary: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()
    # Diagnostics for stderr (why a source is unconnected); no format renders
    # them: the CLI prints them, so stdout carries results only.
    notes: tuple[str, ...] = ()
