"""torch.export (.pt2) for every row of the matrix, and one AOTInductor package compiled,
loaded with aoti_load_package and run (a compile takes tens of seconds on 2 cores)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch_targets_matrix import ROWS, model_folder

from light_llm.exports.aoti import PACKAGE_FILE
from light_llm.exports.folder import MANIFEST
from light_llm.generation.eager_signature import run_module, signature_module
from light_llm.exports.pt2 import PROGRAM_FILE, export_pt2
from light_llm.runtime.feeds import past_from_presents, step_feeds
from light_llm.runtime.geometry import Geometry


@pytest.mark.parametrize("row", ROWS)
def test_exported_program_matches_eager(tmp_path, row):
    folder = model_folder(tmp_path / "run", ROWS[row])
    result = export_pt2(folder, tmp_path / "pt2")
    assert result.target == "pt2" and result.parity.passed
    assert {PROGRAM_FILE, MANIFEST} <= set(result.files) and PACKAGE_FILE not in result.files
    names = [check.name for check in result.parity.checks]
    assert "past length 0, sequence length 1" in names
    manifest = json.loads((tmp_path / "pt2" / MANIFEST).read_text())
    assert manifest["model_file"] == PROGRAM_FILE and manifest["figures"]["export_seconds"] > 0

    # Loaded back with torch alone; batch 5 and past length 0 with sequence 1 were never
    # seen while tracing, and a rank the contract does not have is refused.
    module = torch.export.load(str(tmp_path / "pt2" / PROGRAM_FILE)).module()
    model = folder.build()
    geometry = Geometry.from_ir(model.ir)
    eager = run_module(signature_module(model, geometry), geometry)
    feeds = step_feeds(geometry, np.full((5, 1), 7), np.ones((5, 1), dtype=np.int64), None)
    np.testing.assert_allclose(run_module(module, geometry)(feeds)["logits"],
                               eager(feeds)["logits"], atol=1e-5)
    with pytest.raises(Exception):
        module(torch.zeros(2, dtype=torch.long), *[torch.zeros(1)] * (len(geometry.input_names()) - 1))


def test_aoti_package_is_compiled_loaded_and_run(tmp_path):
    import torch._inductor

    folder = model_folder(tmp_path / "run", ROWS["gqa-alibi-window-geglu-ln-post-parallel-bias"])
    result = export_pt2(folder, tmp_path / "aoti", aoti=True)
    assert result.target == "aoti" and result.parity.passed
    assert {PROGRAM_FILE, PACKAGE_FILE} <= set(result.files)
    manifest = json.loads((tmp_path / "aoti" / MANIFEST).read_text())
    figures = manifest["figures"]
    assert manifest["model_file"] == PACKAGE_FILE
    assert set(manifest["parity_by_file"]) == {PROGRAM_FILE, PACKAGE_FILE}
    assert figures["aoti_compile_seconds"] > 0
    for name in ("eager", "pt2", "aoti"):
        assert figures[f"{name}_decode_tokens_per_s"] > 0
    assert figures["aoti_vs_eager"] == pytest.approx(
        figures["aoti_decode_tokens_per_s"] / figures["eager_decode_tokens_per_s"], rel=0.01, abs=0.006)  # the speeds and ratio are rounded
    assert "AOTInductor compile" in result.notes[0]

    # The package on its own: prefill with left padding, then a decode step.
    runner = torch._inductor.aoti_load_package(str(tmp_path / "aoti" / PACKAGE_FILE))
    model = folder.build()
    geometry = Geometry.from_ir(model.ir)
    eager = run_module(signature_module(model, geometry), geometry)
    package = run_module(lambda *tensors: tuple(runner(*tensors)), geometry)
    mask = np.array([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]])
    feeds = step_feeds(geometry, np.arange(12).reshape(2, 6) % 200, mask, None)
    expected, actual = eager(feeds), package(feeds)
    np.testing.assert_allclose(actual["logits"][mask == 1], expected["logits"][mask == 1], atol=1e-4)
    mask = np.concatenate([mask, np.ones((2, 1), dtype=np.int64)], axis=1)
    feeds = step_feeds(geometry, np.array([[5], [9]]), mask, past_from_presents(actual, geometry))
    np.testing.assert_allclose(package(feeds)["logits"], eager(feeds)["logits"], atol=1e-4)
