"""Errors of the contract tools (``python -m codegen``).

``CodegenError``
 ├── ``SchemaDefinitionError``   an .avsc file is not a schema the compiler can map
 ├── ``IncompatibleSchemaError`` a schema change breaks FULL_TRANSITIVE compatibility
 ├── ``StaleGeneratedError``     codegen/generated/ does not match its sources
 ├── ``TypeCheckError``          tsc --strict --noEmit failed
 ├── ``ToolMissingError``        node or codegen/node_modules is missing
 └── ``OpenApiDocumentError``    an OpenAPI document cannot be converted to 3.0
"""

from __future__ import annotations

from collections.abc import Sequence

from streams.exceptions import CamguardError


class CodegenError(CamguardError):
    """A contract could not be generated or checked."""

    reason = "codegen"


class SchemaDefinitionError(CodegenError):
    """An Avro schema cannot be compiled (bad reference, ambiguous union, name clash).

    Fix the named .avsc file under schemas/avro; the message names the type and field.
    """

    reason = "schema_definition"


class IncompatibleSchemaError(CodegenError):
    """A schema is not FULL_TRANSITIVE compatible with a kept version.

    Each problem names the schema, the kept version, the field path and the Avro resolution
    rule broken. Give a new field a default, keep removed fields' defaults, or revert the change.
    """

    reason = "incompatible_schema"

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("schema evolution check failed:\n  " + "\n  ".join(problems))
        self.problems = tuple(problems)


class StaleGeneratedError(CodegenError):
    """Files under codegen/generated/ differ from what their sources produce.

    Run ``make codegen`` (``python -m codegen``) and commit the result.
    """

    reason = "stale"

    def __init__(self, paths: Sequence[str]) -> None:
        super().__init__(
            "generated files are stale (run `make codegen` and commit): " + ", ".join(paths)
        )
        self.paths = tuple(paths)


class ToolMissingError(CodegenError):
    """A Node tool the generator needs is missing.

    Install Node 20+ and run ``npm ci --prefix codegen`` (``make codegen`` does this).
    """

    reason = "tool_missing"


class TypeCheckError(CodegenError):
    """``tsc --strict --noEmit`` rejected the generated code, the runtime or the Node tests.

    Read tsc's messages; a failure in generated/http/conformance.ts means models.ts and
    openapi-typescript's api.ts disagree about a model (a bug in streams/contract/typescript.py).
    """

    reason = "tsc"


class OpenApiDocumentError(CodegenError):
    """An OpenAPI document cannot be converted to 3.0 (nested deeper than Python recurses).

    No web framework emits such a document; check the service that produced it.
    """

    reason = "openapi_document"
