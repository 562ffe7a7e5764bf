"""The parity gate: an exported artifact against eager PyTorch, for any backend.

A backend is a `Run`: a function from the contract's named inputs to its named outputs
(numpy). It receives every contract input (input_ids, attention_mask, position_ids,
past_key_values.*) and ignores those its graph lacks. `verify` runs, on random prompts:

1. prefill, batch 2, several lengths, the second row left-padded in the mask;
2. past length 0 with sequence length 1 (sizes the exports never saw when traced);
3. 8 KV-cache decode steps after a padded prefill, each side on its own cache;
4. 32 tokens of greedy generation from one prompt, each side generating on its own.

Steps 3 and 4 shrink to fit `max_seq_len` (prompt plus new tokens never exceed it); a
model of max_seq_len 1 has no decode step to check.

fp32 logits (and presents) must agree within atol + rtol·|eager|; a greedy generation
may only diverge at a step where eager's two best logits are closer than the tolerance.
Quantized artifacts are not held to a tolerance: top-1 agreement and the largest logit
error are reported. Bidirectional models are verified without a cache (steps 1-2).

Steps 1-4 run eager PyTorch through the same signature wrapper as the export, so a bug
in a shared piece (the wrapper, the geometry, the feeds) would hide there. The plain
forward checks close that gap: `model(tokens)` on unpadded full sequences against the
eager wrapper and against the export, and the KV-cache path (the model's own
`forward_with_cache`, and the export's decode steps) against `model(tokens)`. The eager
sides are always held to atol/rtol; the export's sides like steps 1-4.
"""

from __future__ import annotations

import numpy as np

from light_llm.exports.parity import CheckResult, ParityReport, compare_cache, compare_logits
from light_llm.exports.result import ParityError
from light_llm.runtime.feeds import past_from_presents, step_feeds
from light_llm.runtime.generator import Run
from light_llm.runtime.geometry import Geometry

PLAIN_LENGTH = 8
PREFILL_LENGTHS = (3, 7, 12)
DECODE_STEPS = 8
GREEDY_PROMPT = 6
GREEDY_TOKENS = 32


