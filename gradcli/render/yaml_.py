"""`--format yaml`: the JSON document's structure as YAML.

Same keys, same order and the same digits as json (float32 with its own
shortest digits); non-finite numbers use YAML's native .nan/.inf/-.inf since
YAML, unlike JSON, has them. Collections of scalars are written in flow style
(`[1.0, 2.0]`) so a matrix reads as one row per line. Full precision, like json:
`--precision` applies only to the human formats (text, csv).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import yaml

from .model import Result
from .tree import array_to_python, as_array, nested_sections


def _leaf(value: np.ndarray | None) -> Any:
    return None if value is None else array_to_python(as_array(value))


def render_yaml(result: Result) -> bytes:
    """The whole result as one YAML document, UTF-8, ending in a newline."""
    doc = nested_sections(result, _leaf)
    text = yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, allow_unicode=True,
                          width=100)
    return text.encode("utf-8")
