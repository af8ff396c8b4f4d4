"""Core records (orgs, policies, licensing, audit) sit below the features: none of their modules
imports generation, moderation, provenance or the portal, so a feature can change without
reaching into the records every feature relies on."""

import ast
from pathlib import Path

import pytest

PLATFORM = Path(__file__).resolve().parent.parent / "platform"
CORE = ("orgs", "policies", "licensing", "audit")
FEATURES = ("generation", "moderation", "provenance", "portal", "defaultmodel", "webhooks")


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("app", CORE)
def test_core_records_import_no_feature(app):
    offenders = {
        f"{path.relative_to(PLATFORM)}: {name}"
        for path in (PLATFORM / app).rglob("*.py")
        for name in imported_modules(path)
        if name.split(".")[0] in FEATURES
    }
    assert not offenders, sorted(offenders)


def test_provenance_reads_nothing_of_generation():
    """Provenance stamps, signs, verifies and records; the release step in generation calls it
    with plain values, so provenance never imports generation's models or services."""
    root = PLATFORM.parent / "provenance"
    offenders = {
        f"{path.relative_to(root.parent)}: {name}"
        for path in root.rglob("*.py")
        for name in imported_modules(path)
        if name.split(".")[0] == "generation"
    }
    assert not offenders, sorted(offenders)
