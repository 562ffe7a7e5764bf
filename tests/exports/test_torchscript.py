"""TorchScript export: every row of the matrix verified against eager, and the archive
run by a Python process that cannot import light_llm."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch_targets_matrix import ROWS, model_folder

from light_llm.exports.folder import MANIFEST
from light_llm.generation.eager_signature import run_module, signature_module
from light_llm.exports.torchscript import MODEL_FILE, SIGNATURE_FILE, export_torchscript
from light_llm.runtime.feeds import past_from_presents, step_feeds
from light_llm.runtime.geometry import Geometry


@pytest.mark.parametrize("row", ROWS)
def test_torchscript_matches_eager(tmp_path, row):
    folder = model_folder(tmp_path / "run", ROWS[row])
    result = export_torchscript(folder, tmp_path / "ts")
    assert result.parity.passed and result.parity.cached == (ROWS[row]["attention"].get("mask_type") != "bidirectional")
    assert {MODEL_FILE, SIGNATURE_FILE, MANIFEST} <= set(result.files)
    manifest = json.loads((tmp_path / "ts" / MANIFEST).read_text())
    assert manifest["target"] == "torchscript" and manifest["parity"]["passed"]
    assert manifest["inputs"] == Geometry.from_ir(folder.build().ir).input_names()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


CLEAN_RUN = r"""
import importlib.util, json, sys
import numpy as np, torch
assert importlib.util.find_spec("light_llm") is None, "light_llm is importable"
extra = {"signature.json": ""}
module = torch.jit.load(sys.argv[1], _extra_files=extra)
signature = json.loads(extra["signature.json"])
feeds = dict(np.load(sys.argv[2]))
with torch.no_grad():
    outputs = module(*(torch.from_numpy(feeds[name]) for name in signature["inputs"]))
np.savez(sys.argv[3], **{name: t.numpy() for name, t in zip(signature["outputs"], outputs)})
"""


def run_clean(model_file: Path, feeds: dict, tmp_path: Path) -> dict:
    """Runs the archive in `python -I -S` with only torch's site-packages on sys.path."""
    np.savez(tmp_path / "feeds.npz", **feeds)
    site = str(Path(torch.__file__).parent.parent)
    script = f"import sys; sys.path.append({site!r})\n" + CLEAN_RUN
    subprocess.run([sys.executable, "-I", "-S", "-c", script, str(model_file),
                    str(tmp_path / "feeds.npz"), str(tmp_path / "out.npz")],
                   cwd=tmp_path, check=True, capture_output=True, timeout=120)
    with np.load(tmp_path / "out.npz", allow_pickle=False) as outputs:
        return dict(outputs)


def test_torchscript_runs_where_light_llm_cannot_be_imported(tmp_path):
    folder = model_folder(tmp_path / "run", ROWS["gqa-alibi-window-geglu-ln-post-parallel-bias"])
    export_torchscript(folder, tmp_path / "ts")
    model = folder.build()
    geometry = Geometry.from_ir(model.ir)
    eager = run_module(signature_module(model, geometry), geometry)

    mask = np.ones((2, 5), dtype=np.int64)
    mask[1, :2] = 0  # left padding
    prefill = step_feeds(geometry, np.arange(10, dtype=np.int64).reshape(2, 5), mask, None)
    expected, actual = eager(prefill), run_clean(tmp_path / "ts" / MODEL_FILE, prefill, tmp_path)
    np.testing.assert_allclose(actual["logits"][mask.astype(bool)],
                               expected["logits"][mask.astype(bool)], atol=1e-5)

    mask = np.concatenate([mask, np.ones((2, 1), dtype=np.int64)], axis=1)
    decode = step_feeds(geometry, np.array([[3], [4]]), mask, past_from_presents(actual, geometry))
    expected, actual = eager(decode), run_clean(tmp_path / "ts" / MODEL_FILE, decode, tmp_path)
    assert actual["present.1.key"].shape[2] == 6  # past 5 + 1
    np.testing.assert_allclose(actual["logits"], expected["logits"], atol=1e-5)
    assert np.abs(expected["logits"]).max() > 1e-2  # a model with non-trivial outputs


def test_tampered_torchscript_fails_verification(tmp_path, monkeypatch):
    """A traced module that differs from eager is refused and leaves no folder."""
    from light_llm.exports import torchscript
    from light_llm.exports.result import ParityError

    folder = model_folder(tmp_path / "run", ROWS["mha-rope-scaled-swiglu-rms-pre-tied"])
    trace = torchscript.trace_torchscript

    def perturbed(model, geometry):
        with torch.no_grad():
            model.lm_head.weight.add_(0.01)
        return trace(model, geometry)

    monkeypatch.setattr(torchscript, "trace_torchscript", perturbed)
    with pytest.raises(ParityError, match="TorchScript parity check failed, no export written"):
        export_torchscript(folder, tmp_path / "ts")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # neither ts nor its staging
