"""A fast ``dataclasses.replace`` for the frozen states of the hot path.

``dataclasses.replace`` re-runs ``__init__`` (and its per-field ``object.__setattr__``) and
costs microseconds for a dozen fields; the events agent folds every message through a breaker
and a health state, so that is most of its CPU. :func:`evolve` copies the instance dict
instead. It is only for plain frozen dataclasses without ``__slots__`` or ``__post_init__``
checks (the states here), never for configs that validate themselves.
"""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")


def evolve(obj: T, **changes: Any) -> T:
    """A copy of frozen dataclass ``obj`` with ``changes`` applied (no validation)."""
    new = object.__new__(obj.__class__)
    object.__setattr__(new, "__dict__", {**obj.__dict__, **changes})
    return new
