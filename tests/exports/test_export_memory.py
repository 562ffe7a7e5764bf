"""What keeps an export's memory to about one copy of the weights, on tiny models: the
weights file read tensor by tensor, the onnxruntime session dropped before the eager
reference is built (with one copy), external data turned inline tensor by tensor, quantization
followed weight by weight, and each phase's time and peak in light_llm.json."""

from __future__ import annotations

import gc
import json
import weakref

import numpy as np
import pytest
import torch
from onnx_fixtures import LLAMA
from safetensors.numpy import save_file
from torch_targets_matrix import merged, model_folder

from light_llm.compiler.pipeline import lower_spec
from light_llm.exports.onnx import export_onnx
from light_llm.exports.onnx_lowering.graph import write_graph
from light_llm.exports.onnx_lowering.plan import lowering_plan
from light_llm.exports.onnx_lowering.tensors import EXTERNAL_DATA_FILE, inline_external_data
from light_llm.exports.phases import Phases
from light_llm.exports.reference import load_reference
from light_llm.exports.verify import verify_in_turn
from light_llm.exports.weights_file import SafetensorsFile
from light_llm.model_folder import WEIGHTS_FILE, ModelFolderError
from light_llm.runtime.feeds import step_feeds
from light_llm.runtime.geometry import Geometry
from light_llm.runtime.manifest import read_manifest
from light_llm.runtime.session import OnnxSession
from light_llm.runtime.slot_rotation import slot_rotation

SMALL = merged(LLAMA, {"num_layers": 2})


def test_weights_file_reads_what_safetensors_wrote(tmp_path):
    arrays = {"a": np.arange(12, dtype=np.float32).reshape(3, 4), "b": np.array([1.5, -2.0], dtype=np.float16),
              "c": np.arange(6, dtype=np.int64)}
    save_file(arrays, str(tmp_path / "w.safetensors"))
    weights = SafetensorsFile(tmp_path / "w.safetensors")
    assert sorted(weights.names()) == ["a", "b", "c"] and weights.shape("a") == (3, 4)
    for name, array in arrays.items():
        assert np.array_equal(weights.read(name), array) and weights.read(name).dtype == array.dtype
    target = np.zeros((3, 4), dtype=np.float32)
    weights.read_into("a", target)
    assert np.array_equal(target, arrays["a"])
    with pytest.raises(ValueError, match="does not fit"):
        weights.read_into("a", np.zeros((2, 4), dtype=np.float32))


def test_weights_file_widens_bfloat16(tmp_path):
    from safetensors.torch import save_file as save_torch

    values = torch.tensor([1.0, -0.5, 3.25], dtype=torch.bfloat16)
    save_torch({"w": values}, str(tmp_path / "w.safetensors"))
    assert np.array_equal(SafetensorsFile(tmp_path / "w.safetensors").read("w"), values.float().numpy())


def test_reference_matches_the_folders_own_build(tmp_path):
    folder = model_folder(tmp_path / "run", SMALL)
    tokens = torch.arange(10).reshape(2, 5)
    with torch.no_grad():
        assert torch.equal(load_reference(folder)(tokens), folder.build()(tokens))


def test_reference_names_a_weight_of_the_wrong_shape(tmp_path):
    folder = model_folder(tmp_path / "run", SMALL)
    other = model_folder(tmp_path / "other", merged(SMALL, {"d_model": 64}))
    (folder.path / WEIGHTS_FILE).write_bytes((other.path / WEIGHTS_FILE).read_bytes())
    with pytest.raises(ModelFolderError, match="weights do not match the spec"):
        load_reference(folder)


def test_verify_in_turn_drops_the_backend_before_building_the_eager_model(tmp_path):
    folder = model_folder(tmp_path / "run", SMALL)
    ir = lower_spec(folder.spec, target="export")
    write_graph(ir, folder.path / WEIGHTS_FILE, tmp_path / "model.onnx", 18, {}, lowering_plan(ir), False)
    alive, sides = [], []

    def backend():
        session = OnnxSession(tmp_path / "model.onnx")
        alive.append(weakref.ref(session))
        return session

    def reference():
        gc.collect()
        assert alive[0]() is None, "the onnxruntime session is still alive when the eager model is built"
        return load_reference(folder)

    report = verify_in_turn(reference, backend, ir, on_side=sides.append,
                            slot_rotation=slot_rotation(tmp_path / "model.onnx"))
    assert report.passed and sides == ["export", "eager"]
    assert len(report.checks) >= 10 and len(report.plain_checks) == 4


def test_external_data_turned_inline_runs_the_same(tmp_path):
    folder = model_folder(tmp_path / "run", SMALL)
    ir = lower_spec(folder.spec, target="export")
    path = tmp_path / "model.onnx"
    layers = []
    write_graph(ir, folder.path / WEIGHTS_FILE, path, 18, {}, lowering_plan(ir), False, external=True,
                on_layer=layers.append)
    assert layers == [1, 2] and (tmp_path / EXTERNAL_DATA_FILE).is_file()
    tokens = np.arange(10, dtype=np.int64).reshape(2, 5)
    feeds = step_feeds(Geometry.from_ir(ir), tokens, np.ones((2, 5), dtype=np.int64), None)
    before = OnnxSession(path)(feeds)["logits"]
    inline_external_data(path)
    assert not (tmp_path / EXTERNAL_DATA_FILE).exists()
    assert np.array_equal(OnnxSession(path)(feeds)["logits"], before)


