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


_new = object.__new__
_set = object.__setattr__


def evolve(obj: T, **changes: Any) -> T:
    """A copy of frozen dataclass ``obj`` with ``changes`` applied (no validation)."""
    new = _new(obj.__class__)
    # dict.copy() takes CPython's fast path for instance dicts; {**a, **b} does not (~0.2 us).
    fields = obj.__dict__.copy()
    fields.update(changes)
    _set(new, "__dict__", fields)
    return new
