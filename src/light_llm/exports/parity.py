"""The parity report: how an exported artifact's outputs compare with eager PyTorch.
Plain dataclasses of numbers and strings, so a report is JSON (light_llm.json) and back.

The fp32 tolerance (docs/export-contract.md, "The fp32 tolerance"): an output element of
eager value r may differ by

    atol + rtol·(|r| + √depth·m / 16)

where m is the largest |value| of its row (a position's logits) or of its tensor (a
layer's present keys or values) and depth the model's layer count. The second part is
the noise of fp32 summation order: two correct paths that add the same products in
another order (onnxruntime's kernels, transformers, a traced graph) drift apart in
proportion to the activations' magnitude, more in deep models; a small logit of a row
carries the error of the same sums as the row's largest. `--rtol 0` turns it off.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

import numpy as np

# The row's largest |value| counts with √depth / ROW_SHARE. Measured on SmolLM2-135M (30
# layers, |logit| up to 36): correct paths differ by at most 2.4e-4, the row term allows
# 1.2e-3 (rtol 1e-4), and one weight matrix scaled by 1.01 moves logits by 6e-2.
ROW_SHARE = 16


@dataclass(frozen=True)
class Tolerance:
    atol: float
    rtol: float
    depth: int = 0  # layers the error accumulates over (0: no row term)

    @property
    def row_share(self) -> float:
        """How much of a row's largest |value| every element of the row may differ by."""
        return self.rtol * math.sqrt(self.depth) / ROW_SHARE

    def allowed(self, expected: np.ndarray, scale: np.ndarray | float) -> np.ndarray:
        """The largest |difference| accepted at each element of `expected`; `scale`: the
        largest |value| of each element's row (broadcastable) or tensor."""
        return self.atol + self.rtol * np.abs(expected) + self.row_share * scale

    def accepts(self, expected: np.ndarray, actual: np.ndarray, *, rows: bool) -> bool:
        """Every element within its allowance; `rows`: the scale is each last-axis row's
        largest |value| (logits), else the whole tensor's (presents)."""
        magnitude = np.abs(expected)
        scale = magnitude.max(axis=-1, keepdims=True) if rows else magnitude.max(initial=0.0)
        return bool((np.abs(actual - expected) <= self.allowed(expected, scale)).all())

    def describe(self) -> str:
        return f"atol {self.atol:g}, rtol {self.rtol:g}" + (f", depth {self.depth}" if self.depth else "")


@dataclass
class CheckResult:
    name: str  # e.g. "prefill batch 2 length 7", "decode step 3"
    max_abs_error: float  # largest |logit difference| over the compared positions
    top1_agreement: float  # share of compared positions where both argmaxes agree
    passed: bool
    detail: str = ""
    positions: int = 1  # how many positions (or generated tokens) the agreement is over


@dataclass
class TextCheck:
    """A quantized export against fp32 eager PyTorch on real text (exports/text_gate.py):
    the same windows through both, scored position by position."""

    name: str  # "built-in text" (evaluate/text.py) or "validation split" (the run's own)
    windows: int
    window_length: int
    positions: int  # predicted positions (windows × (window_length - 1))
    top1_agreement: float  # share of those positions where both argmaxes agree
    perplexity: float  # the export's
    reference_perplexity: float  # fp32 eager's
    passed: bool
    detail: str = ""

    @property
    def perplexity_ratio(self) -> float:
        return self.perplexity / self.reference_perplexity


def _runner(name: str) -> tuple[str, str]:
    """("RUNTIME: ", rest) of a check named after a second runtime that ran it
    ("llama.cpp: built-in text", exports/gguf_checks.py), else ("", name)."""
    runner, colon, rest = name.partition(": ")
    return (f"{runner}: ", rest) if colon and " " not in runner else ("", name)


