"""`lightllm verify DIR` checks an export of every target it can load again (exports/
reverify.py's OPENERS): TorchScript, torch.export, AOTInductor and Hugging Face folders as
well as ONNX; a loaded export that no longer matches eager fails; a target it cannot load
is named."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

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


def lightllm(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from light_llm.cli.app import main; main()", *map(str, args)],
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    return model_folder(tmp_path_factory.mktemp("reverify") / "run", ROW)


@pytest.mark.parametrize("target", [
    "torchscript", "pt2", "hf", pytest.param("aoti", marks=pytest.mark.slow),  # aoti: a C++ compile
])
def test_verify_checks_every_target_again(source, tmp_path, target):
    EXPORTERS[target](source, tmp_path / target)
    assert json.loads((tmp_path / target / "light_llm.json").read_text())["target"] == target
    result = lightllm("verify", tmp_path / target)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{tmp_path / target}: parity passed")


def test_a_loaded_export_that_differs_from_eager_fails(source, tmp_path, monkeypatch):
    export_torchscript(source, tmp_path / "ts")
    opener = reverify.OPENERS["torchscript"]

    def drifted(folder, manifest):
        run = opener(folder, manifest)
        return lambda feeds: {**run(feeds), "logits": run(feeds)["logits"] + np.float32(0.01)}

    monkeypatch.setitem(reverify.OPENERS, "torchscript", drifted)
    report = reverify.reverify(tmp_path / "ts")
    assert not report.passed
    assert report.max_abs_error >= 0.0099


def test_a_target_verify_cannot_load_is_named(llama_export, tmp_path):
    folder = tmp_path / "export"
    shutil.copytree(llama_export[1], folder)
    manifest = json.loads((folder / "light_llm.json").read_text())
    (folder / "light_llm.json").write_text(json.dumps({**manifest, "target": "tflite"}))
    result = lightllm("verify", folder)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: {folder}: a tflite export; `lightllm verify` checks onnx, torchscript, pt2, aoti, hf, gguf exports")
