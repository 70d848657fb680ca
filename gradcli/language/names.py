"""What a user may name (inputs, expressions, models): identifiers."""

from __future__ import annotations

from typing import Any

from gradcli.errors import Location, SpecError

NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def is_name(name: Any) -> bool:
    return isinstance(name, str) and bool(name) and not name[0].isdigit() \
        and not set(name) - NAME_CHARS and not name.startswith("__")


def check_name(name: Any, where: Location, what: str) -> str:
    if not is_name(name):
        raise SpecError(f"{what} name {name!r} must be an identifier (letters, digits, _)",
                        where)
    return name
