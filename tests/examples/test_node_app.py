"""examples/node/generate.mjs (onnxruntime-node + @huggingface/tokenizers) gives the same
greedy tokens as light_llm.runtime on the same export folder: with position_ids (RoPE),
without them (ALiBi, sliding window) and without a KV cache (bidirectional)."""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from light_llm.runtime import generate_ids, load_export

APP = Path(__file__).parents[2] / "examples" / "node"
PROMPT = "def café(x):\n    return"  # the é is two bytes: the tokenizers must agree
MAX_NEW_TOKENS = 40  # more than the room left in max_seq_len=48: the cap is checked too

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None,
    reason="node and npm are not installed",
)


def _installed(package: str, version: str) -> bool:
    manifest = APP / "node_modules" / package / "package.json"
    return manifest.is_file() and json.loads(manifest.read_text())["version"] == version


@pytest.fixture(scope="session")
def node_app() -> Path:
    """examples/node with its dependencies in examples/node/node_modules (gitignored),
    installed from package-lock.json once; a lock keeps xdist workers from racing."""
    wanted = json.loads((APP / "package.json").read_text())["dependencies"]
    with open(Path(tempfile.gettempdir()) / "light_llm-examples-node.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not all(_installed(name, version) for name, version in wanted.items()):
            done = subprocess.run(
                ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
                cwd=APP, capture_output=True, text=True, timeout=300,
            )
            assert done.returncode == 0, f"npm ci failed:\n{done.stdout}\n{done.stderr}"
    return APP


def _node_generate(app: Path, export: Path) -> dict:
    done = subprocess.run(
        ["node", "generate.mjs", str(export), "--prompt", PROMPT,
         "--max-new-tokens", str(MAX_NEW_TOKENS), "--json"],
        cwd=app, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("export_fixture", ["llama_export", "sliding_export", "bidirectional_export"])
def test_node_greedy_tokens_equal_python(node_app: Path, export_fixture: str, request) -> None:
    _, export = request.getfixturevalue(export_fixture)
    python = load_export(export)
    prompt_ids = python.encode(PROMPT)
    expected = generate_ids(python.run, python.geometry, [prompt_ids], max_new_tokens=MAX_NEW_TOKENS,
                            eos_id=python.eos_id, pad_id=python.pad_id)[0]
    if python.geometry.cached:  # the tiny bidirectional model just repeats the last token
        assert len(set(expected)) > 1, "a constant continuation would not tell the apps apart"

    node = _node_generate(node_app, export)

    assert node["prompt_ids"] == prompt_ids
    assert node["ids"] == expected
    assert node["text"] == python.decode(expected)


def test_node_app_usage_error(node_app: Path) -> None:
    done = subprocess.run(["node", "generate.mjs"], cwd=node_app, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "usage: node generate.mjs EXPORT_DIR" in done.stderr
