"""Run-time assets: found in an installed package or in the checkout, and carried by the wheel."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from codegen.avro_schema import SCHEMA_DIR
from streams.assets import AssetNotFoundError, asset_path, assets_root
from streams.codec import DEFAULT_SCHEMA_DIR
from streams.devstack import KAFKA_SCRIPT, MIGRATIONS_DIR, PG_SCRIPT
from streams.settings import Settings, StateDirError, ensure_state_dir

ROOT = Path(__file__).resolve().parents[2]


def _setup_asset_dirs() -> tuple[str, ...]:
    """setup.py's ASSET_DIRS, read without running setup()."""
    tree = ast.parse((ROOT / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "ASSET_DIRS":
            value = ast.literal_eval(node.value)
            assert isinstance(value, tuple)
            return value
    raise AssertionError("setup.py has no ASSET_DIRS")


def test_an_installed_package_reads_its_own_copy(tmp_path: Path) -> None:
    package = tmp_path / "site-packages" / "streams"
    (package / "_assets" / "schemas" / "avro").mkdir(parents=True)
    assert assets_root(package) == package / "_assets"


def test_a_checkout_reads_the_top_level_folders(tmp_path: Path) -> None:
    package = tmp_path / "checkout" / "streams"
    package.mkdir(parents=True)
    assert assets_root(package) == tmp_path / "checkout"


def test_this_checkout_has_no_stale_packaged_copy() -> None:
    assert assets_root() == ROOT, "streams/_assets is made in the wheel only; delete it here"


def test_a_missing_asset_says_which() -> None:
    with pytest.raises(AssetNotFoundError, match=r"infra/nope\.sh"):
        asset_path("infra/nope.sh")
    assert asset_path("infra/kafka/kafka.sh") == KAFKA_SCRIPT


def test_every_asset_the_code_reads_exists_and_goes_into_the_wheel() -> None:
    carried = [ROOT / relative for relative in _setup_asset_dirs()]
    used = [DEFAULT_SCHEMA_DIR, SCHEMA_DIR, KAFKA_SCRIPT, PG_SCRIPT, MIGRATIONS_DIR]
    for path in used:
        assert path.exists(), path
        assert any(path.is_relative_to(folder) for folder in carried), f"{path} not in the wheel"
    # the scripts find each other by relative paths, which the copy keeps
    assert (PG_SCRIPT.parent / ".." / "supabase" / "migrations").resolve() == MIGRATIONS_DIR
    assert (PG_SCRIPT.parent / ".." / "kafka" / "probe.py").is_file()
    assert (KAFKA_SCRIPT.parent / "pom.xml").is_file()


def test_the_sdist_carries_what_the_wheel_copies() -> None:
    grafted = {
        line.split()[1]
        for line in (ROOT / "MANIFEST.in").read_text().splitlines()
        if line.startswith("graft ")
    }
    assert set(_setup_asset_dirs()) <= grafted


def test_state_dirs_default_under_var_in_the_working_directory() -> None:
    assert Settings.model_fields["data_dir"].default == Path("var/camguard")
    assert Settings.model_fields["spool_dir"].default == Path("var/spool")


def test_a_state_dir_is_created_with_its_parents(tmp_path: Path) -> None:
    made = ensure_state_dir(tmp_path / "a" / "b" / "camguard", "CAMGUARD_DATA_DIR")
    assert made.is_dir()
    assert ensure_state_dir(made, "CAMGUARD_DATA_DIR") == made  # again: no error


def test_a_state_dir_that_cannot_be_made_names_the_setting(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(StateDirError, match="set CAMGUARD_SPOOL_DIR to a writable folder"):
        ensure_state_dir(tmp_path / "file" / "spool", "CAMGUARD_SPOOL_DIR")
