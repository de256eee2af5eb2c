"""A FastAPI service like the platform's: path, query and header parameters, a pydantic request
body and response model, a plain dict result (shared by the unit and the tsc tests)."""

from __future__ import annotations

from fastapi import FastAPI, Header, Query
from pydantic import BaseModel, Field


class Detection(BaseModel):
    """One detection request."""

    camera_id: str = Field(description="the camera", examples=["cam-1"])
    score: float = Field(gt=0, le=1)
    zone: str | None = None


class Fused(BaseModel):
    """The fused result."""

    track_id: int
    detection: Detection
    tags: list[str] = []


def fusion_app() -> FastAPI:
    app = FastAPI(title="Fusion")

    @app.post("/tracks/{track_id}/detections", response_model=Fused, status_code=201)
    async def add_detection(
        track_id: int,
        detection: Detection,
        dry_run: bool = False,
        zone: str | None = Query(None, description="zone filter"),
        x_request_id: str | None = Header(None),
    ) -> Fused:
        seen = [f"dry_run={dry_run}", f"zone={zone}", f"request={x_request_id}"]
        return Fused(track_id=track_id, detection=detection, tags=seen)

    @app.get("/tracks/{track_id}")
    async def get_track(track_id: int, limit: int = Query(10, ge=1)) -> Fused:
        return Fused(track_id=track_id, detection=Detection(camera_id="cam-1", score=0.5))

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
