"""Shared by the CLI tests: the `lightllm` app with every command registered."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner


@pytest.fixture(scope="session")
def cli_app() -> typer.Typer:
    from light_llm.cli import app as cli

    if not cli.app.registered_commands:
        cli._register_commands()
    return cli.app


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()
