"""cli/missing.py: the line a command prints when the install lacks a package, and the
torch extra it names is the one pyproject.toml declares."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from light_llm.cli.missing import EXTRA, EXTRA_MODULES, missing_module_line

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def requirement_names(requirements: list[str]) -> set[str]:
    return {re.match(r"[A-Za-z0-9_.-]+", requirement).group().lower() for requirement in requirements}


def test_the_modules_named_are_the_torch_extra_of_pyproject():
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    extra = requirement_names(project["optional-dependencies"][EXTRA])
    assert extra == EXTRA_MODULES  # every package of the extra is imported under its own name
    assert not extra & requirement_names(project["dependencies"])


def test_a_package_of_the_extra_names_the_extra():
    line = missing_module_line(ModuleNotFoundError("No module named 'torch.nn'", name="torch.nn"))
    assert line == "this command needs torch, which is not installed: pip install 'light_llm[torch]'"
    assert "light_llm[torch]" in missing_module_line(ModuleNotFoundError(name="matplotlib"))


def test_another_package_is_named_without_an_extra():
    assert missing_module_line(ModuleNotFoundError(name="transformers.models")) == (
        "this command needs the Python module 'transformers', which is not installed")


def test_a_module_of_light_llm_missing_is_a_bug_not_an_install():
    assert missing_module_line(ModuleNotFoundError(name="light_llm.nowhere")) is None
    assert missing_module_line(ModuleNotFoundError("no name")) is None
