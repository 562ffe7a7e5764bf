"""The quantized gate (exports/text_gate.py) on tiny models: an exact backend passes, a
broken KV cache and a corrupted int4 graph are refused, a run's validation split is
judged too, the thresholds come from the spec, and the report reads back (old ones too)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from onnx import numpy_helper
from onnx_fixtures import LLAMA
from torch_targets_matrix import merged, model_folder

from light_llm.compiler.pipeline import lower_spec
from light_llm.exports.parity import ParityReport
from light_llm.exports.result import ParityError
from light_llm.exports.text_gate import BUILTIN, VALIDATION, GateThresholds, apply_gate, gate_texts
from light_llm.exports.verify import describe_failure
from light_llm.generation.eager_signature import run_module, signature_module
from light_llm.runtime.geometry import Geometry
from light_llm.tokenizer import byte_tokenizer, tokenizer_fingerprint

MODEL = merged(LLAMA, {"init_std": 0.02})  # logits at the scale of a trained small model
# LLAMA's own std 0.2: logits that depend on the context enough to show a cache ignored


def _gate(folder, run):
    geometry = Geometry.from_ir(lower_spec(folder.spec, target="export"))
    report = ParityReport("quantized", 1e-4, 1e-4, True)
    thresholds = GateThresholds.of(folder.spec.export, "int4")
    return apply_gate(report, folder, lambda: run, folder.build, geometry, thresholds)


def _exact(folder):
    geometry = Geometry.from_ir(lower_spec(folder.spec, target="export"))
    return run_module(signature_module(folder.build(target="export"), geometry), geometry)


def test_an_exact_backend_passes_and_a_broken_kv_cache_is_refused(tmp_path):
    folder = model_folder(tmp_path / "run", LLAMA)
    exact = _exact(folder)
    report = _gate(folder, exact)
    assert report.passed, report.summary()
    (text,) = report.text_checks
    assert text.name == BUILTIN and text.windows == 4 and text.window_length == 48 and text.positions == 4 * 47
    assert text.top1_agreement == 1.0 and text.perplexity_ratio == pytest.approx(1.0, abs=1e-4)
    assert report.cache_checks[0].top1_agreement > 0.95 and report.cache_checks[0].positions == 32
    assert "real text: top-1 agreement 100.0%" in report.summary()

    def past_ignored(feeds):
        return exact({name: np.zeros_like(value) if name.startswith("past_key_values") else value
                      for name, value in feeds.items()})

    broken = _gate(folder, past_ignored)
    assert broken.text_checks[0].passed and not broken.passed  # a prefill never reads the cache
    assert describe_failure(broken).startswith("KV-cache decode vs own prefill")
    assert "KV-cache decode vs own prefill FAILED" in broken.summary()


def test_a_corrupted_int4_graph_is_refused_and_no_folder_is_left(tmp_path, monkeypatch):
    """Every scale of the quantized weights ×50: confident, wrong logits."""
    import light_llm.exports.quantize as quantize_module
    from light_llm.exports.onnx import export_onnx

    original = quantize_module.quantize_in_place

    def corrupting(path, method, **options):
        import onnx

        summary = original(path, method, **options)
        model = onnx.load(str(path))
        scales = {node.input[2] for node in model.graph.node if node.op_type == "MatMulNBits"}
        for tensor in model.graph.initializer:
            if tensor.name in scales:
                tensor.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(tensor) * 50, tensor.name))
        onnx.save(model, str(path))
        return summary

    monkeypatch.setattr(quantize_module, "quantize_in_place", corrupting)
    folder = model_folder(tmp_path / "run", MODEL)
    with pytest.raises(ParityError, match=r"ONNX parity check failed, no export written: real text \(built-in text\)"):
        export_onnx(folder, tmp_path / "onnx", quantize="int4")
    assert not (tmp_path / "onnx").exists()


def _token_cache(run, tokens: np.ndarray, fingerprint: str) -> None:
    data = run / "data"
    data.mkdir()
    tokens.astype(np.uint16).tofile(data / "tokens.bin")
    (data / "tokens.json").write_text(json.dumps({
        "tokenizer_kind": "byte", "tokenizer_fingerprint": fingerprint, "corpus_fingerprint": "0" * 16,
        "vocab_size": 258, "dtype": "uint16", "num_tokens": len(tokens)}))


def test_a_runs_validation_split_is_judged_too(tmp_path):
    folder = model_folder(tmp_path / "run", MODEL)
    stream = np.frombuffer(("some validation text. " * 400).encode(), dtype=np.uint8).astype(np.int64)
    _token_cache(tmp_path / "run", stream, tokenizer_fingerprint(byte_tokenizer()))
    geometry = Geometry.from_ir(lower_spec(folder.spec, target="export"))
    texts, notes = gate_texts(folder, geometry)
    assert [name for name, _ in texts] == [BUILTIN, VALIDATION] and notes == []
    held_out = len(stream) - int(len(stream) * folder.spec.data.validation_fraction)
    assert np.array_equal(texts[1][1][0], stream[held_out : held_out + 48])
    report = _gate(folder, _exact(folder))
    assert [check.name for check in report.text_checks] == [BUILTIN, VALIDATION] and report.passed


def test_a_token_cache_of_another_tokenizer_is_left_out_with_a_note(tmp_path):
    folder = model_folder(tmp_path / "run", MODEL)
    _token_cache(tmp_path / "run", np.arange(500) % 258, "f" * 16)
    texts, notes = gate_texts(folder, Geometry.from_ir(lower_spec(folder.spec, target="export")))
    assert [name for name, _ in texts] == [BUILTIN]
    assert notes == [f"{VALIDATION} left out: {tmp_path / 'run' / 'data' / 'tokens.bin'} was made by another tokenizer"]


def test_the_spec_sets_the_thresholds(tmp_path):
    from light_llm.schemas.export import ExportConfig

    config = ExportConfig.model_validate({"quantized_gate": {"int4": {"max_perplexity_ratio": 2.5},
                                                             "min_decode_agreement": 0.5}})
    assert GateThresholds.of(config, "int4") == GateThresholds(0.5, 2.5, 0.5)
    assert GateThresholds.of(config, "int8") == GateThresholds(0.85, 1.1, 0.5)
    assert GateThresholds.from_dict(GateThresholds.of(config, "int4").to_dict()) == GateThresholds(0.5, 2.5, 0.5)


def test_the_report_reads_back_and_older_reports_still_read(tmp_path):
    folder = model_folder(tmp_path / "run", MODEL)
    report = _gate(folder, _exact(folder))
    data = json.loads(json.dumps(report.to_dict()))
    assert data["text_checks"][0]["perplexity_ratio"] == report.text_checks[0].perplexity_ratio
    assert ParityReport.from_dict(data).to_dict() == report.to_dict()
    added = ("text_checks", "cache_checks", "thresholds", "notes")
    older = {key: value for key, value in data.items() if key not in added}
    assert ParityReport.from_dict(older).text_checks == [] and ParityReport.from_dict(older).passed


def test_lightllm_verify_judges_a_quantized_export_with_its_recorded_thresholds(tmp_path):
    from light_llm.exports.onnx import export_onnx
    from light_llm.exports.reverify import reverify

    folder = model_folder(tmp_path / "run", MODEL)
    export_onnx(folder, tmp_path / "onnx", quantize="int4")
    manifest_path = tmp_path / "onnx" / "light_llm.json"
    written = json.loads(manifest_path.read_text())
    report = reverify(tmp_path / "onnx")
    assert report.passed and report.text_checks[0].perplexity == pytest.approx(
        written["parity"]["text_checks"][0]["perplexity"], rel=1e-6)
    written["parity"]["thresholds"]["min_top1_agreement"] = 1.01  # the recorded thresholds are the ones applied
    manifest_path.write_text(json.dumps(written))
    strict = reverify(tmp_path / "onnx")
    assert not strict.passed and "top-1 agreement 100.0% < 101.0%" in describe_failure(strict)
    del written["parity"]["thresholds"]  # an export written before the gate: the source spec's
    manifest_path.write_text(json.dumps(written))
    assert reverify(tmp_path / "onnx").thresholds == GateThresholds.of(folder.spec.export, "int4").to_dict()
