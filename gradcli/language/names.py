"""What a user may name (inputs, expressions, models): identifiers."""

from __future__ import annotations

from typing import Any

from gradcli.errors import Location, SpecError

NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def check_name(name: Any, where: Location, what: str) -> str:
    if not isinstance(name, str) or not name or name[0].isdigit() or set(name) - NAME_CHARS \
            or name.startswith("__"):
        raise SpecError(f"{what} name {name!r} must be an identifier (letters, digits, _)",
                        where)
    return name
