"""docs/troubleshooting.md and README.md quote the spec errors exactly: each
`$ lightllm validate` / `$ lightllm compile` example shown in full runs (on the files
troubleshooting.md shows in `# file: NAME` blocks, or the repository's) and prints what the
doc shows, and each unreadable-file message of troubleshooting.md's table is produced."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

ROOT = Path(__file__).parents[2]
DOC = ROOT / "docs" / "troubleshooting.md"
README = ROOT / "README.md"
COMMANDS = ("validate", "compile")


def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


def spec_files(text: str) -> dict[str, str]:
    """`# file: NAME` blocks: file name → content (the marker line left out)."""
    blocks = re.findall(r"^```(?:yaml|json)\n# file: (\S+)\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    return dict(blocks)


def examples(text: str) -> list[tuple[str, str]]:
    """(command, expected output) for every `$ lightllm validate|compile` shown in full."""
    found = []
    for block in re.findall(r"^```console\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
        parts = re.split(r"^\$ (.*)\n", block, flags=re.MULTILINE)
        for command, output in zip(parts[1::2], parts[2::2]):
            if not command.startswith(tuple(f"lightllm {name} " for name in COMMANDS)):
                continue  # other commands (curl with continued lines) need not split
            if "..." not in output:
                found.append((command, output))
    return found


def cli_app() -> typer.Typer:
    from light_llm.cli import app as cli

    cli._register_commands()
    return cli.app


def run(args: list[str], cwd: Path, monkeypatch) -> str:
    monkeypatch.chdir(cwd)
    result = CliRunner().invoke(cli_app(), args)
    assert "Traceback" not in result.output
    return result.output


EXAMPLES = examples(doc_text()) + examples(README.read_text(encoding="utf-8"))


def test_the_docs_have_spec_examples() -> None:
    assert len(examples(doc_text())) >= 10
    readme = [command for command, _ in examples(README.read_text(encoding="utf-8"))]
    assert readme == ["lightllm validate tests/data/broken_five_mistakes.yaml"]


@pytest.mark.parametrize(("command", "expected"), EXAMPLES, ids=[command for command, _ in EXAMPLES])
def test_example_prints_what_the_doc_shows(command: str, expected: str, tmp_path, monkeypatch) -> None:
    for name, content in spec_files(doc_text()).items():
        (tmp_path / name).write_text(content, encoding="utf-8")
    args = shlex.split(command)[1:]
    for arg in args[1:]:
        if (ROOT / arg).is_file():  # a file of the repository, e.g. tests/data/...
            (tmp_path / arg).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / arg, tmp_path / arg)
    assert run(args, tmp_path, monkeypatch).strip() == expected.strip()


UNREADABLE: dict[str, bytes | None] = {
    "missing.yaml": None,
    "empty.yaml": b"",
    "huge.yaml": b"model: {}\n" + b"#" * 2_000_000 + b"\n",
    "bin.yaml": b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8,
    "latin1.yaml": b'model:\n  name: "caf\xe9"\n',
    "bad.yaml": b"model:\n  d_model: [1, 2\n",
    "bad.json": b'{"model": {"d_model": 64,}}',
    "dup.yaml": b"model:\n  d_model: 64\n  d_model: 128\n",
    "list.yaml": b"- model\n",
    "deep.json": b"[" * 40 + b"]" * 40 + b"\n",
    "nomodel.yaml": b"spec_version: 1\n",
}


@pytest.mark.parametrize("name", [*UNREADABLE, "adir"])
def test_unreadable_file_messages(name: str, tmp_path, monkeypatch) -> None:
    content = UNREADABLE.get(name)
    if name == "adir":
        (tmp_path / name).mkdir()
    elif content is not None:
        (tmp_path / name).write_bytes(content)
    first_line = run(["validate", name], tmp_path, monkeypatch).splitlines()[0]
    assert f"`{first_line}`" in doc_text(), first_line
