"""One tiny export per xdist worker for every serve test (a context of 512 tokens, so a
stream runs long enough to be cut off), and `lightllm serve` subprocesses on free ports
in which importing torch fails."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "exports"))

from torch_targets_matrix import ROWS, merged, model_folder  # noqa: E402

CONTEXT = 512
NO_TORCH = '''
import sys
class _NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked in this process")
        return None
sys.meta_path.insert(0, _NoTorch())
'''


@pytest.fixture(scope="session")
def serve_export(tmp_path_factory) -> Path:
    from light_llm.exports.onnx import export_onnx

    root = tmp_path_factory.mktemp("serve")
    model = merged(ROWS["mha-rope-scaled-swiglu-rms-pre-tied"], {"max_seq_len": CONTEXT})
    export_onnx(model_folder(root / "run", model), root / "onnx")
    return root / "onnx"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_server(folder: Path, tmp_path: Path, *options: str, torch: bool = False) -> Iterator[str]:
    """`lightllm serve folder *options` (where importing torch fails unless `torch`);
    yields its base URL (…/v1)."""
    paths = [str(Path(__file__).parents[2] / "src")]
    if not torch:
        (tmp_path / "sitecustomize.py").write_text(NO_TORCH)
        paths.insert(0, str(tmp_path))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths))
    port = free_port()
    log = (tmp_path / f"server-{port}.log").open("w+")
    command = [sys.executable, "-c", "from light_llm.cli.app import main; main()", "serve", str(folder),
               "--port", str(port), *options]
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None:
                log.seek(0)
                raise AssertionError(f"lightllm serve exited {server.returncode}:\n{log.read()}")
            try:
                httpx.get(url + "/v1/models", timeout=1, headers={"Authorization": "Bearer x"})
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "lightllm serve did not start in 120 s"
                time.sleep(0.2)
        yield url + "/v1"
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


WEB = Path(__file__).parents[2] / "examples" / "web"


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
        pytest.skip("node and npm are not installed")
    wanted = json.loads((WEB / "package.json").read_text())["dependencies"]
    with open(Path(tempfile.gettempdir()) / "light_llm-examples-web.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not all(_installed(name, version) for name, version in wanted.items()):
            done = subprocess.run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
                                  cwd=WEB, capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, f"npm ci failed:\n{done.stdout}\n{done.stderr}"
    return WEB
