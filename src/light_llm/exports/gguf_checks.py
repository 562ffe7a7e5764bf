"""A GGUF file checked against eager PyTorch, by the two programs that read it:

1. transformers' GGUF loader (`from_pretrained(gguf_file=)`, which dequantizes the file to
   fp32 on its own): the whole contract of exports/verify.py (padded prefill, KV-cache
   decode, greedy generation), and for a quantized file the quantized gate on real text
   (exports/text_gate.py) — for the architectures it rebuilds from the file's metadata
   (architectures.py: not qwen3, verified by llama.cpp alone, which must then be installed);
2. llama.cpp itself (exports/llama_cpp.py), where llama-cpp-python is installed: logits
   of a prefill and of KV-cache decode steps, and greedy generation, against eager (an F32
   file within the fp32 tolerance); a quantized file also meets the quantized gate's
   real-text and decode thresholds in llama.cpp (an F32 file of a GELU architecture within
   fp16's tolerance: ggml computes GELU from an fp16 table); and llama.cpp's tokenizer (the file's
   vocabulary) must give tokenizer.json's tokens on the built-in text.

Used by the export (exports/gguf.py) and by `lightllm verify` (exports/reverify.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from light_llm.errors import ExportError
from light_llm.exports.parity import ParityReport, Tolerance, compare_logits
from light_llm.exports.text_gate import (
    DECODE_LENGTH,
    GateThresholds,
    Once,
    apply_gate,
    decode_agreement,
    gate_texts,
    text_check,
)
from light_llm.runtime.geometry import Geometry

LLAMA_CPP = "llama.cpp"
PLAIN_LENGTH = 12  # tokens of each random prompt of the llama.cpp checks (shortened to max_seq_len)
GREEDY_PROMPT, GREEDY_TOKENS = 6, 32
FP16_TOLERANCE = 2.0 ** -8  # four times the spacing of fp16 values in [1, 2): an fp16-level check


def check_gguf(path: Path, folder, ir, *, atol: float, rtol: float, seed: int,
               thresholds: GateThresholds | None, on_side=None) -> ParityReport:
    """The report of both readers; `thresholds`: the quantized gate's (None: an exact
    F32 file, held to the fp32 tolerance)."""
    from light_llm.exports.llama_cpp import llama_cpp_missing
    from light_llm.exports.reference import load_reference
    from light_llm.exports.verify import verify_in_turn
    from light_llm.interop.gguf.config import rope_scaled
    from light_llm.interop.gguf.file import GGUFFile
    from light_llm.interop.hf_run import hf_run

    quantized = thresholds is not None
    geometry = Geometry.from_ir(ir)
    reference = Once(lambda: load_reference(folder))
    arch = _architecture(path)
    missing = llama_cpp_missing()
    transformers_reads = arch.transformers_reads and not rope_scaled(GGUFFile(path))
    if transformers_reads:
        open_run = Once(lambda: hf_run(transformers_gguf_model(path), geometry))
        report = verify_in_turn(reference, open_run, ir, atol=atol, rtol=rtol, quantized=quantized, seed=seed,
                                on_side=on_side)
        if quantized:
            if on_side is not None:
                on_side("real text")
            apply_gate(report, folder, open_run, reference, geometry, thresholds)
        del open_run  # transformers' copy of the weights goes before llama.cpp's comes
        report.notes.append("transformers' GGUF loader: the contract of every export"
                            + (" and the quantized gate" if quantized else ""))
    elif missing is not None:
        raise ExportError(f"{path}: this {arch.name} GGUF file is verified by llama.cpp alone (transformers' GGUF "
                          f"reader does not rebuild it from its metadata), and {missing}")
    else:
        report = ParityReport("quantized" if quantized else "fp32", atol, rtol, geometry.cached, seed=seed,
                              depth=ir.num_layers)
        if quantized:
            report.thresholds = thresholds.to_dict()
        report.notes.append(f"verified by llama.cpp alone: transformers' GGUF reader does not rebuild this "
                            f"{arch.name} file from its metadata" + (" (it ignores RoPE scaling)"
                                                                     if arch.transformers_reads else ""))
    if missing is not None:
        report.notes.append(f"not run in llama.cpp: {missing}")
        return report
    if on_side is not None:
        on_side(LLAMA_CPP)
    tolerance = Tolerance(atol, rtol, ir.num_layers)
    if arch.fp16_gelu and not quantized:
        tolerance = Tolerance(max(atol, FP16_TOLERANCE), max(rtol, FP16_TOLERANCE), ir.num_layers)
        report.notes.append(f"llama.cpp's CPU GELU rounds its input to fp16 and reads a table: its logits are "
                            f"held to {tolerance.describe()}")
    _llama_cpp_checks(report, path, folder, ir, reference, tolerance, seed, thresholds)
    return report


def _architecture(path: Path):
    from light_llm.interop.gguf.architectures import gguf_architecture
    from light_llm.interop.gguf.file import GGUFFile

    return gguf_architecture(GGUFFile(path).architecture, str(path))


def transformers_gguf_model(path: Path):
    """transformers' own model of the GGUF file, dequantized by transformers to fp32."""
    from light_llm.formatting import error_line
    from light_llm.interop.gguf.transformers_reader import transformers_model

    try:
        return transformers_model(path)
    except Exception as error:  # transformers raises many types; its first line says what
        raise ExportError(f"{path}: transformers' GGUF loader, which verifies the file, cannot load it: "
                          f"{error_line(error)}") from None


