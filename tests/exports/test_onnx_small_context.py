"""The smallest valid max_seq_len values export to ONNX and pass verification: the
decode and greedy checks shrink to fit the context (max_seq_len ≤ 8 used to fail with
negative dimensions or an onnxruntime Reshape error)."""

from __future__ import annotations

import pytest
from torch_targets_matrix import model_folder

from light_llm.exports.onnx import export_onnx

CASES = {
    "learned-1": (1, {"positional": {"encoding": "learned"}}),
    "learned-2": (2, {"positional": {"encoding": "learned"}}),
    "rope-sliding-5": (5, {"attention": {"mask_type": "sliding_window", "window_size": 2}}),
    "learned-8": (8, {"positional": {"encoding": "learned"}}),
}


@pytest.mark.parametrize("case", CASES)
def test_small_context_exports_and_verifies(tmp_path, case):
    max_seq_len, options = CASES[case]
    folder = model_folder(tmp_path / "run", {"max_seq_len": max_seq_len, **options})
    report = export_onnx(folder, tmp_path / "onnx").parity
    assert report.passed, report
    decode_steps = sum("decode step" in check.name for check in report.checks)
    assert decode_steps == min(8, max_seq_len - 1)
    if max_seq_len > 1:
        assert report.greedy_tokens == max_seq_len - max(1, min(6, max_seq_len // 2))
