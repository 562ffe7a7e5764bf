"""llama.cpp itself running a GGUF file, through llama-cpp-python (`pip install
llama-cpp-python`: built from source with cmake where no wheel fits): logits of a prefill
from an empty cache, and of tokens fed one at a time through llama.cpp's KV cache.

The KV cache is kept in F32 (llama.cpp's default is F16) and flash attention is off, so
an F32 file is computed in fp32 throughout and can be held to the fp32 tolerance."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

GGML_TYPE_F32 = 0


def llama_cpp_missing() -> str | None:
    """Why llama.cpp cannot run here, None where it can."""
    if importlib.util.find_spec("llama_cpp") is None:
        return "llama-cpp-python is not installed (`pip install llama-cpp-python`)"
    return None


class LlamaCpp:
    """One llama.cpp context on the file `path`, `context` tokens long."""

    def __init__(self, path: Path, context: int, threads: int = 2, logits_all: bool = True):
        from llama_cpp import Llama

        self._llama = Llama(model_path=str(path), n_ctx=context, n_batch=context,
                            n_threads=threads, n_threads_batch=threads, logits_all=logits_all,
                            type_k=GGML_TYPE_F32, type_v=GGML_TYPE_F32, flash_attn=False, verbose=False)

    def logits(self, tokens: np.ndarray) -> np.ndarray:
        """[1, L] tokens → [1, L, vocab] logits of one prefill from an empty cache."""
        self._llama.reset()
        self._llama.eval([int(token) for token in tokens[0]])
        return np.array(self._llama.scores[: tokens.shape[1]])[None]

    def stepped_logits(self, tokens: np.ndarray, prompt: int) -> np.ndarray:
        """[1, L] tokens → [L - prompt, vocab]: a prefill of `prompt` tokens, then one token
        a step through the KV cache; the logits of positions prompt.. ."""
        self._llama.reset()
        self._llama.eval([int(token) for token in tokens[0, :prompt]])
        for token in tokens[0, prompt:]:
            self._llama.eval([int(token)])
        return np.array(self._llama.scores[prompt: tokens.shape[1]])

    def greedy(self, prompt: np.ndarray, new_tokens: int) -> tuple[list[int], list[np.ndarray]]:
        """Greedy tokens after `prompt` [1, P] and the logits each was picked from."""
        self._llama.reset()
        self._llama.eval([int(token) for token in prompt[0]])
        tokens, logits = [], []
        while len(tokens) < new_tokens:
            last = np.array(self._llama.scores[self._llama.n_tokens - 1])
            logits.append(last)
            tokens.append(int(last.argmax()))
            if len(tokens) < new_tokens:
                self._llama.eval([tokens[-1]])
        return tokens, logits

    def tokenize(self, text: str) -> list[int]:
        """llama.cpp's tokens of `text`: special tokens matched whole, nothing added around it."""
        return self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def feed(self, tokens: list[int]) -> np.ndarray:
        """`tokens` through the KV cache after those fed since `reset`; the logits of the last
        (read from llama.cpp's own buffer: no copy of every position's, logits_all or not)."""
        self._llama.eval(tokens)
        pointer = self._llama._ctx.get_logits_ith(-1)
        return np.ctypeslib.as_array(pointer, shape=(self._llama.n_vocab(),)).copy()

    def reset(self) -> None:
        self._llama.reset()

    def close(self) -> None:
        self._llama.close()
