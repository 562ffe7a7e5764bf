"""Decoding into preallocated KV buffers that the fused graph (GroupQueryAttention in every
layer) writes in place: the same tokens as plain IO binding, buffers that grow when full,
the graph really writing into the past's buffer, and the portable graph decoding as
before (it returns new presents, so it never gets shared buffers)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from onnx_fixtures import LLAMA, exported

from light_llm.runtime import Sampling, generate_ids, load_export
from light_llm.runtime import kv_buffers
from light_llm.runtime.feeds import past_from_presents, step_feeds
from light_llm.runtime.kv_buffers import InPlaceCache, shares_kv_buffer
from light_llm.runtime.session import as_numpy

PROMPTS = [[5, 6, 7], [40, 41, 42, 43, 44, 45, 46, 47, 48]]  # batch 2, the first left-padded by 6


@pytest.fixture(scope="module")
def portable_export(tmp_path_factory):
    return exported(tmp_path_factory.mktemp("portable"), LLAMA, portable=True)


def _genai_shares(folder) -> bool:
    return json.loads((folder / "genai_config.json").read_text())["search"]["past_present_share_buffer"]


@pytest.mark.parametrize("export", ["llama_export", "llama_rotary_inside_export"])
def test_in_place_buffers_decode_the_tokens_of_plain_io_binding(request, export, monkeypatch):
    folder = request.getfixturevalue(export)[1]
    model = load_export(folder)
    assert model.shares_kv_buffer and _genai_shares(folder)  # fused: GroupQueryAttention everywhere
    run, geometry = model.run, model.geometry
    made = []
    of = InPlaceCache.of.__func__
    monkeypatch.setattr(InPlaceCache, "of", classmethod(lambda cls, caches, top: made.append(
        next(iter(caches.values())).shape[2]) or of(cls, caches, top)))
    for sampling in (Sampling(), Sampling(temperature=0.8, top_k=20, seed=1)):
        plain = generate_ids(run, geometry, PROMPTS, max_new_tokens=30, sampling=sampling)
        assert not made  # shares_kv_buffer off: IO binding only
        assert generate_ids(run, geometry, PROMPTS, max_new_tokens=30, sampling=sampling,
                            shares_kv_buffer=True) == plain
        assert made == [len(PROMPTS[1])]  # one buffer per layer, made at the prefill, room for all 30 steps
        made.clear()
        monkeypatch.setattr(kv_buffers, "KV_ROOM", 4)  # room for 4 steps: copied into larger buffers again and again
        assert generate_ids(run, geometry, PROMPTS, max_new_tokens=30, sampling=sampling,
                            shares_kv_buffer=True) == plain
        assert made[:3] == [9, 13, 17] and len(made) == 8
        made.clear()
        monkeypatch.setattr(kv_buffers, "KV_ROOM", 256)
    assert model.generate(["x", "def main():"], max_new_tokens=12) == [
        model.generate(text, max_new_tokens=12)[0] for text in ["x", "def main():"]]


@pytest.mark.parametrize("export", ["llama_export", "llama_rotary_inside_export"])
def test_the_graph_writes_the_new_keys_into_the_past_buffer(request, export):
    """The present bound through `into` is the past's own buffer: after a step, the numpy
    buffer under both holds the step's keys at slot `width` (what the new-present path
    returns there), and the slots before it are untouched."""
    model = load_export(request.getfixturevalue(export)[1])
    session, geometry = model.run, model.geometry
    bound = session.bound()
    ids = np.array([PROMPTS[1]])
    mask = np.ones((1, ids.shape[1] + 1), dtype=np.int64)
    prefill = bound(step_feeds(geometry, ids, mask[:, :-1], None))
    pasts = past_from_presents(prefill, geometry)
    cache = InPlaceCache.of({name: as_numpy(value) for name, value in pasts.items()}, geometry.max_seq_len)
    before = {name: buffer.copy() for name, buffer in cache.buffers.items()}
    token = np.array([[int(prefill["logits"][0, -1].argmax())]])
    past, into = cache.step_bindings()
    outputs = bound(step_feeds(geometry, token, mask, past), into=into)
    expected = session(step_feeds(geometry, token, mask, {name: as_numpy(value) for name, value in pasts.items()}))
    width = ids.shape[1]
    for name, buffer in cache.buffers.items():
        present = name.replace("past_key_values.", "present.")
        assert outputs[present].data_ptr() == buffer.ctypes.data  # one buffer: past in, present out
        assert not before[name][:, :, width].any() and buffer[:, :, width].any()
        np.testing.assert_allclose(buffer[:, :, width], expected[present][:, :, width], atol=1e-5)
        np.testing.assert_array_equal(buffer[:, :, :width], before[name][:, :, :width])
    np.testing.assert_allclose(outputs["logits"], expected["logits"], atol=1e-4)


def test_portable_export_decodes_through_new_presents(portable_export):
    model = load_export(portable_export[1])
    assert not model.shares_kv_buffer and not _genai_shares(portable_export[1])
    numpy_loop = generate_ids(lambda feeds: model.run(feeds), model.geometry, PROMPTS, max_new_tokens=12)
    assert generate_ids(model.run, model.geometry, PROMPTS, max_new_tokens=12) == numpy_loop
    assert model.generate(["x", "def main():"], max_new_tokens=8) == [
        model.generate(text, max_new_tokens=8)[0] for text in ["x", "def main():"]]


@pytest.mark.parametrize("lowering, shares", [
    ({"form": "fused", "layers": [{"layer": 0, "lowering": "fused"}, {"layer": 1, "lowering": "fused"}]}, True),
    ({"form": "fused", "layers": [{"layer": 0, "lowering": "fused"}, {"layer": 1, "lowering": "standard"}]}, False),
    ({"form": "portable", "layers": [{"layer": 0, "lowering": "standard"}]}, False),
    ({"form": "traced", "reason": "not lowered"}, False),
    ({"form": "fused", "layers": []}, False),
    (None, False),
])
def test_only_graphs_fused_in_every_layer_share_buffers(lowering, shares):
    assert shares_kv_buffer(lowering) is shares
