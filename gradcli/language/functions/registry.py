"""A catalogue entry and the wrapper that gives every function the same
behaviour on bad calls: a SpecError naming the function, never a TypeError
or a bare numpy exception."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass

from gradcli.engine.graph import Node
from gradcli.engine.ops.row import Accuracy
from gradcli.errors import GradcliError, SpecError, suggest


@dataclass(frozen=True)
class Function:
    """One user-facing function of the expression language."""

    name: str
    build: Callable[..., Node]  # build(ctx, *args, **kwargs) -> Node
    impl: Callable[..., Node]  # impl(ctx, ...): what build calls once the call fits
    doc: str  # one line
    kink: str = ""  # convention at kinks / non-differentiable points, "" if smooth
    accuracy: tuple[Accuracy, ...] = ()  # documented exceptions to the accuracy bar

    @property
    def signature(self) -> str:
        """"sum(x, axis=None, keepdims=False)": read from `impl` when asked (the
        catalogue is built on every start; its signatures are seldom read)."""
        return _signature_text(self.name, _signature(self.impl))


# One entry per catalogue function (about 80): bounded by the catalogue.
_signature = functools.lru_cache(maxsize=256)(inspect.signature)


def _signature_text(name: str, sig: inspect.Signature) -> str:
    parts = []
    for p in list(sig.parameters.values())[1:]:  # the first is the Context
        if p.kind is p.VAR_POSITIONAL:
            parts.append(f"*{p.name}")
        elif p.default is p.empty:
            parts.append(p.name)
        else:
            default = f'"{p.default}"' if isinstance(p.default, str) else repr(p.default)
            parts.append(f"{p.name}={default}")
    return f"{name}({', '.join(parts)})"


def define(name: str, impl: Callable[..., Node], doc: str, kink: str = "",
           accuracy: tuple[Accuracy, ...] = ()) -> Function:
    """Wrap `impl(ctx, ...)` as a catalogue Function.

    Calls that do not fit the signature, and errors raised while building,
    become SpecErrors (ShapeErrors stay ShapeErrors) prefixed by the name.
    """

    def build(ctx: object, *args: object, **kwargs: object) -> Node:
        sig = _signature(impl)
        try:
            sig.bind(ctx, *args, **kwargs)
        except TypeError as exc:
            keywords = [p.name for p in list(sig.parameters.values())[1:]
                        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
            unknown = [k for k in kwargs if k not in keywords]
            hint = f"{suggest(unknown[0], keywords)}" if unknown else ""
            raise SpecError(f"{_signature_text(name, sig)}: {exc}{hint}") from None
        try:
            return impl(ctx, *args, **kwargs)
        except GradcliError as exc:
            if exc.message.startswith((f"{name}:", f"{name} ")):
                raise
            raise type(exc)(f"{name}: {exc.message}", exc.location) from None
        except OverflowError:  # float(10**400), an int beyond int64 into numpy, ...
            raise SpecError(f"{name}: a number is too large to represent") from None

    build.__name__ = name
    build.__doc__ = doc
    return Function(name, build, impl, doc, kink, accuracy)
