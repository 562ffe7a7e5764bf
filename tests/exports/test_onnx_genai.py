"""onnxruntime-genai runs the export folder (og.Model, og.Generator on CPU) and its
greedy tokens are eager PyTorch's, for a causal and a sliding-window model."""

from __future__ import annotations

import numpy as np
import pytest

from light_llm.runtime.eager import load_eager
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


@pytest.mark.parametrize("export", ["llama_export", "sliding_export"])
def test_genai_greedy_tokens_equal_eager(request, export):
    run, out = request.getfixturevalue(export)
    eager = load_eager(run)
    expected = generate_ids(eager.run, eager.geometry, [PROMPT], max_new_tokens=NEW_TOKENS)[0]
    assert len(set(expected)) > 1  # a model that repeats one token would prove little
    assert genai_greedy(out, PROMPT, NEW_TOKENS) == expected
