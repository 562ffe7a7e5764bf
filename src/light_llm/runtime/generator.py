"""Token generation on any backend that speaks the contract (a `Run`: named numpy inputs
→ named numpy outputs): onnxruntime for export folders, eager torch for model folders (light_llm.generation).

Prompts of a batch are left-padded; positions come from the mask, so padding shifts
nothing. Cached graphs prefill once and then decode one token per call; graphs without
a cache (bidirectional) re-run the whole sequence for every token. A row stops at the
end-of-text token; the batch stops when every row has, at max_new_tokens, or at the
model's max_seq_len.

No decode step copies the KV cache: on onnxruntime the presents stay onnxruntime values
that the next step binds as its past (IO binding), and a graph that writes its present
into its past's buffer (`shares_kv_buffer`: GroupQueryAttention in every layer, the
fused export) decodes into preallocated buffers (runtime/kv_buffers.py), so a step
writes only the new keys and values.
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator

import numpy as np

from light_llm.errors import GenerationError
from light_llm.runtime.feeds import past_from_presents, step_feeds
from light_llm.runtime.geometry import Geometry
from light_llm.runtime.kv_buffers import InPlaceCache
from light_llm.runtime.sampling import Sampling, next_tokens
from light_llm.runtime.session import as_numpy, decoding_run

Run = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]


def end_ids(eos_id: int | Iterable[int] | None) -> frozenset[int]:
    """The ids that end a row: one end-of-text id, every end-of-turn id of a model, or none."""
    if eos_id is None:
        return frozenset()
    return frozenset([eos_id] if isinstance(eos_id, int) else eos_id)


def left_pad(prompts: list[list[int]], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """input_ids and attention_mask [B, longest], prompts aligned to the right."""
    if not prompts or any(len(prompt) == 0 for prompt in prompts):
        raise GenerationError("every prompt needs at least one token")
    longest = max(len(prompt) for prompt in prompts)
    ids = np.full((len(prompts), longest), pad_id, dtype=np.int64)
    mask = np.zeros((len(prompts), longest), dtype=np.int64)
    for row, prompt in enumerate(prompts):
        ids[row, longest - len(prompt):] = prompt
        mask[row, longest - len(prompt):] = 1
    return ids, mask


def generate_steps(
    run: Run,
    geometry: Geometry,
    prompts: list[list[int]],
    *,
    max_new_tokens: int,
    sampling: Sampling = Sampling(),
    eos_id: int | Iterable[int] | None = None,
    pad_id: int = 0,
    shares_kv_buffer: bool = False,
) -> Iterator[np.ndarray]:
    """Yields the next token of every row, one step at a time ([B] ids; finished rows
    repeat pad_id); a row ends at `eos_id` (one id, or any of several). A `run` with a
    `bound()` method (OnnxSession) decodes through what it returns, which keeps the KV
    cache inside onnxruntime between steps; with `shares_kv_buffer` (its graph writes each
    present into its past's buffer) it decodes into preallocated buffers in place."""
    stops = np.array(sorted(end_ids(eos_id)), dtype=np.int64)
    in_place = shares_kv_buffer and geometry.cached and hasattr(run, "bound")
    run = decoding_run(run)
    rng = np.random.default_rng(sampling.seed)
    ids, mask = left_pad(prompts, pad_id)
    steps = min(max_new_tokens, geometry.max_seq_len - ids.shape[1])
    if steps <= 0 and max_new_tokens > 0:
        raise GenerationError(f"the prompt has {ids.shape[1]} tokens: no room left in max_seq_len={geometry.max_seq_len}")
    done = np.zeros(len(prompts), dtype=bool)
    outputs = run(step_feeds(geometry, ids, mask, None))
    cache = None
    if in_place:
        presents = past_from_presents(outputs, geometry)
        cache = InPlaceCache.of({name: as_numpy(value) for name, value in presents.items()}, geometry.max_seq_len)
    for _ in range(steps):
        tokens = np.where(done, pad_id, next_tokens(outputs["logits"][:, -1], sampling, rng))
        yield tokens
        done |= np.isin(tokens, stops)
        if done.all():
            return
        mask = np.concatenate([mask, np.ones((len(prompts), 1), dtype=np.int64)], axis=1)
        if cache is not None:
            cache = cache.with_room(mask.shape[1] - 1, geometry.max_seq_len)
            past, into = cache.step_bindings()
            outputs = run(step_feeds(geometry, tokens[:, None], mask, past), into=into)
        elif geometry.cached:
            outputs = run(step_feeds(geometry, tokens[:, None], mask, past_from_presents(outputs, geometry)))
        else:
            ids = np.concatenate([ids, tokens[:, None]], axis=1)
            outputs = run(step_feeds(geometry, ids, mask, None))


def generate_ids(run: Run, geometry: Geometry, prompts: list[list[int]], **options) -> list[list[int]]:
    """The new tokens of every prompt (the end token included where reached)."""
    stops = end_ids(options.get("eos_id"))
    rows: list[list[int]] = [[] for _ in prompts]
    for tokens in generate_steps(run, geometry, prompts, **options):
        for row, token in zip(rows, tokens.tolist()):
            if not row or row[-1] not in stops:
                row.append(token)
    return rows
