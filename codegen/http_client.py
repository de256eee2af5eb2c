"""``client.ts``: one typed function per OpenAPI operation, on the global ``fetch``.

Types come from openapi-typescript's ``api.ts`` (``operations[id]``), so a change to a pydantic
model changes the client's signature and breaks callers at compile time, not at run time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from codegen.tsdoc import GENERATED_HEADER, tsdoc

_PRELUDE = """\
import type { operations } from "./api";

/** Where and how to reach a camguard service. */
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

async function send(
  options: ClientOptions,
  operationId: string,
  method: string,
  path: string,
  query: Record<string, QueryValue> | undefined,
  body: unknown,
): Promise<Response> {
  const url = new URL(options.baseUrl.replace(/\\/+$/, "") + path);
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null) {
      url.searchParams.set(name, String(value));
    }
  }
  const headers: Record<string, string> = { ...options.headers };
  const init: RequestInit = { method, headers };
  if (options.signal !== undefined) {
    init.signal = options.signal;
  }
  if (body !== undefined) {
    headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
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
    throw new ApiError(operationId, response.status, parsed);
  }
  return response;
}

function segment(value: string | number): string {
  return encodeURIComponent(String(value));
}
"""


def _params_type(op_id: str, operation: Mapping[str, Any]) -> str | None:
    """The type of the ``params`` argument, or None when the operation takes none."""
    ref = f"operations[{json.dumps(op_id)}]"
    params = operation.get("parameters", [])
    members: list[str] = []
    if any(p["in"] == "path" for p in params):
        members.append(f'path: {ref}["parameters"]["path"]')
    query = [p for p in params if p["in"] == "query"]
    if query:
        optional = "" if any(p.get("required") for p in query) else "?"
        members.append(f'query{optional}: NonNullable<{ref}["parameters"]["query"]>')
    if "requestBody" in operation:
        members.append(f'body: {ref}["requestBody"]["content"]["application/json"]')
    return "{ " + "; ".join(members) + " }" if members else None


def _result(op_id: str, operation: Mapping[str, Any]) -> tuple[str, str]:
    """(TypeScript result type, expression that reads it from ``response``)."""
    content: Mapping[str, Any] = operation["responses"]["200"].get("content", {})
    ref = f'operations[{json.dumps(op_id)}]["responses"][200]["content"]'
    if "application/json" in content:
        kind = f'{ref}["application/json"]'
        return kind, f"(await response.json()) as {kind}"
    if content:
        return "string", "response.text()"
    return "void", "undefined"


def _function(path: str, method: str, operation: Mapping[str, Any]) -> str:
    op_id = str(operation["operationId"])
    type_prefix = op_id[:1].upper() + op_id[1:]
    params = _params_type(op_id, operation)
    result, read = _result(op_id, operation)
    errors = [
        f"@throws {{@link ApiError}} {status}: {response['description']}"
        for status, response in operation["responses"].items()
        if status != "200"
    ]
    doc = tsdoc(operation.get("summary"), [f"`{method.upper()} {path}`", *errors])
    url = json.dumps(path)
    for name in [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]:
        url = url.replace("{" + name + "}", f'" + segment(params.path.{name}) + "')
    url = url.replace(' + ""', "")
    aliases = [f"/** Result of {op_id}. */\nexport type {type_prefix}Result = {result};"]
    args = "options: ClientOptions"
    if params:
        aliases.append(
            f"/** Parameters of {op_id}. */\nexport type {type_prefix}Params = {params};"
        )
        default = " = {}" if params.startswith("{ query?") and ";" not in params else ""
        args += f", params: {type_prefix}Params{default}"
    query = "params.query" if params and "query" in params else "undefined"
    body = "params.body" if params and "body: " in params else "undefined"
    call = (
        f"send(options, {json.dumps(op_id)}, {json.dumps(method.upper())}, {url}, {query}, {body})"
    )
    head = f"{doc}export async function {op_id}({args}): Promise<{type_prefix}Result> {{\n"
    if result == "void":
        return "\n\n".join(aliases) + f"\n\n{head}  await {call};\n}}"
    cast = f" as {type_prefix}Result" if read.endswith(f"as {result}") else ""
    read = read.replace(f" as {result}", "") + cast
    return (
        "\n\n".join(aliases) + f"\n\n{head}  const response = await {call};\n  return {read};\n}}"
    )


def render_client(document: Mapping[str, Any]) -> str:
    """The ``client.ts`` module for an OpenAPI document."""
    functions = [
        _function(path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]
    return "\n\n".join([GENERATED_HEADER, _PRELUDE.rstrip("\n"), *functions]) + "\n"