@dataclass
class ParityReport:
    mode: str  # "fp32" (judged by the tolerance) or "quantized" (judged on real text: exports/text_gate.py)
    atol: float
    rtol: float
    cached: bool  # False: verified without a KV cache (bidirectional)
    checks: list[CheckResult] = field(default_factory=list)
    # model(tokens) against the eager wrapper, the export and the KV-cache paths (verify.py)
    plain_checks: list[CheckResult] = field(default_factory=list)
    greedy_tokens: int = 0
    greedy_matching_tokens: int = 0  # length of the common prefix of both generations
    seed: int = 0
    depth: int = 0  # layers of the row term (Tolerance); 0 in reports written before it
    # quantized only (exports/text_gate.py): real text against fp32, the decode of the
    # export's own KV cache against its own prefill, and the thresholds they were held to
    text_checks: list[TextCheck] = field(default_factory=list)
    cache_checks: list[CheckResult] = field(default_factory=list)
    thresholds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # e.g. why a real-text check was left out

    @property
    def tolerance(self) -> Tolerance:
        return Tolerance(self.atol, self.rtol, self.depth)

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks + self.plain_checks + self.cache_checks + self.text_checks)

    @property
    def max_abs_error(self) -> float:
        return max((check.max_abs_error for check in self.checks), default=0.0)

    @property
    def top1_agreement(self) -> float:
        """Share of all compared positions, over every check, where both argmaxes agree."""
        total = sum(check.positions for check in self.checks)
        agreeing = sum(check.top1_agreement * check.positions for check in self.checks)
        return agreeing / total if total else 1.0

    @property
    def worst_top1_agreement(self) -> float:
        return min((check.top1_agreement for check in self.checks), default=1.0)

    def failures(self) -> list[CheckResult]:
        return [check for check in self.checks + self.plain_checks + self.cache_checks if not check.passed]

    def text_failures(self) -> list[TextCheck]:
        return [check for check in self.text_checks if not check.passed]

    def summary(self) -> str:
        state = "passed" if self.passed else "FAILED"
        text = (
            f"parity {state} ({self.mode}): {len(self.checks)} checks, max |Δlogit| "
            f"{self.max_abs_error:.2e}, top-1 agreement {self.top1_agreement:.1%}"
        )
        if self.worst_top1_agreement < self.top1_agreement:
            text += f" (worst check {self.worst_top1_agreement:.1%})"
        if self.greedy_tokens:
            text += f", greedy {self.greedy_matching_tokens}/{self.greedy_tokens} tokens equal"
        failed_plain = sum(not check.passed for check in self.plain_checks)
        if failed_plain:
            text += f", plain forward: {failed_plain} of {len(self.plain_checks)} checks FAILED"
        if self.mode == "fp32":
            text += f" ({self.tolerance.describe()})"
        for check in self.text_checks:
            runner, what = _runner(check.name)
            text += (f"; {runner}real text{'' if check.passed else ' FAILED'}: top-1 agreement "
                     f"{check.top1_agreement:.1%}, perplexity {check.perplexity:.2f} vs fp32 "
                     f"{check.reference_perplexity:.2f} (×{check.perplexity_ratio:.3f}) on {check.positions} tokens "
                     f"of {what}")
        for check in self.cache_checks:
            text += (f"; {_runner(check.name)[0]}KV-cache decode vs own prefill{'' if check.passed else ' FAILED'}: "
                     f"top-1 agreement {check.top1_agreement:.1%} over {check.positions} tokens")
        for note in self.notes:
            text += f"; {note}"
        return text

    def to_dict(self) -> dict:
        data = asdict(self)
        for check, written in zip(self.text_checks, data["text_checks"]):
            written["perplexity_ratio"] = check.perplexity_ratio
        data.update(
            passed=self.passed,
            max_abs_error=self.max_abs_error,
            top1_agreement=self.top1_agreement,
            worst_top1_agreement=self.worst_top1_agreement,
        )
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "ParityReport":
        fields = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        fields["checks"] = [CheckResult(**check) for check in data.get("checks", [])]
        fields["plain_checks"] = [CheckResult(**check) for check in data.get("plain_checks", [])]
        fields["cache_checks"] = [CheckResult(**check) for check in data.get("cache_checks", [])]
        fields["text_checks"] = [TextCheck(**{name: check[name] for name in TextCheck.__dataclass_fields__
                                              if name in check}) for check in data.get("text_checks", [])]
        return cls(**fields)


def compare_logits(
    name: str,
    expected: np.ndarray,
    actual: np.ndarray,
    valid: np.ndarray,
    *,
    tolerance: Tolerance,
    quantized: bool,
) -> CheckResult:
    """expected, actual: [B, S, V]; valid: [B, S] bool, the non-padding positions."""
    if actual.shape != expected.shape:
        return CheckResult(name, float("inf"), 0.0, False, f"shape {actual.shape} != {expected.shape}")
    ref, out = expected[valid], actual[valid]  # [N, V]
    if not np.isfinite(out).all():
        return CheckResult(name, float("inf"), 0.0, False, "non-finite logits")
    error = np.abs(out - ref)
    agreement = float((out.argmax(-1) == ref.argmax(-1)).mean())
    passed = quantized or tolerance.accepts(ref, out, rows=True)
    return CheckResult(name, float(error.max()), agreement, passed, positions=len(ref))


def compare_cache(
    check: CheckResult, expected: dict, actual: dict, names: list[str], *, tolerance: Tolerance,
    attended: np.ndarray | None = None,
) -> CheckResult:
    """Folds the present keys and values of an fp32 run into `check`. `attended`: the
    attention mask [B, total]; keys and values of padding slots are never read, so they
    are not compared (backends may fill them differently, e.g. transformers)."""
    for name in names:
        ref, out = expected[name], actual[name]
        if out.shape != ref.shape:
            return replace(check, passed=False, detail=f"{name}: shape {out.shape} != {ref.shape}")
        if attended is not None:
            keep = attended.astype(bool)[:, None, :, None]  # [B, 1, total, 1]
            ref, out = np.where(keep, ref, 0.0), np.where(keep, out, 0.0)
        if not tolerance.accepts(ref, out, rows=False):
            error = float(np.abs(out - ref).max())
            return replace(check, passed=False, detail=f"{name}: max |Δ| {error:.2e}")
    return check
