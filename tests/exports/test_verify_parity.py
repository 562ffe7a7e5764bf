"""verify() on torch backends: it passes an exact copy, fails a slightly wrong one (in
quantized mode: one the real-text gate refuses), and its report survives JSON."""

from __future__ import annotations

import json

import numpy as np
from torch_targets_matrix import ROWS, model_folder

from light_llm.compiler.pipeline import lower_spec
from light_llm.generation.eager_signature import run_module, signature_module
from light_llm.exports.parity import ParityReport
from light_llm.exports.text_gate import GateThresholds, apply_gate
from light_llm.exports.verify import describe_failure, verify
from light_llm.runtime.geometry import Geometry


def test_verify_passes_export_lowering_and_fails_a_perturbed_backend(tmp_path):
    folder = model_folder(tmp_path / "run", ROWS["complex-learned-window-gelu-ln-untied"])
    ir = lower_spec(folder.spec, target="export")
    geometry = Geometry.from_ir(ir)
    exact = run_module(signature_module(folder.build(target="export"), geometry), geometry)
    report = verify(folder.build(), exact, ir)
    assert report.passed and report.greedy_matching_tokens == report.greedy_tokens == 32
    assert ParityReport.from_dict(json.loads(json.dumps(report.to_dict()))).to_dict() == report.to_dict()

    def perturbed(feeds):
        outputs = exact(feeds)
        return dict(outputs, logits=outputs["logits"] + np.float32(1e-3))

    bad = verify(folder.build(), perturbed, ir)
    assert not bad.passed and bad.max_abs_error >= 1e-3

    def scrambled(feeds):  # every logit moved to the next token id: a wrong model, finite and confident
        outputs = exact(feeds)
        return dict(outputs, logits=np.roll(outputs["logits"], 1, axis=-1))

    quantized = verify(folder.build(), scrambled, ir, quantized=True)
    assert quantized.passed  # random tokens: reported, not judged
    judged = apply_gate(quantized, folder, lambda: scrambled, folder.build, geometry,
                        GateThresholds.of(folder.spec.export, "int4"))
    assert not judged.passed and "real text (built-in text): top-1 agreement" in describe_failure(judged)


def test_top1_agreement_is_pooled_over_positions_and_the_worst_check_is_named():
    from light_llm.exports.parity import CheckResult

    report = ParityReport("quantized", 1e-4, 1e-4, True, [
        CheckResult("prefill", 0.5, 0.9, True, positions=100),
        CheckResult("decode step 1", 0.7, 0.5, True, positions=2),
    ])
    assert report.top1_agreement == (90 + 1) / 102
    assert report.worst_top1_agreement == 0.5
    assert "top-1 agreement 89.2% (worst check 50.0%)" in report.summary()
    assert ParityReport.from_dict(report.to_dict()).top1_agreement == report.top1_agreement
