"""llama.cpp's greedy tokens from a GGUF export against eager PyTorch's, shared by the GGUF
export tests (llama-cpp-python: the `llama_cpp` fixture of tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from light_llm.exports.llama_cpp import LlamaCpp


def eager_greedy(model, prompt: list[int], count: int) -> list[int]:
    tokens = list(prompt)
    with torch.no_grad():
        for _ in range(count):
            tokens.append(int(model(torch.tensor([tokens]))[0, -1].argmax()))
    return tokens[len(prompt):]


def assert_llama_cpp_greedy_equals_eager(gguf: Path, folder, text: str, count: int = 40) -> None:
    from tokenizers import Tokenizer

    prompt = Tokenizer.from_file(str(gguf.parent / "tokenizer.json")).encode(text, add_special_tokens=False).ids
    llama = LlamaCpp(gguf, folder.spec.model.max_seq_len)
    try:
        assert llama.tokenize(text) == prompt
        ours, _ = llama.greedy(np.array([prompt]), count)
    finally:
        llama.close()
    assert ours == eager_greedy(folder.build(), prompt, count)
