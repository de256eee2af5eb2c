"""GET /dashboard: a self-contained HTML page of camera health, fed by GET /api/cameras."""

from __future__ import annotations

from importlib import resources

from faust.web import Request, Response, View

from streams.app import CamguardApp
from streams.web.endpoints import Endpoint, describe

describe(
    Endpoint(
        "GET",
        "/dashboard",
        "Camera health dashboard (HTML)",
        None,
        content_type="text/html",
        tags=("ops",),
    )
)


def dashboard_html() -> str:
    """The page, shipped inside the package (no external assets, works offline)."""
    return resources.files("streams.web").joinpath("dashboard.html").read_text("utf-8")


def install(cg: CamguardApp) -> None:
    """Register GET /dashboard."""
    page = dashboard_html()

    @cg.app.page("/dashboard")
    class DashboardView(View):
        async def get(self, request: Request) -> Response:
            return self.html(page)