def test_phases_record_time_and_peak(tmp_path):
    phases = Phases()
    with phases.phase("big"):
        block = np.ones(64 * 1024**2 // 8)  # 64 MB, touched, alive at the phase's end
    del block
    with phases.phase("small"):
        pass
    big, small = phases.records
    assert big.name == "big" and big.seconds >= 0
    assert big.peak_memory_mb >= small.peak_memory_mb + 48  # the 64 MB block, seen by the sampler
    assert small.process_peak_mb >= big.peak_memory_mb - 1


class Recorder:
    def __init__(self):
        self.events = []

    def start(self, name, total):
        self.events.append(("start", name, total))

    def advance(self, name, done, total):
        self.events.append(("advance", name, done, total))

    def finish(self, record):
        self.events.append(("finish", record.name))


def test_export_records_its_phases_and_shows_progress(tmp_path):
    folder = model_folder(tmp_path / "run", SMALL)
    display = Recorder()
    result = export_onnx(folder, tmp_path / "onnx", quantize="int4", display=display)
    names = [phase["name"] for phase in result.phases]
    assert names == ["lower", "write graph", "quantize int4", "verify: export", "verify: eager",
                     "verify: real text", "side files and checksums"]
    assert ("advance", "write graph", 2, 2) in display.events
    quantized = [e for e in display.events if e[0] == "advance" and e[1] == "quantize int4"]
    assert quantized and quantized[-1][2] == quantized[-1][3] >= 2 * 4 + 2  # 4 MatMuls a layer, LM head, embedding
    for side in ("verify: export", "verify: eager"):  # every call of each side counted, to the end
        calls = [e for e in display.events if e[0] == "advance" and e[1] == side]
        assert calls[-1][2] == calls[-1][3] == len(calls) > 20
    manifest = json.loads((tmp_path / "onnx" / "light_llm.json").read_text())
    assert [phase["name"] for phase in manifest["phases"]] == names
    assert all(phase["seconds"] >= 0 and phase["peak_memory_mb"] > 0 for phase in manifest["phases"])
    assert read_manifest(tmp_path / "onnx").phases[1].name == "write graph"
    assert sorted(p.name for p in (tmp_path / "onnx").iterdir() if p.name.startswith("model.onnx")) == ["model.onnx"]


def test_fp32_export_keeps_one_file_and_older_manifests_stay_readable(llama_export):
    _, out = llama_export
    manifest = json.loads((out / "light_llm.json").read_text())
    assert [p["name"] for p in manifest["phases"]][-4:] == ["verify: export", "verify: eager", "inline weights",
                                                             "side files and checksums"]
    assert not (out / EXTERNAL_DATA_FILE).exists()  # the weights went inline after verification
    del manifest["phases"]  # as written before phases were recorded
    older = out.parent / "older"
    older.mkdir(exist_ok=True)
    (older / "light_llm.json").write_text(json.dumps(manifest))
    assert read_manifest(older).phases == []


@pytest.mark.parametrize("bits", [4, 8])
def test_quantizing_in_row_chunks_gives_the_same_codes(bits):
    from light_llm.exports.quantize_blocks import quantize_rows, quantize_rows_in_chunks

    rows = np.random.default_rng(0).normal(size=(70, 45)).astype(np.float32)
    whole = quantize_rows(rows, bits, 32, "symmetric")
    chunked = quantize_rows_in_chunks(rows, bits, 32, "symmetric", chunk=16)
    assert np.array_equal(chunked.data, whole.data) and np.array_equal(chunked.scales, whole.scales)
    assert chunked.columns == 45 and np.array_equal(chunked.dequantized(), whole.dequantized())


@pytest.mark.parametrize("damage, message", [
    (lambda data: data[:4], "shorter than its 8-byte header size"),
    (lambda data: (10**9).to_bytes(8, "little") + data[8:], "a header of 1000000000 bytes"),
    (lambda data: data[:8] + b"#" + data[9:], "its header is not JSON"),
])
def test_a_damaged_weights_file_is_one_export_error(tmp_path, damage, message):
    from light_llm.errors import ExportError

    path = tmp_path / "model.safetensors"
    save_file({"w": np.ones((4, 4), np.float32)}, str(path))
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(ExportError, match=message):
        SafetensorsFile(path)


def test_a_truncated_weights_file_is_one_export_error(tmp_path):
    from light_llm.errors import ExportError

    path = tmp_path / "model.safetensors"
    save_file({"w": np.ones((64, 64), np.float32)}, str(path))
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ExportError, match="tensor 'w': unknown dtype or data outside the file"):
        SafetensorsFile(path)
