"""The parity gate cannot be fooled by a bug in a piece the export and its eager
reference share. Here the shared geometry forgets that rope reads positions (as if
"rope" were dropped from the list of position encodings): the wrapper then feeds zeros
as positions to both sides, which agree with each other, but not with `model(tokens)`.
The plain-forward checks catch it, for TorchScript and for ONNX."""

from __future__ import annotations

import dataclasses

import pytest
from torch_targets_matrix import ROWS, model_folder

from light_llm.exports.result import ParityError
from light_llm.runtime.geometry import Geometry

ROPE_ROW = "mha-rope-scaled-swiglu-rms-pre-tied"


def forget_rope_positions(monkeypatch) -> None:
    real = Geometry.from_ir.__func__

    def broken(cls, ir):
        return dataclasses.replace(real(cls, ir), uses_position_ids=False)

    monkeypatch.setattr(Geometry, "from_ir", classmethod(broken))


@pytest.mark.parametrize("target", ["torchscript", "onnx"])
def test_a_broken_shared_wrapper_fails_the_gate(tmp_path, monkeypatch, target):
    from light_llm.exports.onnx import export_onnx
    from light_llm.exports.torchscript import export_torchscript

    export = {"torchscript": export_torchscript, "onnx": export_onnx}[target]
    folder = model_folder(tmp_path / "run", ROWS[ROPE_ROW])
    assert export(folder, tmp_path / "good").parity.passed  # the unbroken export passes

    forget_rope_positions(monkeypatch)
    with pytest.raises(ParityError) as raised:
        export(folder, tmp_path / "bad")
    report = raised.value.report
    assert all(check.passed for check in report.checks)  # export and wrapper agree: the blind spot
    failed = {check.name.split(",")[0] for check in report.plain_checks if not check.passed}
    assert "plain forward vs eager signature" in failed and "plain forward vs export" in failed
    assert "plain forward" in str(raised.value)
    assert not (tmp_path / "bad").exists()
