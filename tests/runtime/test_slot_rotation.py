"""Keys rotated by slot, moved: a key that the graph rotated at slot s and that moves by d
slots equals, after the turn, the same key rotated at s + d by the eager model's own RoPE
(half-split and interleaved pairs, a partial rotary, yarn's magnitude, moves either way);
and the fused export's graph says which layers rotate by slot."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from light_llm.models.transformer.positional import ROPE_PAIRINGS, RotaryAngles
from light_llm.runtime.slot_rotation import BY_SLOT, RotaryTable, SlotRotation, padding, slot_rotation

HEAD_DIM, POSITIONS = 16, 64


def _rotated(positional, pairing: str, keys: torch.Tensor, positions: torch.Tensor) -> np.ndarray:
    """keys [B, H, T, D] rotated by the eager module at positions [B, T]."""
    angles = RotaryAngles(positional, HEAD_DIM)
    pairs = ROPE_PAIRINGS[pairing]()
    rotary = positional.rotary_dim(HEAD_DIM)
    theta = pairs.expand(angles(positions))  # [B, 1, T, rotary]
    part = keys[..., :rotary]
    turned = (part * theta.cos() + pairs.rotate(part) * theta.sin()) * angles.magnitude
    return torch.cat([turned, keys[..., rotary:]], dim=-1).numpy()


def _table(positional, pairing: str) -> RotaryTable:
    angles = RotaryAngles(positional, HEAD_DIM)
    theta = angles(torch.arange(POSITIONS)[None])[0, 0]
    return RotaryTable((theta.cos() * angles.magnitude).numpy(), (theta.sin() * angles.magnitude).numpy(),
                       interleaved=pairing == "interleaved")


@pytest.mark.parametrize("pairing", ["half", "interleaved"])
@pytest.mark.parametrize("positional", [
    {"rope_base": 100.0},
    {"rope_base": 100.0, "rope_fraction": 0.5},
    {"rope_base": 1000.0, "rope_scaling": {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 16}},
], ids=["whole", "partial", "yarn"])
def test_a_moved_key_equals_the_key_rotated_at_its_new_slot(positional, pairing):
    from light_llm.compiler.pipeline import lower_spec
    from light_llm.compiler.resolve import resolve_spec
    from light_llm.schemas.spec import Spec

    spec = {"spec_version": 1, "model": {"vocab_size": 32, "d_model": 32, "num_layers": 1, "max_seq_len": POSITIONS,
                                         "attention": {"num_heads": 2},
                                         "positional": {"encoding": "rope", "rope_pairing": pairing, **positional}}}
    ir = lower_spec(resolve_spec(Spec.model_validate(spec)))
    encoding = ir.blocks[0].attention.positional
    keys = torch.randn(3, 2, 5, HEAD_DIM, generator=torch.Generator().manual_seed(0))
    slots = torch.arange(10, 15).expand(3, 5)
    shifts = np.array([7, 0, -9])
    at_slots = _rotated(encoding, pairing, keys, slots)
    expected = _rotated(encoding, pairing, keys, slots + torch.from_numpy(shifts)[:, None])
    table = _table(encoding, pairing)
    np.testing.assert_allclose(table.turned(at_slots, shifts), expected, atol=2e-5)
    assert np.abs(table.turned(at_slots, -shifts) - expected).max() > 0.1  # the wrong way is far off
    moved = SlotRotation({0: table}).moved({"past_key_values.0.key": at_slots, "past_key_values.0.value": at_slots,
                                            "past_key_values.1.key": at_slots}, shifts)
    np.testing.assert_allclose(moved["past_key_values.0.key"], expected, atol=2e-5)
    assert moved["past_key_values.0.value"] is at_slots and moved["past_key_values.1.key"] is at_slots


def test_padding_counts_the_slots_before_each_rows_first_token():
    mask = np.array([[1, 1, 1, 1], [0, 0, 1, 1], [0, 0, 0, 0]])
    assert padding(mask).tolist() == [0, 2, 4]


def test_the_fused_export_names_its_slot_rotated_layers(llama_export, llama_rotary_inside_export):
    import json

    folder = llama_export[1]
    rotation = slot_rotation(folder / "model.onnx")
    layers = json.loads((folder / "light_llm.json").read_text())["lowering"]["layers"]
    assert sorted(rotation.tables) == [layer["layer"] for layer in layers if layer["rotary"] == BY_SLOT]
    assert rotation.tables and all(table.cos.shape[1] == 8 for table in rotation.tables.values())
    assert slot_rotation(llama_rotary_inside_export[1] / "model.onnx") is None  # 1.32: at position_ids
