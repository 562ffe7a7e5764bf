"""The parity gate cannot be fooled by a bug in a piece the export and its eager
reference share. Here the shared feeds forget where tokens sit (every position_ids entry
is 0, as if the positions were dropped on the way): the eager signature and the export
then get the same wrong positions and agree with each other, but not with
`model(tokens)`. The plain-forward checks catch it, for TorchScript and for ONNX."""

from __future__ import annotations

import numpy as np
import pytest
from torch_targets_matrix import ROWS, model_folder

from light_llm.exports.result import ParityError

ROPE_ROW = "mha-rope-scaled-swiglu-rms-pre-tied"


def forget_positions(monkeypatch) -> None:
    from light_llm.runtime import feeds

    monkeypatch.setattr(feeds, "position_ids_from_mask",
                        lambda mask, length: np.zeros((mask.shape[0], length), dtype=np.int64))


@pytest.mark.parametrize("target", ["torchscript", "onnx"])
def test_a_broken_shared_wrapper_fails_the_gate(tmp_path, monkeypatch, target):
    from light_llm.exports.onnx import export_onnx
    from light_llm.exports.torchscript import export_torchscript

    export = {"torchscript": export_torchscript, "onnx": export_onnx}[target]
    folder = model_folder(tmp_path / "run", ROWS[ROPE_ROW])
    assert export(folder, tmp_path / "good").parity.passed  # the unbroken export passes

    forget_positions(monkeypatch)
    with pytest.raises(ParityError) as raised:
        export(folder, tmp_path / "bad")
    report = raised.value.report
    assert all(check.passed for check in report.checks)  # export and wrapper agree: the blind spot
    failed = {check.name.split(",")[0] for check in report.plain_checks if not check.passed}
    assert "plain forward vs eager signature" in failed and "plain forward vs export" in failed
    assert "plain forward" in str(raised.value)
    assert not (tmp_path / "bad").exists()
