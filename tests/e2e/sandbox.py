"""Run a command under the constraints of infra/docker/compose.yaml, without Docker.

bubblewrap gives the read-only root, a non-root uid (10001, in a user namespace), every
capability dropped and no new privileges; a tmpfs mounted with ``noexec,nosuid,size=500m`` in a
private mount namespace (``unshare -m``, so nothing leaks onto the host) becomes the sandbox's
``/tmp``. Only the given directories are writable; the given read-only ones are bound where
they can be reached by the non-root uid (under ``/tmp``: the root is read-only, so new mount
points can only be made on the tmpfs).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

UID = 10001
TMPFS_OPTIONS = "noexec,nosuid,nodev,size=500m"


class SandboxUnavailableError(RuntimeError):
    """bubblewrap or unshare is missing, or this user cannot mount: install the Debian
    packages ``bubblewrap`` and ``util-linux`` and run the tests as root (CI does)."""


def check_available() -> None:
    missing = [tool for tool in ("bwrap", "unshare") if shutil.which(tool) is None]
    if missing:
        raise SandboxUnavailableError(f"missing {', '.join(missing)} (apt-get install bubblewrap)")
    if os.geteuid() != 0:
        raise SandboxUnavailableError("the noexec tmpfs needs root to mount (CI runs as root)")


def sandboxed(
    argv: Sequence[str],
    tmpfs_source: Path,
    writable: Sequence[Path] = (),
    readable: Mapping[Path, Path] | None = None,
) -> list[str]:
    """The command line running ``argv`` in the sandbox.

    ``tmpfs_source`` is an empty host directory the private tmpfs is mounted on (then bound at
    ``/tmp``); ``writable`` paths must lie under ``/tmp`` on the host (pytest's tmp_path does)
    and are bound at the same path; ``readable`` maps host paths to read-only paths under /tmp.
    """
    binds: list[str] = []
    for path in writable:
        binds += ["--bind", str(path), str(path)]
    for source, target in (readable or {}).items():
        binds += ["--ro-bind", str(source), str(target)]
    bwrap = [
        "bwrap",
        "--ro-bind", "/", "/",
        "--dev", "/dev",
        "--proc", "/proc",
        "--bind", str(tmpfs_source), "/tmp",
        *binds,
        "--unshare-user", "--uid", str(UID), "--gid", str(UID),
        "--unshare-pid", "--unshare-ipc",
        "--cap-drop", "ALL",
        "--new-session",
        "--die-with-parent",
        "--setenv", "HOME", "/tmp",
        "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
        "--",
        *argv,
    ]  # fmt: skip
    script = f'mount -t tmpfs -o {TMPFS_OPTIONS} tmpfs "$1" && shift && exec "$@"'
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
            str(tmpfs_source), *bwrap]  # fmt: skip
