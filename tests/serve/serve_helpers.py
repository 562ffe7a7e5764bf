"""`lightllm serve` subprocesses on free ports, in which importing torch fails (a module
of its own: `conftest` is a name every test folder has)."""

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


CI_VARIABLE = "LIGHTLLM_CI"  # set by .ci/run: there a test whose tools are missing fails, never skips


def skip_unless_ci(reason: str) -> None:
    """Skips the test where `reason` (a missing tool) holds, except under CI: there it fails."""
    if os.environ.get(CI_VARIABLE):
        pytest.fail(f"{reason} ({CI_VARIABLE} is set: CI must run this test)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_server(folder: Path, tmp_path: Path, *options: str, torch: bool = False,
                   lightllm: Path | None = None) -> Iterator[str]:
    """`lightllm serve folder *options` (where importing torch fails unless `torch`), this
    checkout's or the installed `lightllm` executable given; yields its base URL (…/v1)."""
    if lightllm is None:
        paths = [str(Path(__file__).parents[2] / "src")]
        if not torch:
            (tmp_path / "sitecustomize.py").write_text(NO_TORCH)
            paths.insert(0, str(tmp_path))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths))
        program = [sys.executable, "-c", "from light_llm.cli.app import main; main()"]
    else:
        env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
        program = [str(lightllm)]
    port = free_port()
    log = (tmp_path / f"server-{port}.log").open("w+")
    command = [*program, "serve", str(folder), "--port", str(port), *options]
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


def client(url: str, key: str = "unused"):
    import openai

    return openai.OpenAI(base_url=url, api_key=key, max_retries=0, timeout=60)


def greedy(model, prompt: str, max_tokens: int) -> list[int]:
    """light_llm.runtime's greedy tokens for `prompt` (model: a load_export TextGenerator)."""
    from light_llm.runtime import generate_ids

    ids = generate_ids(model.run, model.geometry, [model.encode(prompt)], max_new_tokens=max_tokens,
                       eos_id=model.eos_id, pad_id=model.pad_id or 0)[0]
    return [token for token in ids if token != model.eos_id]


WEB = Path(__file__).parents[2] / "examples" / "web"


def post_and_keep_open(url: str, path: str, body: dict) -> socket.socket:
    """POSTs `body` to url + path as a plain HTTP/1.1 client and returns the socket unread:
    a client that may leave (close) at any moment, even before the answer's first byte."""
    import json
    from urllib.parse import urlsplit

    parts = urlsplit(url + path)
    payload = json.dumps(body).encode()
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    sock.sendall(f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload)
    return sock
