"""Build hook: the wheel carries copies of the repository's run-time assets.

``schemas/avro/`` and ``infra/`` stay at the top level, their single source
(docs/architecture.md fixes the layout); ``build_py`` copies the folders camguard reads at run
time into ``streams/_assets/`` with the same relative paths, where ``streams.assets`` finds
them in an installed package. MANIFEST.in puts the same folders into the sdist, so a wheel
built from the sdist has them too.
It also copies the browser libraries the dashboard inlines (uPlot, pinned in package.json and
installed by ``make web-assets``) from ``node_modules/`` into ``streams/web/static/``
(:data:`VENDORED`); the sdist carries them at that place, so a wheel built from it has them too.
Everything else about the build is declared in pyproject.toml.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

HERE = Path(__file__).resolve().parent
PACKAGED_DIR = Path("streams") / "_assets"  # streams.assets.PACKAGED_DIR_NAME
ASSET_DIRS = (
    "schemas/avro",  # codec and codegen: every .avsc, history included
    "infra/kafka",  # camguard kafka: kafka.sh, pom.xml, probe.py
    "infra/postgres",  # camguard postgres: pg.sh (reads ../supabase/migrations)
    "infra/supabase/migrations",
)
#: Packaged path -> where npm installs it (streams.web.dashboard.VENDOR_DIRS reads both).
VENDORED = {
    "streams/web/static/uplot/uPlot.iife.min.js": "node_modules/uplot/dist/uPlot.iife.min.js",
    "streams/web/static/uplot/uPlot.min.css": "node_modules/uplot/dist/uPlot.min.css",
    "streams/web/static/uplot/LICENSE": "node_modules/uplot/LICENSE",
}
SKIPPED = frozenset({"__pycache__", ".DS_Store"})


def vendored_source(packaged: str, installed: str) -> Path:
    """Where a :data:`VENDORED` file is: already in the tree (an sdist), else node_modules."""
    for candidate in (HERE / packaged, HERE / installed):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{installed} is missing: run `make web-assets` (npm ci) first")


class BuildPyWithAssets(build_py):
    """``build_py`` that also copies :data:`ASSET_DIRS` and :data:`VENDORED` into the built
    package."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the checkout itself
            return
        for packaged, installed in VENDORED.items():
            target = Path(self.build_lib) / packaged
            self.mkpath(str(target.parent))
            self.copy_file(str(vendored_source(packaged, installed)), str(target))
        for relative in ASSET_DIRS:
            source = HERE / relative
            if not source.is_dir():
                raise FileNotFoundError(f"{relative} is missing: build from a checkout or sdist")
            for path in sorted(source.rglob("*")):
                parts = path.relative_to(HERE).parts
                if path.is_dir() or SKIPPED.intersection(parts) or path.suffix == ".pyc":
                    continue
                target = Path(self.build_lib) / PACKAGED_DIR / path.relative_to(HERE)
                self.mkpath(str(target.parent))
                self.copy_file(str(path), str(target))


class SdistWithVendored(sdist):
    """``sdist`` that also puts :data:`VENDORED` at their packaged paths."""

    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        super().make_release_tree(base_dir, files)
        for packaged, installed in VENDORED.items():
            target = Path(base_dir) / packaged
            self.mkpath(str(target.parent))
            self.copy_file(str(vendored_source(packaged, installed)), str(target))


setup(cmdclass={"build_py": BuildPyWithAssets, "sdist": SdistWithVendored})
