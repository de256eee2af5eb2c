"""The HTTP contracts under codegen/generated/http/: the worker's there, the gateway's in
``http/gateway/`` (each server's own OpenAPI document lists only the pages it serves).

- ``openapi.json``: :func:`streams.contract.openapi.export_service_contracts`'s ``schema``
  (worker);
  :func:`streams.contract.openapi.server_document` (gateway).
- ``models.ts``: its ``types`` (rendered in Python, so the service needs no Node).
- ``api.ts``: openapi-typescript's rendering of the same document (``paths``, ``operations``).
- ``client.ts``: one typed ``fetch`` function per operation, typed with ``models.ts``
  (:func:`codegen.http_client.render_client`, the renderer every service's export uses).
- ``conformance.ts``: type-level proof that ``models.ts`` and ``api.ts`` agree.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from codegen.http_client import render_client
from codegen.node_tools import run_openapi_typescript
from codegen.tsdoc import GENERATED_HEADER
from streams.contract.gateway_http import GATEWAY_SERVICE
from streams.contract.openapi import export_service_contracts, server_document, service_version
from streams.contract.typescript import openapi_typescript, ts_identifier

SERVICE_NAME = "camguard"
#: Where the gateway's contract goes, relative to codegen/generated/.
GATEWAY_DIR = "http/gateway"


def render_conformance(document: Mapping[str, Any]) -> str:
    """Type assertions: every models.ts declaration equals openapi-typescript's component."""
    lines = [
        # names the renderer's old home: the text is part of the committed generated files
        GENERATED_HEADER + "// models.ts (streams/web/openapi.py) and api.ts (openapi-typescript)"
        " must describe the same shapes; tsc fails here when they do not.",
        "",
        'import type { components } from "./api";',
        'import type * as models from "./models";',
        "",
        "type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;",
        "type Assert<T extends true> = T;",
        "",
        "export type ModelsMatchOpenAPI = [",
    ]
    for name in document["components"]["schemas"]:
        lines.append(
            f'  Assert<Same<components["schemas"][{json.dumps(name)}], '
            f"models.{ts_identifier(name)}>>,"
        )
    lines.append("];")
    return "\n".join(lines) + "\n"


def contract_files(document: dict[str, Any], directory: str, codegen_dir: Path) -> dict[str, str]:
    """openapi.json, models.ts, api.ts, client.ts and conformance.ts of one server's document."""
    api = run_openapi_typescript(document, codegen_dir)
    return {
        f"{directory}/openapi.json": json.dumps(document, indent=2, ensure_ascii=False) + "\n",
        f"{directory}/models.ts": GENERATED_HEADER + "\n" + openapi_typescript(document),
        f"{directory}/api.ts": GENERATED_HEADER + "\n" + _normalize_newlines(api),
        f"{directory}/client.ts": render_client(document),
        f"{directory}/conformance.ts": render_conformance(document),
    }


def build_http_outputs(codegen_dir: Path) -> dict[str, str]:
    """Every file under ``http/``, by path relative to codegen/generated/."""
    version = service_version()
    worker: dict[str, Any] = export_service_contracts(None, SERVICE_NAME, version)["schema"]
    return {
        **contract_files(worker, "http", codegen_dir),
        **contract_files(
            server_document("gateway", GATEWAY_SERVICE, version), GATEWAY_DIR, codegen_dir
        ),
    }


def _normalize_newlines(text: str) -> str:
    return re.sub(r"\r\n?", "\n", text).rstrip("\n") + "\n"
