"""Defaults of the output formats, in one place for the formats and the CLI."""

from __future__ import annotations

# Text: an array of more elements than this is summarised, as numpy prints
# it (numpy's own default threshold); `--threshold N` changes it, `--full`
# turns summaries off.
DEFAULT_THRESHOLD = 1000
