"""Text in, text out: a tokenizer around a backend `Run`, with streaming."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from light_llm.runtime.generator import Run, generate_ids, generate_steps
from light_llm.runtime.geometry import Geometry
from light_llm.runtime.sampling import Sampling


@dataclass
class TextGenerator:
    run: Run
    geometry: Geometry
    tokenizer: object  # tokenizers.Tokenizer
    eos_id: int | None = None
    pad_id: int | None = None
    end_ids: tuple[int, ...] = ()  # every token that ends a turn (generation_config.json); () → eos_id
    shares_kv_buffer: bool = False  # the graph writes each present into its past's buffer (kv_buffers.py)

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    @property
    def stop_ids(self) -> tuple[int, ...]:
        """The ids generation stops at: every end-of-turn token, else the end-of-text one."""
        return self.end_ids or (() if self.eos_id is None else (self.eos_id,))

    def _options(self, max_new_tokens: int, sampling: Sampling) -> dict:
        pad = self.pad_id if self.pad_id is not None else (self.eos_id or 0)
        return dict(max_new_tokens=max_new_tokens, sampling=sampling, eos_id=self.stop_ids, pad_id=pad,
                    shares_kv_buffer=self.shares_kv_buffer)

    def generate(self, prompts: str | list[str], max_new_tokens: int = 64,
                 sampling: Sampling = Sampling()) -> list[str]:
        """The continuation of each prompt (a batch is left-padded)."""
        texts = [prompts] if isinstance(prompts, str) else prompts
        rows = generate_ids(self.run, self.geometry, [self.encode(t) for t in texts],
                            **self._options(max_new_tokens, sampling))
        return [self.decode(row) for row in rows]

    def stream(self, prompt: str, max_new_tokens: int = 64, sampling: Sampling = Sampling()) -> Iterator[str]:
        """Yields the continuation piece by piece, as soon as its characters are whole."""
        ids: list[int] = []
        shown = ""
        for tokens in generate_steps(self.run, self.geometry, [self.encode(prompt)],
                                     **self._options(max_new_tokens, sampling)):
            token = int(tokens[0])
            if token in self.stop_ids:
                break
            ids.append(token)
            text = self.decode(ids)
            if len(text) > len(shown) and not text.endswith("\ufffd"):  # a partial UTF-8 char
                yield text[len(shown):]
                shown = text
        text = self.decode(ids)
        if len(text) > len(shown):
            yield text[len(shown):]
