"""GGUF export of a real pretrained model (SmolLM2-135M-Instruct, imported from its fp32
Hugging Face folder): the Q8_0 file passes the quantized gate in transformers and in
llama.cpp itself, llama.cpp's tokenizer gives tokenizer.json's tokens, and the file
carries the chat template."""

from __future__ import annotations

from light_llm.exports.gguf import export_gguf
from light_llm.interop.gguf.file import GGUFFile
from light_llm.model_folder import load_model_folder


def test_smollm2_q8_0_passes_the_quantized_gate_in_llama_cpp(smollm2_model, llama_cpp, tmp_path):
    result = export_gguf(load_model_folder(smollm2_model), tmp_path / "gguf", gguf_type="q8_0")
    report = result.parity
    assert report.passed, report.summary()
    texts = {check.name: check for check in report.text_checks}
    for name in ("built-in text", "llama.cpp: built-in text"):  # an imported model has no validation split
        assert texts[name].top1_agreement > 0.9 and texts[name].perplexity_ratio < 1.05, texts[name]
    tokenizer_check = next(check for check in report.plain_checks if check.name.startswith("llama.cpp: tokenizer"))
    assert tokenizer_check.passed and tokenizer_check.positions > 500
    file = GGUFFile(tmp_path / "gguf" / "model.gguf")
    assert file.architecture == "llama" and file.get("llama.block_count") == 30
    assert "<|im_start|>" in file.get("tokenizer.chat_template")
