"""Keys that a graph rotated by slot, moved to other slots.

The fused ONNX export rotates Q and K inside GroupQueryAttention by each token's slot in
the cache (the slot count before it, padding included), as onnxruntime-genai's graphs do:
RoPE's scores depend only on the distance between two slots, and left padding sits before
a row's first token, so the distance between two attended tokens is the same counted in
slots or in attended positions. That holds while a row's cache stays in its slots. A
caller that moves a row's cache (the serve engine left-pads a row to join a wider batch,
drops slots no row attends) moves its keys' rotation with it: a key rotated at slot s and
moved by d is rotated by d more, with the graph's own cos/sin tables (row d is the
rotation by d, times the tables' magnitude at row 0). Values carry no position.

Read from the graph: a GroupQueryAttention node with do_rotary and no position_ids input
rotates by slot; its cos/sin tables and rotary_interleaved. Torch-free: onnx and numpy."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BY_SLOT = "attention by slot"  # light_llm.json → lowering → layers[].rotary
POSITION_IDS = 9  # GroupQueryAttention's position_ids input


@dataclass(frozen=True)
class RotaryTable:
    cos: np.ndarray  # [positions, rotary_dim / 2], times the magnitude
    sin: np.ndarray
    interleaved: bool

    def turned(self, keys: np.ndarray, shifts: np.ndarray) -> np.ndarray:
        """`keys` [batch, kv_heads, slots, head_dim] of row b rotated by shifts[b] slots more."""
        if not shifts.any():
            return keys
        steps = np.abs(shifts)
        cos = self.cos[steps] / self.cos[0]  # [batch, rotary_dim / 2]: the rotation by |d|
        sin = np.sign(shifts)[:, None] * self.sin[steps] / self.cos[0]
        cos, sin = (table[:, None, None, :].astype(keys.dtype) for table in (cos, sin))
        half = self.cos.shape[1]
        rotated, passed = keys[..., :2 * half], keys[..., 2 * half:]
        if self.interleaved:
            first, second = rotated[..., 0::2], rotated[..., 1::2]
        else:
            first, second = rotated[..., :half], rotated[..., half:]
        first, second = first * cos - second * sin, second * cos + first * sin
        pairs = np.stack((first, second), -1).reshape(rotated.shape) if self.interleaved \
            else np.concatenate((first, second), -1)
        return np.concatenate((pairs, passed), -1)


@dataclass(frozen=True)
class SlotRotation:
    tables: dict[int, RotaryTable]  # layer → its table, for the layers that rotate by slot

    def moved(self, cache: dict[str, np.ndarray], shifts: np.ndarray) -> dict[str, np.ndarray]:
        """`cache` (past_key_values.* or present.* arrays [batch, …]) with the keys of row b
        rotated for a move by shifts[b] slots (> 0: to later slots)."""
        shifts = np.asarray(shifts, dtype=np.int64)
        return {name: self._turned(name, value, shifts) for name, value in cache.items()}

    def _turned(self, name: str, value: np.ndarray, shifts: np.ndarray) -> np.ndarray:
        match = re.search(r"\.(\d+)\.key$", name)
        table = self.tables.get(int(match.group(1))) if match else None
        return value if table is None else table.turned(value, shifts)


def slot_rotation(graph: Path) -> SlotRotation | None:
    """The layers of the ONNX graph at `graph` whose GroupQueryAttention rotates by slot
    (None: no layer does), with their tables (external data read for them alone)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(graph), load_external_data=False)
    initializers = {tensor.name: tensor for tensor in model.graph.initializer}
    tables = {}
    for node in model.graph.node:
        attributes = {attribute.name: onnx.helper.get_attribute_value(attribute) for attribute in node.attribute}
        inputs = list(node.input) + [""] * (POSITION_IDS + 1 - len(node.input))
        if node.op_type != "GroupQueryAttention" or not attributes.get("do_rotary") or inputs[POSITION_IDS]:
            continue
        layer = re.search(r"\.(\d+)\.key$", inputs[3])
        cos, sin = (numpy_helper.to_array(initializers[name], base_dir=str(graph.parent)) for name in inputs[7:9])
        tables[int(layer.group(1))] = RotaryTable(cos, sin, bool(attributes.get("rotary_interleaved", 0)))
    return SlotRotation(tables) if tables else None


def padding(attention_mask: np.ndarray) -> np.ndarray:
    """The left padding of each row: slots before its first attended one."""
    attended = attention_mask.astype(bool)
    return np.where(attended.any(axis=1), attended.argmax(axis=1), attended.shape[1])
