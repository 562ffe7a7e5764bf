"""onnxruntime-genai runs the export folder (og.Model, og.Generator on CPU) and its
greedy tokens are eager PyTorch's, for a causal and a sliding-window model."""

from __future__ import annotations

import numpy as np
import pytest

from light_llm.generation.eager import load_eager
from light_llm.runtime.generator import generate_ids

og = pytest.importorskip("onnxruntime_genai", reason="onnxruntime-genai is not installed")

PROMPT = [72, 101, 108, 108, 111, 32, 119, 111]  # "Hello wo" in byte ids
NEW_TOKENS = 24


def genai_greedy(folder, prompt: list[int], new_tokens: int) -> list[int]:
    model = og.Model(str(folder))
    params = og.GeneratorParams(model)
    params.set_search_options(max_length=len(prompt) + new_tokens, do_sample=False)
    generator = og.Generator(model, params)
    generator.append_tokens(np.array([prompt], dtype=np.int32))
    tokens = []
    while not generator.is_done():
        generator.generate_next_token()
        tokens.append(int(generator.get_next_tokens()[0]))
    return tokens


@pytest.mark.parametrize("export", ["llama_export", "llama_rotary_inside_export", "sliding_export"])
def test_genai_greedy_tokens_equal_eager(request, export):
    run, out = request.getfixturevalue(export)
    eager = load_eager(run)
    expected = generate_ids(eager.run, eager.geometry, [PROMPT], max_new_tokens=NEW_TOKENS)[0]
    assert len(set(expected)) > 1  # a model that repeats one token would prove little
    assert genai_greedy(out, PROMPT, NEW_TOKENS) == expected


@pytest.mark.parametrize("shares", [False, True])
def test_share_buffer_is_what_the_export_says_the_graph_supports(shares):
    from light_llm.compiler.pipeline import lower_spec
    from light_llm.compiler.resolve import resolve_spec
    from light_llm.exports.genai_config import genai_config
    from light_llm.runtime.geometry import Geometry
    from light_llm.schemas.spec import Spec

    spec = resolve_spec(Spec.model_validate({"spec_version": 1, "model": {
        "vocab_size": 258, "d_model": 32, "num_layers": 2, "max_seq_len": 48,
        "attention": {"variant": "gqa", "num_heads": 4, "num_kv_heads": 2}}}))
    ir = lower_spec(spec, target="export")
    config = genai_config(ir, Geometry.from_ir(ir), eos_id=1, pad_id=0, shares_kv_buffer=shares)
    assert config["search"]["past_present_share_buffer"] is shares
    assert genai_config(ir, Geometry.from_ir(ir), 1, 0)["search"]["past_present_share_buffer"] is False
