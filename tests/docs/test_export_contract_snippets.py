"""The Python snippets of docs/export-contract.md run as written (on a test export, in a
process where torch cannot be imported), and the three greedy generators agree."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "exports"))

from onnx_fixtures import llama_export  # noqa: E402, F401

DOC = Path(__file__).parents[2] / "docs" / "export-contract.md"
DOC_FOLDER = "/tmp/x/onnx"  # the export folder the doc's snippets name

NO_TORCH = '''import sys
class _NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked in this process")
sys.meta_path.insert(0, _NoTorch())
'''


def python_snippets() -> dict[str, str]:
    """The doc's ```python blocks, keyed by the module each one is about."""
    blocks = re.findall(r"^```python\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.MULTILINE | re.DOTALL)
    keyed = {}
    for block in blocks:
        if "light_llm.runtime" in block:
            keyed["runtime"] = block
        elif "onnxruntime_genai" in block:
            keyed["genai"] = block
        elif "get_modelmeta" in block:
            keyed["metadata"] = block
        elif "session.run" in block:
            keyed["plain"] = block
    assert len(blocks) == len(keyed) == 4, f"unexpected Python blocks in {DOC}"
    return keyed


def run_snippet(code: str, export: Path) -> str:
    assert DOC_FOLDER in code
    done = subprocess.run(
        [sys.executable, "-c", NO_TORCH + code.replace(DOC_FOLDER, str(export))],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def outputs(llama_export) -> dict[str, str]:
    _, export = llama_export
    snippets = python_snippets()
    if importlib.util.find_spec("onnxruntime_genai") is None:
        snippets.pop("genai")
    return {name: run_snippet(code, export) for name, code in snippets.items()}


def test_greedy_text_is_the_same_through_every_snippet(outputs: dict[str, str]) -> None:
    runtime_greedy = outputs["runtime"].splitlines()[0]
    assert len(runtime_greedy) > 2
    assert outputs["plain"].strip() == runtime_greedy
    if "genai" in outputs:
        # The same tokens; genai 0.18's decoder prints the first run of invalid UTF-8 as one
        # U+FFFD and drops the text after it (tokenizers: one U+FFFD per byte, and goes on).
        one_replacement = re.compile("\ufffd+")
        genai = one_replacement.sub("\ufffd", outputs["genai"].strip().strip("'"))
        runtime = one_replacement.sub("\ufffd", runtime_greedy.strip("'"))
        valid_part = runtime.split("\ufffd")[0]
        assert genai == runtime or (genai.startswith(valid_part) and runtime.startswith(genai))


def test_metadata_snippet_prints_the_contract_names(outputs: dict[str, str], llama_export) -> None:
    import json

    _, export = llama_export
    manifest = json.loads((export / "light_llm.json").read_text())
    printed = [line.split()[0] for line in outputs["metadata"].splitlines()]
    names = manifest["inputs"] + manifest["outputs"]
    assert printed[: len(names)] == names
    for name in names:  # every name the export has is in the doc's IO table
        generic = re.sub(r"\.\d+\.", ".{i}.", name)
        assert f"`{generic}`" in DOC.read_text(encoding="utf-8"), name
