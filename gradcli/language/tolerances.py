"""What a tolerance may be, the same for `expect: rtol/atol` and for
`check --rtol/--atol`: a finite number >= 0.  A negative tolerance fails
every comparison, NaN passes or fails them depending on how the comparison
is written, and an infinite one makes a check that cannot fail."""

from __future__ import annotations

import math
from typing import Any


def tolerance_error(value: Any) -> str | None:
    """Why `value` is not a tolerance, or None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"must be a number, got {value!r:.40}"
    try:
        number = float(value)
    except OverflowError:
        return "must be a finite number"
    if math.isnan(number) or math.isinf(number):
        return f"must be a finite number, got {number}"
    if number < 0:
        return f"must be 0 or more, got {value!r:.40}"
    return None
