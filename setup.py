"""Build hook: the wheel carries copies of the repository's run-time assets.

``schemas/avro/`` and ``infra/`` stay at the top level, their single source (DESIGN.md fixes the
layout); ``build_py`` copies the folders camguard reads at run time into ``streams/_assets/``
with the same relative paths, where ``streams.assets`` finds them in an installed package.
MANIFEST.in puts the same folders into the sdist, so a wheel built from the sdist has them too.
Everything else about the build is declared in pyproject.toml.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
PACKAGED_DIR = Path("streams") / "_assets"  # streams.assets.PACKAGED_DIR_NAME
ASSET_DIRS = (
    "schemas/avro",  # codec and codegen: every .avsc, history included
    "infra/kafka",  # camguard kafka: kafka.sh, pom.xml, probe.py
    "infra/postgres",  # camguard postgres: pg.sh (reads ../supabase/migrations)
    "infra/supabase/migrations",
)
SKIPPED = frozenset({"__pycache__", ".DS_Store"})


class BuildPyWithAssets(build_py):
    """``build_py`` that also copies :data:`ASSET_DIRS` into the built package."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the checkout itself
            return
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


setup(cmdclass={"build_py": BuildPyWithAssets})
