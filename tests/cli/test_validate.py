"""`lightllm validate`: ok lines for valid specs, every error of every file otherwise,
exit codes, and never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

ROOT = Path(__file__).parent.parent.parent
EXAMPLES = sorted((ROOT / "examples" / "specs").iterdir())
BROKEN = ROOT / "tests" / "data" / "broken_five_mistakes.yaml"


def test_all_examples_are_valid(cli_app: typer.Typer, runner: CliRunner) -> None:
    result = runner.invoke(cli_app, ["validate", *map(str, EXAMPLES)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == len(EXAMPLES)
    for example, line in zip(EXAMPLES, lines, strict=False):
        assert line.startswith(f"{example}: ok (transformer, ")


def test_five_mistakes_exit_1_with_five_messages(cli_app: typer.Typer, runner: CliRunner) -> None:
    result = runner.invoke(cli_app, ["validate", str(BROKEN)])
    assert result.exit_code == 1
    header, *errors = result.output.splitlines()
    assert header == f"{BROKEN}: 5 errors"
    assert [line.strip().split(": ")[0] for line in errors] == [
        "model.d_model",
        "model.num_layer",
        "model.attention.num_kv_heads",
        "model.attention.window_size",
        "model.norm.type",
    ]


def test_every_file_is_reported(cli_app: typer.Typer, runner: CliRunner, tmp_path: Path) -> None:
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"model": {"d_model": 0}}')
    missing = tmp_path / "missing.yaml"
    result = runner.invoke(
        cli_app, ["validate", str(EXAMPLES[0]), str(bad_json), str(missing), str(BROKEN)]
    )
    assert result.exit_code == 1
    output = result.output
    assert f"{EXAMPLES[0]}: ok" in output
    assert f"{bad_json}: 1 error\n  model.d_model: got 0; allowed: an integer ≥ 1 and ≤ 65536" in output
    assert f"{missing}: no such file" in output
    assert f"{BROKEN}: 5 errors" in output


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("empty.yaml", b"", "file is empty"),
        ("garbage.yaml", bytes(range(256)), "binary data"),
        ("deep.json", b"[" * 10_000 + b"]" * 10_000, "nested deeper than"),
        ("bad.yaml", b"model: [1, 2\n", "invalid YAML at line 2, column 1"),
    ],
)
def test_bad_files_give_one_line_and_exit_1(
    cli_app: typer.Typer, runner: CliRunner, tmp_path: Path, name: str, content: bytes, words: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    result = runner.invoke(cli_app, ["validate", str(path)])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    [line] = result.output.splitlines()
    assert line.startswith(f"{path}: ") and words in line


def test_directory_and_huge_file(cli_app: typer.Typer, runner: CliRunner, tmp_path: Path) -> None:
    huge = tmp_path / "huge.yaml"
    with huge.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    result = runner.invoke(cli_app, ["validate", str(tmp_path), str(huge)])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"{tmp_path}: is a directory, not a spec file (pass files, e.g. dir/*.yaml)",
        f"{huge}: file is too large for a spec (52,428,800 bytes; specs are limited to 1,048,576 bytes)",
    ]


def test_no_arguments_is_a_usage_error(cli_app: typer.Typer, runner: CliRunner) -> None:
    result = runner.invoke(cli_app, ["validate"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_console_script_in_a_real_process(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 10_000 + "]" * 10_000)
    script = Path(sys.executable).parent / "lightllm"
    command = (
        [str(script)]
        if script.exists()
        else [sys.executable, "-c", "from light_llm.cli.app import main; main()"]
    )
    done = subprocess.run(
        [*command, "validate", str(BROKEN), str(deep), str(EXAMPLES[0])],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    assert f"{BROKEN}: 5 errors" in done.stdout
    assert f"{deep}: nested deeper than 32 levels" in done.stdout
    assert f"{EXAMPLES[0]}: ok" in done.stdout
