"""The contract's inputs as numpy arrays: positions from the padding mask, empty caches,
and the step from one call's presents to the next call's past. Torch-free."""

from __future__ import annotations

import numpy as np

from light_llm.runtime.geometry import Geometry


def position_ids_from_mask(attention_mask: np.ndarray, sequence_length: int) -> np.ndarray:
    """Positions of the last `sequence_length` slots: the count of attended slots before
    each one, so left padding does not shift positions (padding slots get 0)."""
    positions = np.cumsum(attention_mask, axis=1, dtype=np.int64) - 1
    positions = np.maximum(positions, 0)
    return positions[:, attention_mask.shape[1] - sequence_length :]


def empty_past(geometry: Geometry, batch: int) -> dict[str, np.ndarray]:
    shape = (batch, geometry.num_kv_heads, 0, geometry.head_dim)
    return {
        f"past_key_values.{i}.{part}": np.zeros(shape, dtype=np.float32)
        for i in range(geometry.num_layers)
        for part in ("key", "value")
    }


def past_from_presents(outputs: dict[str, np.ndarray], geometry: Geometry) -> dict[str, np.ndarray]:
    return {
        f"past_key_values.{i}.{part}": outputs[f"present.{i}.{part}"]
        for i in range(geometry.num_layers)
        for part in ("key", "value")
    }


def step_feeds(
    geometry: Geometry,
    input_ids: np.ndarray,
    attention_mask: np.ndarray,
    past: dict[str, np.ndarray] | None,
) -> dict[str, np.ndarray]:
    """Every contract input for one call (a backend drops those its graph lacks).
    `attention_mask` covers past + current slots; `past` None means a prefill."""
    batch, sequence_length = input_ids.shape
    feeds = {
        "input_ids": input_ids.astype(np.int64),
        "attention_mask": attention_mask.astype(np.int64),
        "position_ids": position_ids_from_mask(attention_mask, sequence_length),
    }
    if geometry.cached:
        feeds.update(past if past is not None else empty_past(geometry, batch))
    return feeds
