"""`pip install light_llm` without an extra, into a fresh virtual environment: torch is not
installed, `lightllm --help` and `lightllm validate` work, `lightllm serve EXPORT` answers
the official `openai` client with light_llm.runtime's greedy tokens, and a command that
needs torch says in one line which extra to install."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from serve_helpers import client, greedy, running_server

from light_llm.cli.missing import EXTRA_MODULES
from light_llm.runtime import load_export

ROOT = Path(__file__).resolve().parents[2]
TORCH_LINE = "error: this command needs torch, which is not installed: pip install 'light_llm[torch]'"

pytestmark = pytest.mark.slow


def without_pythonpath() -> dict[str, str]:
    """The environment of an installed program: this checkout's src/ is not on its path."""
    return {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}


@pytest.fixture(scope="module")
def slim(tmp_path_factory) -> Path:
    """The bin/ folder of a fresh virtual environment holding the plain install of a copy of
    this checkout (a copy: pip builds in the source tree)."""
    root = tmp_path_factory.mktemp("slim")
    source = root / "source"
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "venv", str(root / "venv")], check=True, timeout=300)
    bin_folder = root / "venv" / "bin"
    done = subprocess.run([str(bin_folder / "python"), "-m", "pip", "install", "--quiet", str(source)],
                          env=without_pythonpath(), capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return bin_folder


def run(slim: Path, program: str, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(slim / program), *map(str, arguments)], env=without_pythonpath(),
                          capture_output=True, text=True, timeout=300)


def test_the_plain_install_brings_no_package_of_the_torch_extra(slim):
    found = run(slim, "python", "-c", "import importlib.util, sys; "
                "print(' '.join(m for m in sys.argv[1:] if importlib.util.find_spec(m)))", *sorted(EXTRA_MODULES))
    assert found.returncode == 0, found.stderr
    assert found.stdout.split() == []
    located = run(slim, "python", "-c", "import light_llm; print(light_llm.__file__)")
    assert Path(located.stdout.strip()).is_relative_to(slim.parent)  # the installed copy, not src/


def test_help_and_the_spec_commands_work_without_torch(slim):
    helped = run(slim, "lightllm", "--help")
    assert helped.returncode == 0, helped.stderr
    assert "serve" in helped.stdout and "train" in helped.stdout
    spec = ROOT / "examples" / "specs" / "tiny.yaml"
    validated = run(slim, "lightllm", "validate", spec)
    assert validated.returncode == 0, validated.stderr
    assert validated.stdout.startswith(f"{spec}: ok")
    compiled = run(slim, "lightllm", "compile", spec)
    assert compiled.returncode == 0, compiled.stderr
    assert "parameters" in compiled.stdout
    schema = run(slim, "lightllm", "schema")
    assert schema.returncode == 0 and schema.stdout == (ROOT / "schemas" / "light_llm.schema.json").read_text()


def test_an_export_generates_and_evaluates_without_torch(slim, serve_export):
    generated = run(slim, "lightllm", "generate", serve_export, "--prompt", "hi", "--max-new-tokens", "4")
    assert generated.returncode == 0, generated.stderr
    assert generated.stdout.startswith("hi")
    evaluated = run(slim, "lightllm", "eval", serve_export, "--perplexity")
    assert evaluated.returncode == 0, evaluated.stderr
    assert "perplexity" in evaluated.stdout


def test_serve_answers_the_openai_client(slim, serve_export, tmp_path):
    model = load_export(serve_export)
    messages = [{"role": "user", "content": "hi"}]
    expected = greedy(model, "user: hi\nassistant:", 12)
    with running_server(serve_export, tmp_path, lightllm=slim / "lightllm") as url:
        answer = client(url).chat.completions.create(model="any", messages=messages, max_tokens=12, temperature=0,
                                                     extra_body={"return_token_ids": True})
    assert answer.choices[0].token_ids == expected
    assert answer.choices[0].message.content == model.decode(expected)
    assert answer.usage.completion_tokens == len(expected)


@pytest.mark.parametrize("command", [
    ["train", ROOT / "examples" / "specs" / "tiny.yaml", "--steps", "1"],
    ["generate", "RUN", "--prompt", "hi"],
    ["export", "RUN", "--onnx"],
])
def test_a_command_that_needs_torch_names_the_extra(slim, serve_export, tmp_path, command):
    arguments = [serve_export.parent / "run" if argument == "RUN" else argument for argument in command]
    if command[0] != "generate":
        arguments += ["--out", tmp_path / "out"]
    done = run(slim, "lightllm", *arguments)
    assert done.returncode == 1
    assert done.stderr.strip() == TORCH_LINE
    assert not (tmp_path / "out").exists()
