"""Kafka ACLs from Python, for tests: CreateAcls and DeleteAcls v3 over aiokafka's wire layer.

aiokafka ships these requests at versions 0 and 1 only, which Kafka 4 no longer accepts
(KIP-896 removed them); Kafka's own AclCommand is in the kafka-tools jar, which the test broker
does not fetch. The two requests are small: their v3 schemas (flexible versions: compact
strings, tagged fields) are written out here from Kafka's message definitions
(clients/src/main/resources/common/message/CreateAclsRequest.json, DeleteAclsRequest.json).
The broker must run an authorizer (``infra/kafka/kafka.sh start --acls``).
"""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import (
    CompactArray,
    CompactString,
    Int8,
    Int16,
    Int32,
    Schema,
    TaggedFields,
)

# Kafka's enums (org.apache.kafka.common.resource / acl)
TOPIC = 2
LITERAL = 3
ALL = 2
DENY = 2


@dataclass(frozen=True)
class Acl:
    """One ACL binding: ``principal`` (e.g. ``User:alice``) is allowed or denied
    ``operation`` on the literal resource ``resource_name`` of ``resource_type``."""

    resource_name: str
    principal: str
    resource_type: int = TOPIC
    operation: int = ALL
    permission: int = DENY
    host: str = "*"


def _bindings(acls: list[Acl]) -> list[tuple[object, ...]]:
    """Rows of CreateAcls creations, or of DeleteAcls filters (the same fields, in order)."""
    return [
        (a.resource_type, a.resource_name, LITERAL, a.principal, a.host, a.operation,
         a.permission, {})
        for a in acls
    ]  # fmt: skip


BINDING: tuple[tuple[str, object], ...] = (
    ("resource_type", Int8),
    ("resource_name", CompactString("utf-8")),
    ("resource_pattern_type", Int8),
    ("principal", CompactString("utf-8")),
    ("host", CompactString("utf-8")),
    ("operation", Int8),
    ("permission_type", Int8),
    ("tags", TaggedFields),
)
"""An ACL binding on the wire (CreateAcls creations, DeleteAcls filters and matches)."""


class CreateAclsResponse_v3(Response):  # noqa: N801 - Kafka's message name and version
    API_KEY = 30
    API_VERSION = 3
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "results",
            CompactArray(
                ("error_code", Int16),
                ("error_message", CompactString("utf-8")),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class CreateAclsRequest_v3(RequestStruct):  # noqa: N801
    FLEXIBLE_VERSION = True
    API_KEY = 30
    API_VERSION = 3
    RESPONSE_TYPE = CreateAclsResponse_v3
    SCHEMA = Schema(
        (
            "creations",
            CompactArray(*BINDING),
        ),
        ("tags", TaggedFields),
    )


class CreateAcls(Request[CreateAclsRequest_v3]):
    API_KEY = 30

    def __init__(self, acls: list[Acl]) -> None:
        self.acls = acls

    def build(self, request_struct_class: type[CreateAclsRequest_v3]) -> CreateAclsRequest_v3:
        return request_struct_class(_bindings(self.acls), {})


class DeleteAclsResponse_v3(Response):  # noqa: N801
    API_KEY = 31
    API_VERSION = 3
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "filter_results",
            CompactArray(
                ("error_code", Int16),
                ("error_message", CompactString("utf-8")),
                (
                    "matching_acls",
                    CompactArray(
                        ("error_code", Int16),
                        ("error_message", CompactString("utf-8")),
                        *BINDING,
                    ),
                ),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class DeleteAclsRequest_v3(RequestStruct):  # noqa: N801
    FLEXIBLE_VERSION = True
    API_KEY = 31
    API_VERSION = 3
    RESPONSE_TYPE = DeleteAclsResponse_v3
    SCHEMA = Schema(
        (
            "filters",
            CompactArray(*BINDING),  # the filter fields, *_filter in Kafka's names
        ),
        ("tags", TaggedFields),
    )


class DeleteAcls(Request[DeleteAclsRequest_v3]):
    API_KEY = 31

    def __init__(self, acls: list[Acl]) -> None:
        self.acls = acls

    def build(self, request_struct_class: type[DeleteAclsRequest_v3]) -> DeleteAclsRequest_v3:
        return request_struct_class(_bindings(self.acls), {})  # filters that match exactly


class AclError(Exception):
    """The broker refused an ACL change."""


async def _send(bootstrap: str, request: Request[RequestStruct]) -> Response:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return await admin._send_request(request)  # the admin's one generic send
    finally:
        await admin.close()


async def create_acls(bootstrap: str, acls: list[Acl]) -> None:
    """Add ``acls`` (over a listener whose principal may: a super user's)."""
    response = await _send(bootstrap, CreateAcls(acls))  # type: ignore[arg-type]
    for error_code, error_message, _tags in response.results:  # type: ignore[attr-defined]
        if error_code:
            raise AclError(f"CreateAcls refused: {error_code} {error_message}")


async def delete_acls(bootstrap: str, acls: list[Acl]) -> int:
    """Remove ``acls``; return how many bindings the broker deleted."""
    response = await _send(bootstrap, DeleteAcls(acls))  # type: ignore[arg-type]
    deleted = 0
    for error_code, error_message, matching, _tags in response.filter_results:  # type: ignore[attr-defined]
        if error_code:
            raise AclError(f"DeleteAcls refused: {error_code} {error_message}")
        deleted += len(matching)
    return deleted
