"""A registry of the HTTP endpoints and their pydantic request/response models.

Every view module describes its endpoints here, next to the view itself, so the OpenAPI
document (codegen) is built from the same models the views use. Pure: no Faust import.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel

Method = Literal["GET", "POST", "PUT", "DELETE"]


@dataclass(frozen=True)
class QueryParam:
    """A query-string parameter of an endpoint."""

    name: str
    description: str
    required: bool = False
    type: Literal["string", "integer", "number", "boolean"] = "string"


@dataclass(frozen=True)
class Endpoint:
    """One HTTP endpoint: path (OpenAPI style, ``{param}``), method and models."""

    method: Method
    path: str
    summary: str
    response_model: type[BaseModel] | None
    request_model: type[BaseModel] | None = None
    query: tuple[QueryParam, ...] = ()
    errors: Mapping[int, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    content_type: str = "application/json"


_REGISTRY: dict[tuple[str, str], Endpoint] = {}


def describe(endpoint: Endpoint) -> Endpoint:
    """Register ``endpoint`` (idempotent for the same method and path)."""
    _REGISTRY[(endpoint.method, endpoint.path)] = endpoint
    return endpoint


def endpoints() -> list[Endpoint]:
    """Every registered endpoint, sorted by path then method."""
    return [_REGISTRY[k] for k in sorted(_REGISTRY, key=lambda k: (k[1], k[0]))]
