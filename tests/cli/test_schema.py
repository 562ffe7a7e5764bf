"""`lightllm schema`: prints the committed schema, writes it atomically with --out."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from light_llm.schemas.json_schema import COMMITTED_PATH

ROOT = Path(__file__).parent.parent.parent


def test_prints_the_committed_schema(cli_app: typer.Typer, runner: CliRunner) -> None:
    result = runner.invoke(cli_app, ["schema"])
    assert result.exit_code == 0
    assert result.stdout == (ROOT / COMMITTED_PATH).read_text(encoding="utf-8")


def test_out_replaces_the_file_and_leaves_no_temporary(
    cli_app: typer.Typer, runner: CliRunner, tmp_path: Path
) -> None:
    out = tmp_path / "schema.json"
    out.write_text("old")
    result = runner.invoke(cli_app, ["schema", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8") == (ROOT / COMMITTED_PATH).read_text(encoding="utf-8")
    assert out.stat().st_mode & 0o777 == 0o644
    assert [path.name for path in tmp_path.iterdir()] == ["schema.json"]


def test_out_into_a_missing_folder_is_a_clear_error(
    cli_app: typer.Typer, runner: CliRunner, tmp_path: Path
) -> None:
    out = tmp_path / "no" / "such" / "schema.json"
    result = runner.invoke(cli_app, ["schema", "--out", str(out)])
    assert result.exit_code == 1
    assert f"{out}: cannot write" in result.output
    assert "Traceback" not in result.output
