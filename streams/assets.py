"""Where camguard's non-Python files are: Avro schemas, SQL migrations, the dev-stack scripts.

Their single source is the repository's top level (``schemas/avro/``, ``infra/``;
docs/architecture.md fixes that layout). A wheel carries copies under ``streams/_assets/``
with the same relative paths, made at build time by setup.py (and MANIFEST.in puts the sources
into the sdist), so an installed camguard runs in any directory. In a checkout, editable
install included, there is no ``_assets`` folder and the files are read where they are.

Only paths are computed here; nothing is read.
"""

from __future__ import annotations

from pathlib import Path

from streams.exceptions import CamguardError

PACKAGE_DIR = Path(__file__).resolve().parent
PACKAGED_DIR_NAME = "_assets"


class AssetNotFoundError(CamguardError):
    """A file camguard ships is missing.

    From a wheel: reinstall it (the build copies schemas/ and infra/ into the package; a wheel
    built without setup.py lacks them). From a checkout: restore the file with git.
    """

    reason = "asset_missing"


def assets_root(package_dir: Path = PACKAGE_DIR) -> Path:
    """The folder holding ``schemas/`` and ``infra/``: the installed copy, else the checkout."""
    packaged = package_dir / PACKAGED_DIR_NAME
    return packaged if packaged.is_dir() else package_dir.parent


def asset_path(relative: str, root: Path | None = None) -> Path:
    """``relative`` (e.g. ``"infra/kafka/kafka.sh"``) under :func:`assets_root`; must exist."""
    path = (root if root is not None else assets_root()) / relative
    if not path.exists():
        raise AssetNotFoundError(f"{relative} not found under {path.parent}")
    return path
