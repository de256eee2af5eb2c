"""``client.ts``: one typed function per OpenAPI operation, on the global ``fetch``.

Rendered in Python from the document (no Node needed): parameters, bodies and results are typed
from their schemas, and a component schema is referenced as ``models.<Name>`` from the models
module (codegen/generated/http/models.ts for camguard's worker, the ``types`` of
:func:`codegen.service_contracts.export_service_contracts` for any service). A change to a
pydantic model therefore changes the client's signature and breaks callers at compile time, not
at run time.

Path, query and header parameters are supported (cookies are the browser's business); a JSON
body is sent as JSON, a form body as the ``FormData``/``URLSearchParams`` given, anything else
as the ``BodyInit`` given. The result is the first 2xx response's: parsed JSON, text for
``text/*``, a ``Blob`` for other media, nothing when it has no content.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from codegen.tsdoc import GENERATED_HEADER, tsdoc
from streams.contract.typescript import json_schema_ts, ts_identifier

_RUNTIME = """\
/** Where and how to reach the service. */
export interface ClientOptions {
  /** Base URL without a trailing slash, e.g. `http://localhost:6066`. */
  baseUrl: string;
  /** The fetch to use; defaults to the global one (Node 18+, browsers). */
  fetch?: typeof fetch;
  /** Headers sent with every request (authentication, tracing). */
  headers?: Record<string, string>;
  /** Aborts the request. */
  signal?: AbortSignal;
}

/** The service answered with a status outside 2xx. `body` is parsed JSON when it was JSON. */
export class ApiError extends Error {
  constructor(
    readonly operationId: string,
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`${operationId}: HTTP ${status}`);
    this.name = "ApiError";
  }
}

type QueryValue = string | number | boolean | null | undefined;

/** One request, as a generated function describes it. */
interface Call {
  operationId: string;
  method: string;
  path: string;
  query?: Record<string, QueryValue | QueryValue[]> | undefined;
  headers?: Record<string, QueryValue> | undefined;
  /** Sent as JSON. */
  json?: unknown;
  /** Sent as it is (FormData, URLSearchParams, Blob ...): fetch sets the content type. */
  body?: RequestInit["body"] | undefined;
}

async function send(options: ClientOptions, call: Call): Promise<Response> {
  const url = new URL(options.baseUrl.replace(/\\/+$/, "") + call.path);
  for (const [name, value] of Object.entries(call.query ?? {})) {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item !== undefined && item !== null) {
        url.searchParams.append(name, String(item));
      }
    }
  }
  const headers: Record<string, string> = { ...options.headers };
  for (const [name, value] of Object.entries(call.headers ?? {})) {
    if (value !== undefined && value !== null) {
      headers[name] = String(value);
    }
  }
  const init: RequestInit = { method: call.method, headers };
  if (options.signal !== undefined) {
    init.signal = options.signal;
  }
  if (call.json !== undefined) {
    headers["content-type"] = "application/json";
    init.body = JSON.stringify(call.json);
  } else if (call.body !== undefined) {
    init.body = call.body;
  }
  const response = await (options.fetch ?? fetch)(url, init);
  if (!response.ok) {
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    throw new ApiError(call.operationId, response.status, parsed);
  }
  return response;
}

