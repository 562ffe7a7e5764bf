"""The quantized gate: an int8/int4 export judged on real text, where it can fail.

Random tokens say little about a real model's quality (SmolLM2-135M int4 agrees with fp32
on 12 % of random positions and on 64 % of English text positions), so a quantized export is
held to thresholds measured on text (docs/export-contract.md, "The quantized gate"):

1. `text_checks`: the same windows of real text through the export and through fp32 eager
   PyTorch: the built-in English text (evaluate/text.py), and the run's own validation
   split where the model folder is a run with its token cache (RUN/data, train/data.py).
   Each must reach `min_top1_agreement` (share of positions whose argmax agrees) and stay
   within `max_perplexity_ratio` (the export's perplexity / fp32's), the thresholds of its
   method (the spec's export.quantized_gate).
2. `cache_checks`: the export's KV-cache decode against its own prefill on the same text:
   a prefill of the first third of a window, then one token a step, whose argmaxes must
   agree with those of one prefill of the whole window on `min_decode_agreement` of the
   positions. Not a logit tolerance: onnxruntime quantizes the activations of MatMulNBits
   to int8 (accuracy level 4), and a difference of 1e-6 between the decode and prefill
   attention moves some activation across a rounding step, which grows to about 1 logit
   in 30 layers (measured on SmolLM2); a broken cache path disagrees on most positions.

A model whose text cannot be tokenized (no tokenizer.json, and not the byte tokenizer) is
judged on random tokens only; the report says so in `notes`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from light_llm.evaluate.backends import eager_logits, export_logits
from light_llm.evaluate.scores import Scores, score
from light_llm.exports.parity import CheckResult, ParityReport, TextCheck
from light_llm.runtime.feeds import past_from_presents, step_feeds
from light_llm.runtime.generator import Run
from light_llm.runtime.geometry import Geometry

TEXT_WINDOWS = 4  # windows of each text (evaluate/windows.py: consecutive, each from an empty context)
TEXT_WINDOW_LENGTH = 256  # shortened to max_seq_len; half of `lightllm eval`'s default, to halve the eager time
DECODE_LENGTH = 96  # tokens of the decode check's window: a prefill of a third, then one a step
BUILTIN = "built-in text"
VALIDATION = "validation split"


@dataclass(frozen=True)
class GateThresholds:
    """What a quantized export must reach (from the spec's export.quantized_gate)."""

    min_top1_agreement: float
    max_perplexity_ratio: float
    min_decode_agreement: float

    @classmethod
    def of(cls, export_config, method: str) -> "GateThresholds":
        gate = export_config.quantized_gate
        chosen = getattr(gate, method)
        return cls(chosen.min_top1_agreement, chosen.max_perplexity_ratio, gate.min_decode_agreement)

    def to_dict(self) -> dict[str, float]:
        return {"min_top1_agreement": self.min_top1_agreement, "max_perplexity_ratio": self.max_perplexity_ratio,
                "min_decode_agreement": self.min_decode_agreement}

    @classmethod
    def from_dict(cls, data: dict) -> "GateThresholds":
        return cls(**{name: float(data[name]) for name in cls.__dataclass_fields__})


def gate_texts(folder, geometry: Geometry) -> tuple[list[tuple[str, np.ndarray]], list[str]]:
    """(name, windows [N, L]) of each real text of `folder` (a ModelFolder), and notes on
    the texts left out."""
    from light_llm.errors import LightLLMError
    from light_llm.evaluate.text import builtin_text
    from light_llm.evaluate.tokens import encode, folder_tokenizer
    from light_llm.evaluate.windows import split_windows, window_length

    try:
        tokenizer = folder_tokenizer(folder.path, folder.tokenizer_path, folder.spec.data.tokenizer)
        length = window_length(TEXT_WINDOW_LENGTH, geometry.max_seq_len)
    except LightLLMError as error:
        return [], [f"not judged on real text: {error}"]
    texts, notes = [], []
    try:
        texts.append((BUILTIN, split_windows(encode(builtin_text(), tokenizer, geometry.vocab_size),
                                             TEXT_WINDOWS, length)))
    except LightLLMError as error:
        notes.append(f"{BUILTIN} left out: {error}")
    validation, note = validation_tokens(Path(folder.path), folder.spec.data.validation_fraction, tokenizer)
    if validation is not None:
        try:
            texts.append((VALIDATION, split_windows(validation, TEXT_WINDOWS, length)))
        except LightLLMError as error:
            notes.append(f"{VALIDATION} left out: {error}")
    elif note:
        notes.append(note)
    return texts, notes


def validation_tokens(run: Path, fraction: float, tokenizer) -> tuple[np.ndarray | None, str | None]:
    """The validation split of a run's token cache (RUN/data, train/data.py), read without
    changing anything; (None, why) where the cache is damaged or this tokenizer did not
    make it. (None, None): not a run."""
    from light_llm.tokenizer import tokenizer_fingerprint
    from light_llm.train.data import META_FILE, TOKENS_FILE, DataError, read_token_cache, split_tokens
    from light_llm.train.prepare import DATA_FOLDER

    folder = run / DATA_FOLDER
    if not (folder / META_FILE).is_file():
        return None, None
    cache = read_token_cache(folder)
    if cache is None:
        return None, f"{VALIDATION} left out: {folder} is a damaged token cache"
    meta, tokens = cache
    if meta["tokenizer_fingerprint"] != tokenizer_fingerprint(tokenizer):
        return None, f"{VALIDATION} left out: {folder / TOKENS_FILE} was made by another tokenizer"
    try:
        validation = split_tokens(tokens, fraction, 0).validation
    except DataError:  # an empty split
        return None, f"{VALIDATION} left out: {folder / TOKENS_FILE} holds no validation tokens"
    return np.asarray(validation, dtype=np.int64), None


def judge_on_text(
    texts: list[tuple[str, np.ndarray]],
    open_run: Callable[[], Run],
    load_reference: Callable[[], object],
    geometry: Geometry,
    thresholds: GateThresholds,
) -> tuple[list[TextCheck], list[CheckResult]]:
    """(text checks, cache checks): the export's side first (its scores and its decode
    check), then the eager model's."""
    run = open_run()
    exported = [score(export_logits(run, geometry), windows) for _, windows in texts]
    cache_checks = []
    if texts and geometry.cached:
        cache_checks.append(decode_check(run, geometry, texts[0][0], texts[0][1][0], thresholds))
    del run
    model = load_reference()
    checks = []
    for (name, windows), ours in zip(texts, exported):
        checks.append(text_check(name, windows, ours, score(eager_logits(model), windows), thresholds))
    return checks, cache_checks


def text_check(name: str, windows: np.ndarray, exported: Scores, reference: Scores,
               thresholds: GateThresholds) -> TextCheck:
    agreement = exported.agreement(reference)
    check = TextCheck(name, len(windows), windows.shape[1], exported.tokens, agreement, exported.perplexity,
                      reference.perplexity, True)
    problems = []
    if not agreement >= thresholds.min_top1_agreement:
        problems.append(f"top-1 agreement {agreement:.1%} < {thresholds.min_top1_agreement:.1%}")
    if not check.perplexity_ratio <= thresholds.max_perplexity_ratio:  # a NaN perplexity fails too
        problems.append(f"perplexity {check.perplexity:.4g} is ×{check.perplexity_ratio:.3g} fp32's "
                        f"{check.reference_perplexity:.4g} (allowed ×{thresholds.max_perplexity_ratio:g})")
    if problems:
        check.passed, check.detail = False, "; ".join(problems)
    return check


def decode_check(run: Run, geometry: Geometry, text: str, window: np.ndarray,
                 thresholds: GateThresholds) -> CheckResult:
    """The first DECODE_LENGTH tokens of `window` [L]: a prefill of a third of them, then
    the rest one at a time through the KV cache, against one prefill of all of them."""
    tokens = window[None, : min(DECODE_LENGTH, len(window))]
    length = tokens.shape[1]
    prompt = max(1, length // 3)
    whole = run(step_feeds(geometry, tokens, np.ones_like(tokens), None))["logits"][0, prompt:]
    outputs = run(step_feeds(geometry, tokens[:, :prompt], np.ones((1, prompt), np.int64), None))
    stepped = []
    for t in range(prompt, length):
        feeds = step_feeds(geometry, tokens[:, t : t + 1], np.ones((1, t + 1), np.int64),
                           past_from_presents(outputs, geometry))
        outputs = run(feeds)
        stepped.append(outputs["logits"][0, -1])
    name = f"KV-cache decode vs own prefill, prefill {prompt} then {length - prompt} steps of the {text}"
    return decode_agreement(name, np.stack(stepped), whole, thresholds)


def decode_agreement(name: str, decoded: np.ndarray, whole: np.ndarray, thresholds: GateThresholds) -> CheckResult:
    """Logits of decode steps [N, V] against those of one prefill at the same positions:
    their argmaxes must agree on `min_decode_agreement` of the positions."""
    error = float(np.abs(decoded - whole).max())
    agreement = float((decoded.argmax(-1) == whole.argmax(-1)).mean())
    passed = bool(np.isfinite(decoded).all()) and agreement >= thresholds.min_decode_agreement
    detail = "" if passed else (f"top-1 agreement {agreement:.1%} < {thresholds.min_decode_agreement:.1%}"
                                if np.isfinite(decoded).all() else "non-finite logits")
    return CheckResult(name, error, agreement, passed, detail, positions=len(decoded))


def apply_gate(report: ParityReport, folder, open_run: Callable[[], Run], load_reference: Callable[[], object],
               geometry: Geometry, thresholds: GateThresholds) -> ParityReport:
    """`report` (of the random-token checks) with the real-text and decode checks added."""
    texts, notes = gate_texts(folder, geometry)
    report.text_checks, report.cache_checks = judge_on_text(texts, open_run, load_reference, geometry, thresholds)
    report.thresholds, report.notes = thresholds.to_dict(), report.notes + notes
    return report


class Once:
    """`load()` called the first time only: one eager model for the random-token checks and the gate."""

    def __init__(self, load: Callable[[], object]):
        self.load, self.value, self.loaded = load, None, False

    def __call__(self) -> object:
        if not self.loaded:
            self.value, self.loaded = self.load(), True
        return self.value
