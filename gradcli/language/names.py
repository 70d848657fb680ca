"""What a user may name (inputs, expressions, models): identifiers."""

from __future__ import annotations

from typing import Any

from gradcli.errors import Location, SpecError


def is_name(name: Any) -> bool:
    """An ASCII identifier ([A-Za-z_][A-Za-z0-9_]*) not starting with `__`."""
    return isinstance(name, str) and name.isascii() and name.isidentifier() \
        and not name.startswith("__")


def check_name(name: Any, where: Location, what: str) -> str:
    if not is_name(name):
        raise SpecError(f"{what} name {name!r} must be an identifier (letters, digits, _)",
                        where)
    return name