function segment(value: string | number | boolean): string {
  return encodeURIComponent(String(value));
}
"""

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_IDENTIFIER = re.compile(r"[A-Za-z_$][\w$]*")
_RESERVED = frozenset(
    {
        "await", "break", "case", "catch", "class", "const", "continue", "debugger", "default",
        "delete", "do", "else", "enum", "export", "extends", "false", "finally", "for",
        "function", "if", "implements", "import", "in", "instanceof", "interface", "let", "new",
        "null", "package", "private", "protected", "public", "return", "static", "super",
        "switch", "this", "throw", "true", "try", "typeof", "var", "void", "while", "with",
        "yield",
    }
)  # fmt: skip
_TAKEN = frozenset({"send", "segment", "models", "fetch"})  # the module's own names
_REF_MARK = re.compile(r"__cgref(\d+)__")
_FORMS = {"multipart/form-data": "FormData", "application/x-www-form-urlencoded": "URLSearchParams"}


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or media_type.endswith("+json")


def _key(name: str) -> str:
    return name if _IDENTIFIER.fullmatch(name) else json.dumps(name)


def _access(name: str) -> str:
    return f".{name}" if _IDENTIFIER.fullmatch(name) else f"[{json.dumps(name)}]"


def function_name(operation_id: str) -> str:
    """A TypeScript function name: ``read_item_items__item_id__get`` -> ``readItemItemsItemIdGet``;
    a camelCase id is kept."""
    words = [w for w in re.split(r"[^A-Za-z0-9]+", operation_id) if w]
    if not words:
        return "call"
    name = words[0][:1].lower() + words[0][1:] + "".join(w[:1].upper() + w[1:] for w in words[1:])
    if name[0].isdigit():
        name = "op" + name
    return name + "Op" if name in _RESERVED else name


class TypeScriptTypes:
    """TypeScript types of schemas, with components referenced from the ``namespace`` import."""

    def __init__(self, document: Mapping[str, Any], namespace: str = "models") -> None:
        self.document = document
        self.namespace = namespace

    def of(self, schema: Any, indent: str = "") -> str:
        refs: list[str] = []

        def mark(node: Any) -> Any:
            if isinstance(node, Mapping):
                out = {k: mark(v) for k, v in node.items()}
                if isinstance(node.get("$ref"), str):
                    refs.append(node["$ref"].rsplit("/", 1)[-1])
                    out["$ref"] = f"#/components/schemas/__cgref{len(refs) - 1}__"
                return out
            if isinstance(node, list):
                return [mark(v) for v in node]
            return node

        text = json_schema_ts(mark(schema if isinstance(schema, Mapping) else {}), indent)
        return _REF_MARK.sub(
            lambda m: f"{self.namespace}.{ts_identifier(refs[int(m.group(1))])}", text
        )

    def resolve(self, node: Any) -> Any:
        """A local ``$ref`` to a parameter, body or response, followed (schemas are not)."""
        seen = 0
        while isinstance(node, Mapping) and isinstance(node.get("$ref"), str) and seen < 16:
            target: Any = self.document
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target.get(part.replace("~1", "/").replace("~0", "~"), {})
            node, seen = target, seen + 1
        return node


@dataclass(frozen=True)
class _Operation:
    name: str
    method: str
    path: str
    operation: Mapping[str, Any]
    parameters: Sequence[Mapping[str, Any]]


def _parameter_block(types: TypeScriptTypes, params: Sequence[Mapping[str, Any]]) -> str:
    lines = ["{"]
    for param in params:
        doc = tsdoc(param.get("description"), indent="    ")
        optional = "" if param.get("required") else "?"
        kind = types.of(param.get("schema", {}), "    ")
        lines.append(f"{doc}    {_key(param['name'])}{optional}: {kind};")
    return "\n".join([*lines, "  }"])


@dataclass(frozen=True)
class _Params:
    """The ``params`` argument of one function."""

    members: list[tuple[str, bool, str]]  # (name, optional, TypeScript type)
    fields: dict[str, str]  # Call field -> expression read from params

    def type(self) -> str:
        lines = [
            f"  {name}{'?' if optional else ''}: {kind};" for name, optional, kind in self.members
        ]
        return "{\n" + "\n".join(lines) + "\n}"

    @property
    def optional(self) -> bool:
        return all(optional for _, optional, _ in self.members)


def _params(op: _Operation, types: TypeScriptTypes) -> _Params:
    params = _Params([], {})
    for place, name in (("path", "path"), ("query", "query"), ("header", "headers")):
        found = [p for p in op.parameters if p.get("in") == place]
        if found:
            optional = not any(p.get("required") for p in found)
            params.members.append((name, optional, _parameter_block(types, found)))
            if place != "path":
                params.fields[name] = f"params.{name}"
    body = types.resolve(op.operation.get("requestBody"))
    if isinstance(body, Mapping) and body.get("content"):
        content: Mapping[str, Any] = body["content"]
        json_type = next((m for m in content if _is_json(m)), None)
        if json_type is not None:
            kind = types.of(content[json_type].get("schema", {}), "  ")
            params.fields["json"] = "params.body"
        else:
            kind = _FORMS.get(next(iter(content)), 'NonNullable<RequestInit["body"]>')
            params.fields["body"] = "params.body"
        params.members.append(("body", not body.get("required"), kind))
    return params


def _result(op: _Operation, types: TypeScriptTypes) -> tuple[str, str]:
    """(TypeScript result type, how to read it from ``response``) of the first 2xx response."""
    responses = op.operation.get("responses", {})
    ok = next((s for s in sorted(responses) if str(s).startswith("2")), None)
    response = types.resolve(responses[ok]) if ok is not None else {}
    content: Mapping[str, Any] = response.get("content") or {}
    json_type = next((m for m in content if _is_json(m)), None)
    if json_type is not None:
        return types.of(content[json_type].get("schema", {})), "json"
    if any(m.startswith("text/") for m in content):
        return "string", "response.text()"
    if content:
        return "Blob", "response.blob()"
    return "void", ""


def _function(op: _Operation, types: TypeScriptTypes) -> str:
    op_id = str(op.operation.get("operationId") or op.name)
    prefix = op.name[:1].upper() + op.name[1:]
    params = _params(op, types)
    result, read = _result(op, types)
    errors = [
        f"@throws {{@link ApiError}} {status}: {types.resolve(response).get('description', '')}"
        for status, response in op.operation.get("responses", {}).items()
        if not str(status).startswith("2")
    ]
    doc = tsdoc(op.operation.get("summary"), [f"`{op.method.upper()} {op.path}`", *errors])
    url = json.dumps(op.path)
    for name in (p["name"] for p in op.parameters if p.get("in") == "path"):
        url = url.replace("{" + name + "}", f'" + segment(params.path{_access(name)}) + "')
    url = url.replace(' + ""', "")
    aliases = [f"/** Result of {op_id}. */\nexport type {prefix}Result = {result};"]
    args = "options: ClientOptions"
    if params.members:
        aliases.append(
            f"/** Parameters of {op_id}. */\nexport type {prefix}Params = {params.type()};"
        )
        args += f", params: {prefix}Params" + (" = {}" if params.optional else "")
    call = [
        f"operationId: {json.dumps(op_id)}",
        f"method: {json.dumps(op.method.upper())}",
        f"path: {url}",
        *(f"{key}: {value}" for key, value in params.fields.items()),
    ]
    send = "send(options, {\n" + "".join(f"    {line},\n" for line in call) + "  })"
    head = f"{doc}export async function {op.name}({args}): Promise<{prefix}Result> {{\n"
    if read == "json":
        read = f"(await response.json()) as {prefix}Result"
    if result == "void":
        body = f"  await {send};\n"
    else:
        body = f"  const response = await {send};\n  return {read};\n"
    return "\n\n".join(aliases) + f"\n\n{head}{body}}}"


def _operations(document: Mapping[str, Any]) -> list[_Operation]:
    """Every operation in document order, with its path-level parameters merged in and a
    unique function name."""
    found: list[_Operation] = []
    used = set(_TAKEN)
    types = TypeScriptTypes(document)
    for path, item in document.get("paths", {}).items():
        shared = [types.resolve(p) for p in item.get("parameters", [])]
        for method in (m for m in _METHODS if m in item):
            operation = item[method]
            own = [types.resolve(p) for p in operation.get("parameters", [])]
            keys = {(p.get("name"), p.get("in")) for p in own}
            merged = [p for p in shared if (p.get("name"), p.get("in")) not in keys] + own
            base = function_name(str(operation.get("operationId") or f"{method} {path}"))
            name, n = base, 2
            while name in used:
                name, n = f"{base}{n}", n + 1
            used.add(name)
            found.append(_Operation(name, method, path, operation, merged))
    return found


def render_client(
    document: Mapping[str, Any], models_module: str = "./models", header: str = GENERATED_HEADER
) -> str:
    """The client module for an OpenAPI 3.1 ``document`` whose component schemas are exported
    by ``models_module`` (as :func:`streams.contract.typescript.openapi_typescript` renders
    them)."""
    types = TypeScriptTypes(document)
    functions = [_function(op, types) for op in _operations(document)]
    schemas = document.get("components", {}).get("schemas", {})
    imports = f"import type * as models from {json.dumps(models_module)};\n\n" if schemas else ""
    head = header.rstrip("\n")
    return "\n\n".join([head, imports + _RUNTIME.rstrip("\n"), *functions]) + "\n"
