"""No two modules of streams/, agents/ and codegen/ share a file name, unless the name means the
same thing wherever it is: a newcomer who finds a ``records.py`` or a ``models.py`` should not
have to ask which meaning it has (issue #16).

A name that repeats is listed below with why, either for any package (:data:`ANY_PACKAGE`) or
for exactly the files that hold it now (:data:`ONLY_AT`), so a new file of that name elsewhere
still fails here.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("streams", "agents", "codegen")

#: Names any package may hold: each means the same thing in every package.
ANY_PACKAGE = {
    "__init__.py": "the package itself",
    "__main__.py": "what `python -m <package>` runs",
    "exceptions.py": "the package's error types",
}

#: Names allowed at exactly these files.
ONLY_AT: dict[str, frozenset[str]] = {
    # A server's Prometheus /metrics: the gateway's (collected from its live state) and the
    # worker's (its registry and view); the package says which server.
    "metrics.py": frozenset({"streams/gateway/metrics.py", "streams/web/metrics.py"}),
    # The worker's service-policy feature: its agent side (the PolicyManager's wiring and the
    # validator agent) and its HTTP side (GET /policies, the Supabase webhook); agents/worker.py
    # installs the two together, as policy_agents and policy_views.
    "policies.py": frozenset({"agents/policies.py", "streams/web/policies.py"}),
    # TODO(#16): two meanings. streams/anonymize/records.py turns Frame records into
    # AnonymizedFrame records (rename it, e.g. to frame_records.py, once agents/frames.py, its
    # importer, is not being edited); streams/contract/records.py holds the Avro enum symbols
    # (EventKind) and RawMessage, imported by streams/resilience/*, also being edited now.
    "records.py": frozenset({"streams/anonymize/records.py", "streams/contract/records.py"}),
    # TODO(#16): two meanings. streams/contract/topics.py names the topics and their cleanup;
    # streams/topics.py creates them on a broker (ensure_topics). Rename the latter (e.g. to
    # topic_admin.py) once streams/resilience/changelogs.py, which imports it, is not being
    # edited.
    "topics.py": frozenset({"streams/contract/topics.py", "streams/topics.py"}),
}


def modules() -> list[str]:
    """Every camguard module file, relative to the repository root (generated code left out)."""
    return sorted(
        path.relative_to(ROOT).as_posix()
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "generated" not in path.parts and "node_modules" not in path.parts
    )


def by_name() -> dict[str, set[str]]:
    names: dict[str, set[str]] = defaultdict(set)
    for module in modules():
        names[module.rpartition("/")[2]].add(module)
    return names


def test_no_two_modules_share_a_name_with_different_meanings() -> None:
    shared = {
        name: sorted(paths)
        for name, paths in by_name().items()
        if len(paths) > 1
        and name not in ANY_PACKAGE
        and not paths <= ONLY_AT.get(name, frozenset())
    }
    assert shared == {}, "rename one of each, to a name that says what it holds"


def test_every_allowed_repetition_still_exists() -> None:
    # An entry whose files were renamed away is dead: drop it (and its TODO) from ONLY_AT.
    names = by_name()
    stale = {name: sorted(files - names.get(name, set())) for name, files in ONLY_AT.items()}
    assert {name: missing for name, missing in stale.items() if missing} == {}