def verify(
    reference_module,
    run: Run,
    ir,
    *,
    atol: float = 1e-4,
    rtol: float = 1e-4,
    quantized: bool = False,
    seed: int = 0,
) -> ParityReport:
    """`reference_module`: the eager model (its IR `ir`); `run`: the backend."""
    from light_llm.runtime.eager_signature import run_module, signature_module

    geometry = Geometry.from_ir(ir)
    reference = run_module(signature_module(reference_module.eval(), geometry), geometry)
    check = _Checker(reference, run, geometry, atol, rtol, quantized, np.random.default_rng(seed))
    report = ParityReport("quantized" if quantized else "fp32", atol, rtol, geometry.cached, seed=seed)
    for length in _fit(PREFILL_LENGTHS, geometry.max_seq_len):
        report.checks.append(check.prefill(length, padding=length // 2))
    report.checks.append(check.prefill(1, padding=0, name="past length 0, sequence length 1"))
    if geometry.cached and geometry.max_seq_len >= 2:
        steps = min(DECODE_STEPS, geometry.max_seq_len - 1)
        report.checks += check.decode(min(7, geometry.max_seq_len - steps), steps)
        report.checks.append(check.greedy(report))
    report.plain_checks = check.plain_forward(reference_module)  # last: checks 1-4 keep their prompts
    return report


def _fit(lengths: tuple[int, ...], max_seq_len: int) -> list[int]:
    return sorted({min(length, max_seq_len) for length in lengths})


class _Checker:
    def __init__(self, reference: Run, run: Run, geometry: Geometry, atol, rtol, quantized, rng):
        self.reference, self.run, self.geometry = reference, run, geometry
        self.atol, self.rtol, self.quantized, self.rng = atol, rtol, quantized, rng

    def _tokens(self, batch: int, length: int) -> np.ndarray:
        return self.rng.integers(0, self.geometry.vocab_size, (batch, length), dtype=np.int64)

    def _compare(self, name, feeds, valid, run_feeds=None) -> tuple[CheckResult, dict, dict]:
        expected, actual = self.reference(feeds), self.run(run_feeds or feeds)
        result = compare_logits(name, expected["logits"], actual["logits"], valid,
                                atol=self.atol, rtol=self.rtol, quantized=self.quantized)
        if result.passed and not self.quantized:
            result = compare_cache(result, expected, actual, self.geometry.output_names()[1:],
                                   atol=self.atol, rtol=self.rtol, attended=feeds["attention_mask"])
        return result, expected, actual

    def plain_forward(self, model) -> list[CheckResult]:
        """`model(tokens)` against the eager wrapper, the export, and both KV-cache paths."""
        import torch

        length = min(PLAIN_LENGTH, self.geometry.max_seq_len)
        tokens = self._tokens(2, length)
        with torch.no_grad():
            expected = model(torch.from_numpy(tokens)).float().numpy()
        feeds = step_feeds(self.geometry, tokens, np.ones_like(tokens), None)
        every = np.ones(tokens.shape, dtype=bool)
        where = f"batch 2 length {length}"
        checks = [
            self._plain(f"plain forward vs eager signature, {where}", expected, self.reference(feeds)["logits"], every, False),
            self._plain(f"plain forward vs export, {where}", expected, self.run(feeds)["logits"], every, self.quantized),
        ]
        if self.geometry.cached and length >= 2:
            prompt = length // 2
            later = every[:, prompt:]
            checks += [
                self._plain(f"forward_with_cache vs plain forward, prefill {prompt} then decode", expected[:, prompt:],
                            _eager_cached_logits(model, tokens, prompt), later, False),
                self._plain(f"export KV-cache decode vs plain forward, prefill {prompt} then decode", expected[:, prompt:],
                            _run_cached_logits(self.run, self.geometry, tokens, prompt), later, self.quantized),
            ]
        return checks

    def _plain(self, name, expected, actual, valid, quantized) -> CheckResult:
        return compare_logits(name, expected, actual, valid, atol=self.atol, rtol=self.rtol, quantized=quantized)

    def prefill(self, length: int, padding: int, name: str | None = None) -> CheckResult:
        mask = np.ones((2, length), dtype=np.int64)
        mask[1, :padding] = 0
        feeds = step_feeds(self.geometry, self._tokens(2, length), mask, None)
        name = name or f"prefill batch 2 length {length} (row 2 left-padded by {padding})"
        return self._compare(name, feeds, mask.astype(bool))[0]

    def decode(self, prompt: int, steps: int = DECODE_STEPS) -> list[CheckResult]:
        mask = np.ones((2, prompt), dtype=np.int64)
        mask[1, : prompt // 2] = 0
        feeds = step_feeds(self.geometry, self._tokens(2, prompt), mask, None)
        expected, actual = self.reference(feeds), self.run(feeds)
        results = []
        for step in range(steps):
            mask = np.concatenate([mask, np.ones((2, 1), dtype=np.int64)], axis=1)
            tokens = self._tokens(2, 1)
            ref_feeds = step_feeds(self.geometry, tokens, mask, past_from_presents(expected, self.geometry))
            run_feeds = dict(ref_feeds, **past_from_presents(actual, self.geometry))
            name = f"decode step {step + 1} (past length {mask.shape[1] - 1})"
            result, expected, actual = self._compare(name, ref_feeds, np.ones((2, 1), bool), run_feeds)
            results.append(result)
        return results

    def greedy(self, report: ParityReport) -> CheckResult:
        prompt_length = max(1, min(GREEDY_PROMPT, self.geometry.max_seq_len // 2))
        prompt = self._tokens(1, prompt_length)
        new = max(0, min(GREEDY_TOKENS, self.geometry.max_seq_len - prompt_length))
        ref_tokens, ref_logits = greedy_generate(self.reference, self.geometry, prompt, new)
        run_tokens, run_logits = greedy_generate(self.run, self.geometry, prompt, new)
        common = _common_prefix(ref_tokens, run_tokens)
        report.greedy_tokens, report.greedy_matching_tokens = new, common
        errors = [np.abs(a - b).max() for a, b in zip(ref_logits[: common + 1], run_logits)]
        agreement = common / new if new else 1.0
        name = f"greedy generation of {new} tokens"
        if common == new or self.quantized:
            return CheckResult(name, float(max(errors, default=0.0)), agreement, True, positions=new)
        top2 = np.sort(ref_logits[common])[-2:]
        margin = float(top2[1] - top2[0])
        near_tie = margin <= self.atol + self.rtol * abs(float(top2[1]))
        detail = f"diverged at token {common + 1}; eager's top-2 margin there {margin:.2e}"
        return CheckResult(name, float(max(errors)), agreement, near_tie,
                           detail + (" (a near-tie: accepted)" if near_tie else ""), positions=new)


def _eager_cached_logits(model, tokens: np.ndarray, prompt: int) -> np.ndarray:
    """Logits at positions prompt.. of `tokens` through the model's own forward_with_cache:
    a prefill of `prompt` tokens, then one token per call."""
    import torch

    ids = torch.from_numpy(tokens)
    batch, length = ids.shape
    past = model.empty_cache(batch)
    logits = []
    with torch.no_grad():
        for start, stop in [(0, prompt)] + [(t, t + 1) for t in range(prompt, length)]:
            mask = torch.ones(batch, stop, dtype=torch.long)
            positions = torch.arange(start, stop).expand(batch, stop - start)
            out, past = model.forward_with_cache(ids[:, start:stop], mask, positions, past)
            logits.append(out.float())
    return torch.cat(logits[1:], dim=1).numpy()


def _run_cached_logits(run: Run, geometry: Geometry, tokens: np.ndarray, prompt: int) -> np.ndarray:
    """The same through a backend's KV-cache decode."""
    batch, length = tokens.shape
    outputs = run(step_feeds(geometry, tokens[:, :prompt], np.ones((batch, prompt), np.int64), None))
    logits = []
    for t in range(prompt, length):
        mask = np.ones((batch, t + 1), dtype=np.int64)
        outputs = run(step_feeds(geometry, tokens[:, t : t + 1], mask, past_from_presents(outputs, geometry)))
        logits.append(outputs["logits"])
    return np.concatenate(logits, axis=1)


def greedy_generate(run: Run, geometry: Geometry, prompt: np.ndarray, new_tokens: int):
    """Greedy tokens and the logits each was picked from (batch 1), through the KV cache."""
    if new_tokens == 0:
        return [], []
    mask = np.ones_like(prompt)
    outputs = run(step_feeds(geometry, prompt, mask, None))
    tokens, logits = [], []
    while True:
        last = outputs["logits"][0, -1]
        logits.append(last)
        tokens.append(int(last.argmax()))
        if len(tokens) >= new_tokens:
            return tokens, logits
        mask = np.concatenate([mask, np.ones((1, 1), dtype=np.int64)], axis=1)
        feeds = step_feeds(geometry, np.array([[tokens[-1]]]), mask, past_from_presents(outputs, geometry))
        outputs = run(feeds)


def _common_prefix(a: list[int], b: list[int]) -> int:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def describe_failure(report: ParityReport) -> str:
    """One line on the worst failed check of `report` (the largest error)."""
    worst = max(report.failures(), key=lambda check: check.max_abs_error)
    what = worst.detail or f"max |Δlogit| {worst.max_abs_error:.2e}"
    return f"{worst.name}: {what} (atol {report.atol:g}, rtol {report.rtol:g})"


def require_parity(report: ParityReport, what: str, consequence: str = "no export written") -> ParityReport:
    """The report, or a ParityError naming its worst failed check."""
    if report.passed:
        return report
    raise ParityError(f"{what} parity check failed, {consequence}: {describe_failure(report)}", report)
