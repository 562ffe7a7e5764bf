"""The parity gate on a fused graph that rotates keys by slot: its present keys differ from
eager's on a left-padded row (rotated by slot, not by attended position), and the gate
compares them with eager's keys moved by each row's padding: with the graph's own tables
it passes, without the move or with another pairing it fails on the padded prefill."""

from __future__ import annotations

from dataclasses import replace

from light_llm.compiler.pipeline import lower_spec
from light_llm.exports.verify import verify
from light_llm.model_folder import load_model_folder
from light_llm.runtime.exported import open_session
from light_llm.runtime.slot_rotation import SlotRotation, slot_rotation


def test_the_gate_compares_slot_rotated_keys_with_eagers_moved_keys(llama_export):
    run_folder, export = llama_export
    folder = load_model_folder(run_folder)
    ir = lower_spec(folder.spec, target="export")
    session = open_session(export / "model.onnx")
    rotation = slot_rotation(export / "model.onnx")

    def report(with_rotation):
        return verify(folder.build(target="eager"), session, ir, slot_rotation=with_rotation)

    assert report(rotation).passed
    for wrong in (None, SlotRotation({layer: replace(table, interleaved=not table.interleaved)
                                      for layer, table in rotation.tables.items()})):
        failed = report(wrong).failures()
        assert failed and "left-padded" in failed[0].name and ".key" in failed[0].detail
