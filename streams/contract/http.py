"""How an HTTP endpoint is described, and the response models both servers share.

Two servers answer HTTP: the worker (Faust web, ``camguard worker``) and the gateway (aiohttp,
``camguard gateway``). An :class:`Endpoint` names its :data:`Server`, path, method and pydantic
models; :mod:`streams.contract.endpoints` lists every endpoint of both, and each server's
``/openapi.json`` (:mod:`streams.contract.openapi`) shows only its own, so neither document
promises a page that its server answers with 404. Pure: no Faust, no aiohttp.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

Method = Literal["GET", "POST", "PUT", "DELETE"]
Server = Literal["worker", "gateway"]
SERVERS: tuple[Server, ...] = ("worker", "gateway")


@dataclass(frozen=True)
class QueryParam:
    """A query-string parameter of an endpoint."""

    name: str
    description: str
    required: bool = False
    type: Literal["string", "integer", "number", "boolean"] = "string"


@dataclass(frozen=True)
class Endpoint:
    """One HTTP endpoint of one server: path (OpenAPI style, ``{param}``), method and models."""

    method: Method
    path: str
    summary: str
    response_model: type[BaseModel] | None
    request_model: type[BaseModel] | None = None
    query: tuple[QueryParam, ...] = ()
    errors: Mapping[int, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    content_type: str = "application/json"
    server: Server = "worker"


class Liveness(BaseModel):
    """The process answers (worker or gateway)."""

    status: str
    app_id: str


class OpenAPIDocument(BaseModel):
    """An OpenAPI 3.1 document (only the top-level keys are described)."""

    model_config = ConfigDict(extra="allow")

    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
    components: dict[str, Any]
