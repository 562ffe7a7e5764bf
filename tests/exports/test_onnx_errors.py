"""Bad input gives one clear error line and a non-zero exit, never a half-written folder."""

from __future__ import annotations

import shutil

import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from torch_targets_matrix import model_folder
from onnx_fixtures import LLAMA

from light_llm.exports.onnx import export_onnx
from light_llm.exports.result import ParityError


@pytest.fixture(scope="module")
def cli(cli_app):
    from typer.testing import CliRunner

    runner = CliRunner()
    return lambda *args: runner.invoke(cli_app, [str(a) for a in args])


@pytest.fixture(scope="module", autouse=True)
def _app():
    pass


@pytest.fixture(scope="session")
def cli_app():
    from light_llm.cli import app as cli

    if not cli.app.registered_commands:
        cli._register_commands()
    return cli.app


def test_folder_that_is_not_a_run(cli, tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    result = cli("export", tmp_path, "--onnx")
    assert result.exit_code == 1 and "not a light_llm model folder" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "exports").exists()


def test_corrupt_weights(cli, tmp_path):
    model_folder(tmp_path / "run", LLAMA)
    (tmp_path / "run" / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    result = cli("export", tmp_path / "run", "--onnx", "--out", tmp_path / "out")
    assert result.exit_code == 1 and "cannot read weights" in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("opset", [9, 30])
def test_unsupported_opset(cli, tmp_path, opset):
    model_folder(tmp_path / "run", LLAMA)
    result = cli("export", tmp_path / "run", "--onnx", "--opset", opset, "--out", tmp_path / "out")
    assert result.exit_code == 1 and f"opset {opset} is not supported" in result.output
    assert not (tmp_path / "out").exists()


def test_failed_parity_leaves_no_folder(tmp_path):
    folder = model_folder(tmp_path / "run", LLAMA)
    with pytest.raises(ParityError, match="parity check failed") as caught:
        export_onnx(folder, tmp_path / "out", atol=1e-12, rtol=0.0)
    assert not caught.value.report.passed
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no folder, no staging left


def test_verify_detects_an_altered_graph(cli, llama_export, tmp_path):
    _, out = llama_export
    copy = tmp_path / "onnx"
    shutil.copytree(out, copy)
    assert cli("verify", copy).exit_code == 0
    model = onnx.load(copy / "model.onnx")
    weight = max(model.graph.initializer, key=lambda t: int(np.prod(t.dims)))
    weight.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(weight) * 1.01, weight.name))
    onnx.save(model, copy / "model.onnx")
    result = cli("verify", copy)
    assert result.exit_code == 1 and "altered after export" in result.output


def test_verify_reports_changed_source_weights(cli, llama_export, tmp_path):
    run, out = llama_export
    run_copy = tmp_path / "run"
    shutil.copytree(run, run_copy)
    model_folder(run_copy, LLAMA, seed=1)  # new weights, same spec
    result = cli("verify", out, "--source", run_copy)
    assert result.exit_code == 1 and "weights changed since this export" in result.output


def test_verify_of_a_folder_that_is_no_export(cli, tmp_path):
    result = cli("verify", tmp_path)
    assert result.exit_code == 1 and "not a light_llm export folder" in result.output
