"""gradcli: values, gradients, Jacobians and Hessians of small programs
written in YAML specs, on a numpy engine."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from gradcli.api import Problem


def load(source: Any, dtype: str | None = None, **options: Any) -> Problem:
    """Load a spec (path or dict); see `gradcli.api.load` for `max_elements`
    and `check_finite`, and `gradcli.api.Problem` for what it can compute."""
    from gradcli.api import load as _load

    return _load(source, dtype=dtype, **options)


def tune_allocator() -> bool:
    """Opt in to keeping freed numpy buffers in the heap (glibc mallopt):
    large repeated evaluations stop page-faulting (see
    `gradcli.engine.allocator`).  It changes the whole process, so only the
    command line applies it by itself.  True when glibc accepted it."""
    from gradcli.engine.allocator import tune_allocator as tune

    return tune()


__all__ = ["load", "tune_allocator", "__version__"]
