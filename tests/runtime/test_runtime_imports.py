"""Imports point one way on the export side: the ground floor (errors, staging,
permissions) imports nothing above it; the runtime never imports light_llm.exports;
light_llm.exports never imports the CLI. Read from the source (every import, also those
inside functions)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[2] / "src" / "light_llm"


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return {name for name in names if name.startswith("light_llm")}


def test_the_ground_floor_imports_only_the_ground_floor():
    ground = {"light_llm.errors", "light_llm.formatting", "light_llm.staging", "light_llm.permissions"}
    for name in ("errors.py", "formatting.py", "staging.py", "permissions.py"):
        assert imported(PACKAGE / name) <= ground, name


def test_the_runtime_never_imports_exports():
    for path in (PACKAGE / "runtime").glob("*.py"):
        assert not [name for name in imported(path) if name.startswith("light_llm.exports")], path.name


def test_exports_never_import_the_cli():
    for path in (PACKAGE / "exports").glob("*.py"):
        assert not [name for name in imported(path) if name.startswith("light_llm.cli")], path.name
