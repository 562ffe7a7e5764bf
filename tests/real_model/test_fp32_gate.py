"""The fp32 parity gate on a real pretrained model (SmolLM2-135M-Instruct, 30 layers):
every correct path passes, a changed weight is refused, and the fp32 ONNX export
continues a real prompt exactly as transformers does."""

from __future__ import annotations

import json

import pytest
import torch
from smollm2 import PROMPT

from light_llm.compiler.pipeline import lower_spec
from light_llm.exports.verify import verify
from light_llm.model_folder import load_model_folder
from light_llm.generation.eager_signature import run_module, signature_module
from light_llm.runtime.geometry import Geometry

NEW_TOKENS = 24


def _changed_copy(folder, name: str, change) -> torch.nn.Module:
    model = folder.build(target="export")
    with torch.no_grad():
        change(model.get_parameter(name))
    return model


@pytest.mark.parametrize(
    "what, change",
    [
        ("one weight matrix scaled by 1.01", lambda weight: weight.mul_(1.01)),
        ("its largest weight changed by 1 %", lambda weight: weight.view(-1)[weight.abs().argmax()].mul_(1.01)),
    ],
)
def test_the_gate_refuses_a_changed_weight_of_a_real_model(smollm2_model, what, change):
    folder = load_model_folder(smollm2_model)
    ir = lower_spec(folder.spec, target="export")
    geometry = Geometry.from_ir(ir)
    changed = _changed_copy(folder, "blocks.15.ffn.down_proj.weight", change)
    report = verify(folder.build(), run_module(signature_module(changed, geometry), geometry), ir)
    assert not report.passed, f"{what}: {report.summary()}"
    same = run_module(signature_module(folder.build(target="export"), geometry), geometry)
    assert verify(folder.build(), same, ir).passed  # the same check passes the unchanged weights


def test_fp32_onnx_continues_a_real_prompt_as_transformers_does(smollm2_hf, smollm2_onnx):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from light_llm.runtime import generate_ids, load_export

    parity = json.loads((smollm2_onnx / "light_llm.json").read_text())["parity"]
    assert parity["passed"] and parity["mode"] == "fp32" and parity["depth"] == 30
    tokenizer = AutoTokenizer.from_pretrained(smollm2_hf)
    reference = AutoModelForCausalLM.from_pretrained(smollm2_hf, dtype=torch.float32).eval()
    ids = tokenizer(PROMPT, return_tensors="pt").input_ids
    with torch.no_grad():
        expected = reference.generate(ids, max_new_tokens=NEW_TOKENS, do_sample=False)[0, ids.shape[1]:]
    generator = load_export(smollm2_onnx)
    prompt = generator.encode(PROMPT)
    assert prompt == ids[0].tolist()
    produced = generate_ids(generator.run, generator.geometry, [prompt], max_new_tokens=NEW_TOKENS)[0]
    assert produced == expected.tolist()[: len(produced)] and len(produced) >= NEW_TOKENS // 2, (
        generator.decode(produced), tokenizer.decode(expected))
