"""Issue 13's CLI cases on the export side: each a one-line error, a non-zero exit, no
traceback and nothing left behind; anything unexpected is an internal error of one line
that says how to see the traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from onnx_fixtures import LLAMA
from torch_targets_matrix import model_folder
from typer.testing import CliRunner

from light_llm.cli.errors import MAX_LINE, one_line
from light_llm.exports.folder import sha256


@pytest.fixture(scope="module")
def cli():
    from light_llm.cli import app as cli_module

    cli_module._register_commands()
    runner = CliRunner()
    return lambda *args: runner.invoke(cli_module.app, [str(a) for a in args])


def assert_one_line_error(result, *expected: str) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and len(errors[0]) <= MAX_LINE, result.output
    for text in expected:
        assert text in errors[0], errors[0]
    return errors[0]


def listing(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def test_export_of_weights_that_do_not_fit_the_spec(cli, tmp_path):
    model_folder(tmp_path / "run", LLAMA)
    spec = json.loads((tmp_path / "run" / "spec.resolved.json").read_text())
    spec["model"]["d_model"] = 64  # the weights were made for 32
    spec["model"]["attention"]["head_dim"] = 16
    (tmp_path / "run" / "spec.resolved.json").write_text(json.dumps(spec))
    before = listing(tmp_path)
    result = cli("export", tmp_path / "run", "--torchscript", "--out", tmp_path / "new" / "ts")
    assert_one_line_error(result, "weights do not match the spec", "size mismatch")
    assert listing(tmp_path) == before  # no --out, not even its parent


def test_export_into_a_folder_that_cannot_be_written(cli, tmp_path):
    model_folder(tmp_path / "run", LLAMA)
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where a folder should be")
    result = cli("export", tmp_path / "run", "--torchscript", "--out", blocked / "out")
    assert_one_line_error(result, "cannot write into")
    if os.geteuid() == 0:  # root writes through permission bits; /sys refuses even root
        result = cli("export", tmp_path / "run", "--torchscript", "--out", "/sys/light_llm_export")
    else:
        readonly = tmp_path / "readonly"
        readonly.mkdir(mode=0o555)
        result = cli("export", tmp_path / "run", "--torchscript", "--out", readonly / "out")
    assert_one_line_error(result, "cannot write into")


def _broken_copies(out: Path, root: Path) -> dict[str, Path]:
    manifest = json.loads((out / "light_llm.json").read_text())
    cases = {
        "binary": b"\x89\xff\x00\x13 not json",
        "a JSON list": json.dumps([manifest]).encode(),
        "without parity": json.dumps({k: v for k, v in manifest.items() if k != "parity"}).encode(),
        "sha256 not a dict": json.dumps(dict(manifest, sha256="abc")).encode(),
        "source.path a number": json.dumps(dict(manifest, source={"path": 12})).encode(),
    }
    copies = {}
    for name, content in cases.items():
        copy = root / name.replace(" ", "_")
        shutil.copytree(out, copy)
        (copy / "light_llm.json").write_bytes(content)
        copies[name] = copy
    graph = root / "not_protobuf"
    shutil.copytree(out, graph)
    (graph / "model.onnx").write_bytes(b"this is not a protobuf")
    (graph / "light_llm.json").write_text(json.dumps(dict(manifest, sha256={"model.onnx": sha256(graph / "model.onnx")})))
    copies["model.onnx not protobuf"] = graph
    return copies


EXPECTED = {
    "binary": "not valid JSON",
    "a JSON list": "not a light_llm export manifest",
    "without parity": "parity: Field required",
    "sha256 not a dict": "sha256: Input should be a valid dictionary",
    "source.path a number": "source.path: Input should be a valid string",
    "model.onnx not protobuf": "onnxruntime cannot load it",
}


def test_verify_and_generate_on_broken_export_folders(cli, llama_export, tmp_path):
    _, out = llama_export
    for case, folder in _broken_copies(out, tmp_path).items():
        before = listing(tmp_path)
        for command in (["verify", folder], ["generate", folder, "--prompt", "hi"]):
            line = assert_one_line_error(cli(*command), EXPECTED[case])
            assert str(folder) in line, (case, line)
        assert listing(tmp_path) == before, case


def test_long_messages_are_shortened_in_the_middle():
    key = "k" * 5000
    line = one_line(f"error: spec.model: unknown key {key!r}\nallowed: d_model, num_layers")
    assert len(line) <= MAX_LINE and "\n" not in line and "…" in line
    assert line.startswith("error: spec.model: unknown key 'kkk") and line.endswith("d_model, num_layers")


BROKEN_COMMAND = """
import sys
import light_llm.exports.folder as folder
def broken(*args, **kwargs):
    raise ZeroDivisionError("a bug")
import light_llm.model_folder
light_llm.model_folder.load_model_folder = broken
from light_llm.cli.app import main
sys.argv = ["lightllm", *sys.argv[1:]]
main()
"""


def test_an_unexpected_exception_is_one_line_unless_debugging(tmp_path):
    command = [sys.executable, "-c", BROKEN_COMMAND]
    env = {k: v for k, v in os.environ.items() if k != "LIGHTLLM_DEBUG"}
    plain = subprocess.run([*command, "export", str(tmp_path), "--onnx"], capture_output=True, text=True, env=env)
    assert plain.returncode == 1 and "Traceback" not in plain.stderr
    [line] = plain.stderr.splitlines()
    assert line.startswith("internal error") and "ZeroDivisionError: a bug" in line
    assert "LIGHTLLM_DEBUG=1" in line and "--debug" in line and len(line) <= MAX_LINE
    debug = subprocess.run([*command, "--debug", "export", str(tmp_path), "--onnx"], capture_output=True, text=True, env=env)
    assert debug.returncode != 0 and "Traceback" in debug.stderr and "ZeroDivisionError" in debug.stderr
    env["LIGHTLLM_DEBUG"] = "1"
    variable = subprocess.run([*command, "export", str(tmp_path), "--onnx"], capture_output=True, text=True, env=env)
    assert variable.returncode != 0 and "Traceback" in variable.stderr
