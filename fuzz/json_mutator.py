"""A structure-aware mutator for the JSON-reading targets (webhook, .avsc, OpenAPI).

libFuzzer's byte mutations mostly break JSON, so a JSON parser's callers are rarely reached
with odd values. Half of the time this mutator parses the input's JSON (after any non-JSON
prefix: a harness's selector byte or header lines), changes one node (a hostile value, another
type, a copied subtree, a removed or renamed key, deeper nesting) and writes it back; the other
half, and whenever the input is no JSON, it leaves the bytes to libFuzzer.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

ByteMutator = Callable[[bytes, int], bytes]

HOSTILE: tuple[Any, ...] = (
    None,
    True,
    False,
    0,
    -1,
    1.5,
    float("nan"),
    float("inf"),
    2**63 - 1,
    2**63,
    -(2**63) - 1,
    2**64,
    10**30,
    "",
    " ",
    "\ud800",
    "\x00",
    "é✓",
    "a/b",
    "*",
    "null",
    "record",
    "1970-01-01",
    "0001-01-01T00:00:00",
    "9999-12-31T23:59:59-14:00",
    "x" * 300,
    [],
    {},
    [None],
    {"": None},
)


def _containers(node: Any, found: list[Any]) -> list[Any]:
    """Every list and object in ``node``, ``node`` first."""
    if isinstance(node, dict | list):
        found.append(node)
        for child in node.values() if isinstance(node, dict) else node:
            _containers(child, found)
    return found


def _values(node: Any) -> list[Any]:
    found: list[Any] = []
    for container in _containers(node, []):
        found.extend(container.values() if isinstance(container, dict) else container)
    return found


def _copy(value: Any) -> Any:
    """A detached copy: a subtree put under its own descendant would be a cycle."""
    return json.loads(json.dumps(value))


def _change(document: Any, rng: random.Random) -> Any:
    """``document`` with one node changed (in place where it is a container)."""
    containers = _containers(document, [])
    if not containers:
        return rng.choice(HOSTILE)
    target = rng.choice(containers)
    keys: list[Any] = list(target) if isinstance(target, dict) else list(range(len(target)))
    action = rng.randrange(6)
    if not keys or action == 0:  # add a member
        value = _copy(rng.choice([*HOSTILE, *_values(document)[:50]]))
        if isinstance(target, dict):
            target[rng.choice(["type", "name", "x", "config", "items", str(rng.random())])] = value
        else:
            target.append(value)
        return document
    key = rng.choice(keys)
    if action == 1:
        target[key] = rng.choice(HOSTILE)
    elif action == 2:  # a subtree from elsewhere (crossover within one input)
        target[key] = _copy(rng.choice(_values(document)))
    elif action == 3:
        del target[key]
    elif action == 4:  # one level deeper
        target[key] = rng.choice([[target[key]], {"type": target[key]}, {"items": target[key]}])
    elif isinstance(target, dict):  # rename a key
        target[rng.choice(["type", "name", "symbols", "fields", "anyOf", "$ref", "id", ""])] = (
            target.pop(key)
        )
    else:
        target[key] = str(target[key])
    return document


def mutate(data: bytes, max_size: int, seed: int, fallback: ByteMutator) -> bytes:
    """libFuzzer's custom mutator: one structural change, or ``fallback``'s byte mutation."""
    rng = random.Random(seed)
    start = min((i for i in (data.find(b"{"), data.find(b"[")) if i >= 0), default=-1)
    if start < 0 or rng.random() < 0.5:
        return fallback(data, max_size)
    try:
        changed = _change(json.loads(data[start:]), rng)
        out = data[:start] + json.dumps(changed, separators=(",", ":")).encode()
    except (ValueError, RecursionError):  # no JSON after all, or nested past the codec
        return fallback(data, max_size)
    return out if len(out) <= max_size else fallback(data, max_size)
