"""uPlot's way into the page: pinned in package.json, copied by setup.py to where the dashboard
looks in an installed package (tests/e2e/test_wheel.py builds the wheel itself)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from streams.devstack import REPO_ROOT
from streams.web.dashboard import VENDOR_DIRS, VENDORED


def _setup_vendored() -> dict[str, str]:
    tree = ast.parse((REPO_ROOT / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "VENDORED":
            value = ast.literal_eval(node.value)
            assert isinstance(value, dict)
            return {str(k): str(v) for k, v in value.items()}
    raise AssertionError("setup.py has no VENDORED")


def test_setup_copies_what_the_dashboard_reads_where_it_reads_it() -> None:
    packaged = VENDOR_DIRS[0].relative_to(REPO_ROOT)
    copied = _setup_vendored()
    for name in VENDORED:
        assert str(Path(packaged) / name) in copied, name
        assert copied[str(Path(packaged) / name)].startswith("node_modules/uplot/")


def test_uplot_is_pinned_exactly() -> None:
    package = json.loads((REPO_ROOT / "package.json").read_text())
    version = package["dependencies"]["uplot"]
    assert version[0].isdigit(), "pinned, not a range"
    lock = json.loads((REPO_ROOT / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/uplot"]["version"] == version
    installed = REPO_ROOT / "node_modules" / "uplot" / "package.json"
    if installed.is_file():  # after `make web-assets`
        assert json.loads(installed.read_text())["version"] == version
