"""``GET /api/anonymizer``: the frames agent's detector, provider, batches and loop lag.

Its model, ``AnonymizerStats``, is part of the contract (streams/contract/worker_http.py).
"""

from __future__ import annotations

from collections.abc import Callable

from faust.web import Request, Response, View

from streams.app import CamguardApp
from streams.contract.worker_http import AnonymizerStats


def install(cg: CamguardApp, stats: Callable[[], AnonymizerStats]) -> None:
    """Serve ``stats()`` at ``GET /api/anonymizer`` on ``cg``'s worker."""

    @cg.app.page("/api/anonymizer")
    class AnonymizerView(View):
        async def get(self, request: Request) -> Response:
            return self.json(stats().model_dump())
