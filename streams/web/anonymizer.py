"""``GET /api/anonymizer`` in the endpoint registry (the view is the frames agent's)."""

from __future__ import annotations

from streams.anonymize.stats import AnonymizerStats
from streams.web.endpoints import Endpoint, describe

describe(
    Endpoint(
        "GET",
        "/api/anonymizer",
        "Anonymizer: detector, provider, model versions, counters, event-loop lag",
        AnonymizerStats,
        tags=("anonymize",),
    )
)
