"""docs/experiments.md quotes `lightllm validate --set` exactly, shows a real plot, and
its sweep command parses."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from experiment_helpers import invoke

ROOT = Path(__file__).parents[2]
DOC = ROOT / "docs" / "experiments.md"


def _console_examples(text: str) -> list[tuple[list[str], str]]:
    found = []
    for block in re.findall(r"^```console\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
        parts = re.split(r"^\$ ((?:[^\n]*\\\n)*[^\n]*)\n", block, flags=re.MULTILINE)
        for command, output in zip(parts[1::2], parts[2::2]):
            found.append((shlex.split(command.replace("\\\n", " ")), output))
    return found


def test_validate_examples_print_what_the_doc_shows(cli_app, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    validations = [(words, output) for words, output in _console_examples(DOC.read_text()) if words[:2] == ["lightllm", "validate"]]
    assert len(validations) == 2
    for words, output in validations:
        assert invoke(cli_app, *words[1:]).output == output


def test_the_plot_is_committed_and_the_sweep_command_parses() -> None:
    from light_llm.experiments.sweep import combinations, parse_grid
    from light_llm.schemas.overrides import load_spec_with_overrides, parse_overrides

    text = DOC.read_text()
    assert (DOC.parent / "images" / "attention-validation-loss.png").is_file()
    assert "](images/attention-validation-loss.png)" in text
    sweeps = [words for words, _ in _console_examples(text) if words[:2] == ["lightllm", "sweep"] and words[2] != "SPEC"]
    assert len(sweeps) == 1
    words = sweeps[0]
    grids = [parse_grid(words[i + 1]) for i, word in enumerate(words) if word == "--grid"]
    sets = parse_overrides([words[i + 1] for i, word in enumerate(words) if word == "--set"])
    names = [combination.name for combination in combinations(grids)]
    assert names == ["variant-mha", "variant-gqa", "variant-complex"]
    for combination in combinations(grids):
        load_spec_with_overrides(ROOT / words[2], [*sets, *combination.overrides])
    rows = [line.split("|")[1].strip() for line in text.splitlines() if line.startswith("| variant-")]
    assert rows == names
