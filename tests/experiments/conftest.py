"""Fixtures of the experiments tests: the CLI app and one trained run shared by a module."""

from __future__ import annotations

import pytest
import typer


@pytest.fixture(scope="session")
def cli_app() -> typer.Typer:
    from light_llm.cli import app as cli

    if not cli.app.registered_commands:
        cli._register_commands()
    return cli.app
