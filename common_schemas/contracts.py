"""``export_service_contracts`` of the specification.

::

    contracts = export_service_contracts(app, "fusion", "2.0.0")
    contracts["schema"]   # OpenAPI 3.0.3 document, info.version "2.0.0"
    contracts["types"]    # TypeScript interfaces of the request and response models
    contracts["client"]   # TypeScript client: one typed fetch function per operation

camguard's :func:`codegen.service_contracts.export_service_contracts`, re-exported unchanged.
``app`` is a FastAPI app (its own ``app.openapi()`` document) or camguard's worker (a
``CamguardApp``, its Faust app, or None). The client imports the models from ``"./types"``:
save ``types`` as ``types.ts`` beside ``client.ts`` (``types_module=`` names another path).
The schema is converted from the 3.1 document FastAPI emits (``nullable``, ``example``,
``enum`` for ``const``, boolean ``exclusiveMinimum``; see :mod:`codegen.openapi30`).
"""

from __future__ import annotations

from codegen.service_contracts import ServiceContracts, export_service_contracts

__all__ = ["ServiceContracts", "export_service_contracts"]