def _llama_cpp_checks(report: ParityReport, path: Path, folder, ir, reference, tolerance: Tolerance, seed: int,
                      thresholds: GateThresholds | None) -> None:
    from light_llm.evaluate.backends import eager_logits
    from light_llm.evaluate.scores import score
    from light_llm.exports.llama_cpp import LlamaCpp
    from light_llm.exports.verify import greedy_check, greedy_generate
    from light_llm.generation.eager_signature import run_module, signature_module

    quantized = thresholds is not None
    geometry = Geometry.from_ir(ir)
    rng = np.random.default_rng(seed)
    length = min(PLAIN_LENGTH, ir.max_seq_len)
    plain = rng.integers(0, ir.vocab_size, (2, length), dtype=np.int64)
    prompt = max(1, min(GREEDY_PROMPT, ir.max_seq_len // 2))
    greedy_prompt = rng.integers(0, ir.vocab_size, (1, prompt), dtype=np.int64)
    new = max(0, min(GREEDY_TOKENS, ir.max_seq_len - prompt))
    texts = gate_texts(folder, geometry)[0] if quantized else []
    # llama.cpp allocates its cache and all-position logits for the whole context: only what the checks feed
    needed = max([length, prompt + new, *(windows.shape[1] for _, windows in texts)])
    llama = LlamaCpp(path, min(ir.max_seq_len, needed))
    try:
        ours = [llama.logits(row[None]) for row in plain]
        ours_stepped = [llama.stepped_logits(row[None], length // 2) for row in plain] if length >= 2 else []
        ours_greedy = llama.greedy(greedy_prompt, new)
        ours_texts = [score(llama.logits, windows) for _, windows in texts]
        decode = _decode(llama, texts[0][1][0]) if texts else None
        tokenizer_check = _tokenizer_check(llama, path.parent / "tokenizer.json")
    finally:
        llama.close()
    report.plain_checks.append(tokenizer_check)  # not a logit check: kept out of the top-1 figures
    model = reference()
    expected = eager_logits(model)(plain)
    valid = np.ones((1, length), dtype=bool)
    for row, logits in enumerate(ours):
        report.checks.append(compare_logits(f"{LLAMA_CPP}: prefill length {length} (prompt {row + 1})",
                                            expected[row: row + 1], logits, valid, tolerance=tolerance,
                                            quantized=quantized))
    for row, logits in enumerate(ours_stepped):
        name = f"{LLAMA_CPP}: KV-cache decode, prefill {length // 2} then one a step (prompt {row + 1})"
        report.checks.append(compare_logits(name, expected[row: row + 1, length // 2:], logits[None],
                                            valid[:, length // 2:], tolerance=tolerance, quantized=quantized))
    eager_run = run_module(signature_module(model, geometry), geometry)
    report.checks.append(greedy_check(f"{LLAMA_CPP}: greedy generation", greedy_generate(eager_run, geometry,
                                      greedy_prompt, new), ours_greedy, new, tolerance, quantized))
    for (name, windows), scores in zip(texts, ours_texts):
        report.text_checks.append(text_check(f"{LLAMA_CPP}: {name}", windows, scores,
                                             score(eager_logits(model), windows), thresholds))
    if decode is not None:
        stepped, whole, prompt = decode
        name = f"{LLAMA_CPP}: KV-cache decode vs own prefill, prefill {prompt} then {len(stepped)} steps"
        report.cache_checks.append(decode_agreement(name, stepped, whole, thresholds))


def _decode(llama, window: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(stepped, whole, prompt): llama.cpp's logits of a window through its KV cache after a
    prefill of a third, and of one prefill of the whole window."""
    tokens = window[None, : min(DECODE_LENGTH, len(window))]
    prompt = max(1, tokens.shape[1] // 3)
    return llama.stepped_logits(tokens, prompt), llama.logits(tokens)[0, prompt:], prompt


def _tokenizer_check(llama, tokenizer_json: Path):
    """llama.cpp's tokens of the built-in text (with a special token inside) against
    tokenizer.json's."""
    from tokenizers import Tokenizer

    from light_llm.evaluate.text import builtin_text
    from light_llm.exports.parity import CheckResult
    from light_llm.tokenizer import special_tokens

    tokenizer = Tokenizer.from_file(str(tokenizer_json))
    eos = special_tokens(tokenizer).eos_token or ""
    text = builtin_text()[:4000] + eos + " 2024-06-01: naïve café, 12345 tokens!\n\n  indented\tend"
    expected = tokenizer.encode(text, add_special_tokens=False).ids
    actual = llama.tokenize(text)
    same = sum(a == b for a, b in zip(expected, actual))
    passed = expected == actual
    first = next((i for i, (a, b) in enumerate(zip(expected, actual)) if a != b), min(len(expected), len(actual)))
    detail = "" if passed else (f"llama.cpp gives {len(actual)} tokens for tokenizer.json's {len(expected)}; "
                                f"first difference at token {first + 1}")
    return CheckResult(f"{LLAMA_CPP}: tokenizer on the built-in text", 0.0, same / max(len(expected), 1),
                       passed, detail, positions=len(expected))
