"""Imports point one way on the export side: the ground floor (errors, staging,
permissions) imports nothing above it; the runtime never imports light_llm.exports;
light_llm.exports never imports the CLI. Read from the source (every import, also those
inside functions). And the runtime and the server raise only errors.py's errors."""

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
    for name in ("errors.py", "formatting.py", "staging.py", "permissions.py", "atomic_file.py"):
        assert imported(PACKAGE / name) <= ground, name


def test_the_runtime_never_imports_exports():
    for path in (PACKAGE / "runtime").glob("*.py"):
        assert not [name for name in imported(path) if name.startswith("light_llm.exports")], path.name


def test_exports_never_import_the_cli():
    for path in (PACKAGE / "exports").glob("*.py"):
        assert not [name for name in imported(path) if name.startswith("light_llm.cli")], path.name


def raised_built_ins(path: Path) -> list[str]:
    """`raise X(...)` lines of `path` whose X is a built-in exception (not errors.py's)."""
    import builtins

    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and isinstance(node.exc.func, ast.Name):
            name = node.exc.func.id
            if isinstance(getattr(builtins, name, None), type) and issubclass(getattr(builtins, name), BaseException):
                found.append(f"{path.name}:{node.lineno} raises {name}")
    return found


def test_the_runtime_and_the_server_raise_only_the_projects_errors():
    """Every failure they report derives from errors.LightLLMError, so callers catch one
    base and the CLI prints it as one line."""
    paths = sorted([*(PACKAGE / "runtime").glob("*.py"), *(PACKAGE / "serve").glob("*.py")])
    assert [line for path in paths for line in raised_built_ins(path)] == []


def test_the_check_finds_a_built_in_raise(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("from light_llm.errors import ExportError\n"
                      "def f(x):\n    if x:\n        raise ExportError('a')\n    raise ValueError('b')\n")
    assert raised_built_ins(sample) == ["sample.py:5 raises ValueError"]
