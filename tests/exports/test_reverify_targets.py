"""`lightllm verify DIR` checks an export of every target it can load again (exports/
reverify.py's OPENERS): TorchScript, torch.export, AOTInductor and Hugging Face folders as
well as ONNX; a loaded export that no longer matches eager fails; a target it cannot load
is named."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from torch_targets_matrix import ROWS, model_folder

from light_llm.exports import reverify
from light_llm.exports.hf import export_hf
from light_llm.exports.pt2 import export_pt2
from light_llm.exports.torchscript import export_torchscript

ROW = ROWS["mha-rope-scaled-swiglu-rms-pre-tied"]

EXPORTERS = {
    "torchscript": export_torchscript,
    "pt2": export_pt2,
    "hf": export_hf,
    "aoti": lambda folder, out: export_pt2(folder, out, aoti=True),
}


@pytest.fixture(scope="module")
def cli():
    from typer.testing import CliRunner

    from light_llm.cli import app as cli_module

    if not cli_module.app.registered_commands:
        cli_module._register_commands()
    runner = CliRunner()
    return lambda *args: runner.invoke(cli_module.app, [str(a) for a in args])


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    return model_folder(tmp_path_factory.mktemp("reverify") / "run", ROW)


@pytest.mark.parametrize("target", [
    "torchscript", "pt2", "hf", pytest.param("aoti", marks=pytest.mark.slow),  # aoti: a C++ compile
])
def test_verify_checks_every_target_again(cli, source, tmp_path, target):
    EXPORTERS[target](source, tmp_path / target)
    assert json.loads((tmp_path / target / "light_llm.json").read_text())["target"] == target
    result = cli("verify", tmp_path / target)
    assert result.exit_code == 0, result.output
    assert "parity passed" in result.output


def test_a_loaded_export_that_differs_from_eager_fails(cli, source, tmp_path, monkeypatch):
    export_torchscript(source, tmp_path / "ts")
    opener = reverify.OPENERS["torchscript"]

    def drifted(folder, manifest):
        run = opener(folder, manifest)
        return lambda feeds: {**run(feeds), "logits": run(feeds)["logits"] + np.float32(0.01)}

    monkeypatch.setitem(reverify.OPENERS, "torchscript", drifted)
    result = cli("verify", tmp_path / "ts")
    assert result.exit_code == 1
    assert "parity" in result.output and "passed" not in result.output.splitlines()[0]


def test_a_target_verify_cannot_load_is_named(cli, llama_export, tmp_path):
    folder = tmp_path / "export"
    shutil.copytree(llama_export[1], folder)
    manifest = json.loads((folder / "light_llm.json").read_text())
    (folder / "light_llm.json").write_text(json.dumps({**manifest, "target": "tflite"}))
    result = cli("verify", folder)
    assert result.exit_code == 1
    assert f"{folder}: a tflite export; `lightllm verify` checks onnx, torchscript, pt2, aoti, hf exports" in result.output
