"""One tiny export per xdist worker for every serve test (a context of 512 tokens, so a
stream runs long enough to be cut off), and examples/web's npm packages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "exports"))
sys.path.insert(0, str(Path(__file__).parent))

from serve_helpers import CONTEXT, WEB, skip_unless_ci  # noqa: E402
from torch_targets_matrix import ROWS, merged, model_folder  # noqa: E402


@pytest.fixture(scope="session")
def serve_export(tmp_path_factory) -> Path:
    from light_llm.exports.onnx import export_onnx

    root = tmp_path_factory.mktemp("serve")
    model = merged(ROWS["mha-rope-scaled-swiglu-rms-pre-tied"], {"max_seq_len": CONTEXT})
    export_onnx(model_folder(root / "run", model), root / "onnx")
    return root / "onnx"


def _installed(package: str, version: str) -> bool:
    import json

    manifest = WEB / "node_modules" / package / "package.json"
    return manifest.is_file() and json.loads(manifest.read_text())["version"] == version


@pytest.fixture(scope="session")
def web_packages() -> Path:
    """examples/web with its npm packages (gitignored node_modules), installed from
    package-lock.json once; a file lock keeps xdist workers from racing."""
    import fcntl
    import json
    import shutil
    import tempfile

    if shutil.which("node") is None or shutil.which("npm") is None:
        skip_unless_ci("node and npm are not installed")
    wanted = json.loads((WEB / "package.json").read_text())["dependencies"]
    with open(Path(tempfile.gettempdir()) / "light_llm-examples-web.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not all(_installed(name, version) for name, version in wanted.items()):
            done = subprocess.run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
                                  cwd=WEB, capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, f"npm ci failed:\n{done.stdout}\n{done.stderr}"
    return WEB


@pytest.fixture(scope="session")
def fused_export(tmp_path_factory) -> Path:
    """A tiny export whose every layer is GroupQueryAttention (head_dim 16), which writes its
    present into the past's buffer: the engine's shared-KV-buffer path."""
    from light_llm.exports.onnx import export_onnx

    root = tmp_path_factory.mktemp("fused")
    model = merged(ROWS["mha-rope-scaled-swiglu-rms-pre-tied"], {"max_seq_len": 96, "attention": {"num_heads": 2}})
    export_onnx(model_folder(root / "run", model), root / "onnx")
    return root / "onnx"
