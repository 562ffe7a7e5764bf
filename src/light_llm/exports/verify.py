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

fp32 logits (and presents; the keys of a graph that rotates by slot, runtime/slot_rotation.py,
against eager's moved by each row's padding) must agree within atol + rtol·|eager| plus an
allowance for fp32 summation order that grows with the model's depth and its logits'
magnitude (exports/parity.py: Tolerance); a greedy generation may only diverge at a step where
eager's two best logits are closer than that tolerance.
Quantized artifacts are not held to a tolerance on random tokens (only non-finite or
misshapen logits fail): top-1 agreement and the largest logit error are reported, and the
quantized gate judges them on real text (exports/text_gate.py). Bidirectional models are
verified without a cache (steps 1-2).

Steps 1-4 run eager PyTorch through the same signature wrapper as the export, so a bug
in a shared piece (the wrapper, the geometry, the feeds) would hide there. The plain
forward checks close that gap: `model(tokens)` on unpadded full sequences against the
eager wrapper and against the export, and the KV-cache path (the model's own
`forward_with_cache`, and the export's decode steps) against `model(tokens)`. The eager
sides are always held to atol/rtol; the export's sides like steps 1-4.

The prompts are drawn first and each side runs all of them in turn (`verify_in_turn`),
so a caller can close the backend before it builds the eager model: an export then
never holds two copies of the weights.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from light_llm.exports.parity import CheckResult, ParityReport, Tolerance, compare_cache, compare_logits
from light_llm.exports.result import ParityError
from light_llm.runtime.feeds import past_from_presents, step_feeds
from light_llm.runtime.generator import Run
from light_llm.runtime.geometry import Geometry
from light_llm.runtime.slot_rotation import SlotRotation, padding

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
    slot_rotation: SlotRotation | None = None,
) -> ParityReport:
    """`reference_module`: the eager model (its IR `ir`); `run`: the backend; `slot_rotation`:
    its layers that rotate keys by slot."""
    return verify_in_turn(lambda: reference_module, lambda: run, ir, atol=atol, rtol=rtol,
                          quantized=quantized, seed=seed, slot_rotation=slot_rotation)


def verify_in_turn(
    load_reference: Callable[[], object],
    open_run: Callable[[], Run],
    ir,
    *,
    atol: float = 1e-4,
    rtol: float = 1e-4,
    quantized: bool = False,
    seed: int = 0,
    on_side: Callable[[str], Callable | None] | None = None,
    slot_rotation: SlotRotation | None = None,
) -> ParityReport:
    """The same checks, one side at a time: every prompt is drawn first, then the backend
    (`open_run()`) runs all of them and is dropped before `load_reference()` builds the
    eager model, so the two never hold their weights at once (the backend first: it
    starts from the smaller process). Each side's calls depend only on the prompts and
    its own outputs, so the checks are those of running both sides step by step.
    `on_side("export" | "eager")` is called as each side starts; it may return an
    `advance(done, total)` that follows the side's calls."""
    geometry = Geometry.from_ir(ir)
    prompts = _Prompts.draw(geometry, np.random.default_rng(seed))
    advance = (on_side or _quiet)("export")
    actual = _transcript(_counted(open_run(), prompts, advance), geometry, prompts)
    gc.collect()  # the backend's weights go before the eager ones come
    advance = (on_side or _quiet)("eager")
    expected = _eager_transcript(load_reference(), geometry, prompts, advance)
    return _Checker(geometry, atol, rtol, quantized, slot_rotation).report(prompts, expected, actual, seed)


def _quiet(side: str) -> None:
    return None


def _counted(run: Run, prompts: "_Prompts", advance) -> Run:
    """`run`, calling `advance(calls so far, calls in all)` after each call."""
    if advance is None:
        return run
    total = prompts.calls()
    done = [0]

    def counted(feeds):
        outputs = run(feeds)
        done[0] += 1
        advance(min(done[0], total), total)
        return outputs

    return counted


def _fit(lengths: tuple[int, ...], max_seq_len: int) -> list[int]:
    return sorted({min(length, max_seq_len) for length in lengths})


@dataclass
class _Prompts:
    """Every token the checks feed, drawn in one order from the seeded generator."""

    prefills: list[tuple[str, np.ndarray, np.ndarray]]  # (name, tokens [2, S], mask [2, S])
    decode_prompt: np.ndarray | None  # [2, P], its mask's row 2 left-padded by P // 2
    decode_steps: list[np.ndarray]  # one [2, 1] token pair per decode step
    greedy_prompt: np.ndarray | None  # [1, P]
    greedy_tokens: int
    plain: np.ndarray  # [2, PLAIN_LENGTH] unpadded

    @classmethod
    def draw(cls, geometry: Geometry, rng) -> "_Prompts":
        tokens = lambda batch, length: rng.integers(0, geometry.vocab_size, (batch, length), dtype=np.int64)  # noqa: E731
        prefills = []
        shapes = [(length, length // 2, None) for length in _fit(PREFILL_LENGTHS, geometry.max_seq_len)]
        for length, padding, name in shapes + [(1, 0, "past length 0, sequence length 1")]:
            mask = np.ones((2, length), dtype=np.int64)
            mask[1, :padding] = 0
            name = name or f"prefill batch 2 length {length} (row 2 left-padded by {padding})"
            prefills.append((name, tokens(2, length), mask))
        decode_prompt, steps, greedy_prompt, new = None, [], None, 0
        if geometry.cached and geometry.max_seq_len >= 2:
            count = min(DECODE_STEPS, geometry.max_seq_len - 1)
            decode_prompt = tokens(2, min(7, geometry.max_seq_len - count))
            steps = [tokens(2, 1) for _ in range(count)]
            prompt_length = max(1, min(GREEDY_PROMPT, geometry.max_seq_len // 2))
            greedy_prompt = tokens(1, prompt_length)
            new = max(0, min(GREEDY_TOKENS, geometry.max_seq_len - prompt_length))
        plain = tokens(2, min(PLAIN_LENGTH, geometry.max_seq_len))
        return cls(prefills, decode_prompt, steps, greedy_prompt, new, plain)

    def calls(self) -> int:
        """How many calls `_transcript` makes on one side."""
        decode = 1 + len(self.decode_steps) + self.greedy_tokens if self.decode_prompt is not None else 0
        length = self.plain.shape[1]
        return len(self.prefills) + decode + 1 + (1 + length - length // 2 if self.decode_prompt is not None and length >= 2 else 0)

    def decode_masks(self) -> list[np.ndarray]:
        """The masks of the decode prompt, then of each step (one slot more each)."""
        mask = np.ones(self.decode_prompt.shape, dtype=np.int64)
        mask[1, : mask.shape[1] // 2] = 0
        masks = [mask]
        for _ in self.decode_steps:
            masks.append(np.concatenate([masks[-1], np.ones((2, 1), dtype=np.int64)], axis=1))
        return masks


@dataclass
class _Transcript:
    """One side's outputs for every prompt."""

    prefills: list[dict] = field(default_factory=list)
    decode: list[dict] = field(default_factory=list)  # the prompt's outputs, then each step's
    greedy: tuple[list[int], list[np.ndarray]] = ([], [])
    plain: np.ndarray | None = None  # logits of the plain tokens through the contract
    plain_cached: np.ndarray | None = None  # the same through the KV cache, after a prefill
    model_plain: np.ndarray | None = None  # eager only: model(tokens)
    model_cached: np.ndarray | None = None  # eager only: the model's own forward_with_cache


def _transcript(run: Run, geometry: Geometry, prompts: _Prompts) -> _Transcript:
    out = _Transcript()
    out.prefills = [run(step_feeds(geometry, tokens, mask, None)) for _, tokens, mask in prompts.prefills]
    if prompts.decode_prompt is not None:
        masks = prompts.decode_masks()
        out.decode = [run(step_feeds(geometry, prompts.decode_prompt, masks[0], None))]
        for tokens, mask in zip(prompts.decode_steps, masks[1:]):
            out.decode.append(run(step_feeds(geometry, tokens, mask, past_from_presents(out.decode[-1], geometry))))
        out.greedy = greedy_generate(run, geometry, prompts.greedy_prompt, prompts.greedy_tokens)
    tokens = prompts.plain
    out.plain = run(step_feeds(geometry, tokens, np.ones_like(tokens), None))["logits"]
    if geometry.cached and tokens.shape[1] >= 2:
        out.plain_cached = _run_cached_logits(run, geometry, tokens, tokens.shape[1] // 2)
    return out


def _eager_transcript(model, geometry: Geometry, prompts: _Prompts, advance=None) -> _Transcript:
    """The eager side: the contract's signature wrapper on every prompt, and the model's
    own forward and forward_with_cache on the plain tokens."""
    import torch

    from light_llm.generation.eager_signature import run_module, signature_module

    model = model.eval()
    out = _transcript(_counted(run_module(signature_module(model, geometry), geometry), prompts, advance),
                      geometry, prompts)
    tokens = prompts.plain
    with torch.no_grad():
        out.model_plain = model(torch.from_numpy(tokens)).float().numpy()
    if geometry.cached and tokens.shape[1] >= 2:
        out.model_cached = _eager_cached_logits(model, tokens, tokens.shape[1] // 2)
    return out


class _Checker:
    def __init__(self, geometry: Geometry, atol, rtol, quantized, slot_rotation: SlotRotation | None = None):
        self.geometry, self.quantized, self.slot_rotation = geometry, quantized, slot_rotation
        self.tolerance = Tolerance(atol, rtol, geometry.num_layers)

    def report(self, prompts: _Prompts, expected: _Transcript, actual: _Transcript, seed: int) -> ParityReport:
        report = ParityReport("quantized" if self.quantized else "fp32", self.tolerance.atol, self.tolerance.rtol,
                              self.geometry.cached, seed=seed, depth=self.tolerance.depth)
        for (name, _, mask), ref, out in zip(prompts.prefills, expected.prefills, actual.prefills):
            report.checks.append(self._compare(name, ref, out, mask.astype(bool), mask))
        if prompts.decode_prompt is not None:
            masks = prompts.decode_masks()
            for step, (ref, out, mask) in enumerate(zip(expected.decode[1:], actual.decode[1:], masks[1:])):
                name = f"decode step {step + 1} (past length {mask.shape[1] - 1})"
                report.checks.append(self._compare(name, ref, out, np.ones((2, 1), bool), mask))
            report.checks.append(self.greedy(report, expected.greedy, actual.greedy, prompts.greedy_tokens))
        report.plain_checks = self.plain_forward(expected, actual, prompts.plain)
        return report

    def _compare(self, name, expected, actual, valid, attended) -> CheckResult:
        result = compare_logits(name, expected["logits"], actual["logits"], valid,
                                tolerance=self.tolerance, quantized=self.quantized)
        if result.passed and not self.quantized:
            if self.slot_rotation is not None:
                expected = self.slot_rotation.moved(expected, padding(attended))
            result = compare_cache(result, expected, actual, self.geometry.output_names()[1:],
                                   tolerance=self.tolerance, attended=attended)
        return result

    def plain_forward(self, expected: _Transcript, actual: _Transcript, tokens: np.ndarray) -> list[CheckResult]:
        """`model(tokens)` against the eager wrapper, the export, and both KV-cache paths."""
        length = tokens.shape[1]
        every = np.ones(tokens.shape, dtype=bool)
        where = f"batch 2 length {length}"
        model = expected.model_plain
        checks = [
            self._plain(f"plain forward vs eager signature, {where}", model, expected.plain, every, False),
            self._plain(f"plain forward vs export, {where}", model, actual.plain, every, self.quantized),
        ]
        if expected.model_cached is not None:
            prompt = length // 2
            later = every[:, prompt:]
            checks += [
                self._plain(f"forward_with_cache vs plain forward, prefill {prompt} then decode", model[:, prompt:],
                            expected.model_cached, later, False),
                self._plain(f"export KV-cache decode vs plain forward, prefill {prompt} then decode", model[:, prompt:],
                            actual.plain_cached, later, self.quantized),
            ]
        return checks

    def _plain(self, name, expected, actual, valid, quantized) -> CheckResult:
        return compare_logits(name, expected, actual, valid, tolerance=self.tolerance, quantized=quantized)

    def greedy(self, report: ParityReport, expected, actual, new: int) -> CheckResult:
        report.greedy_tokens, report.greedy_matching_tokens = new, _common_prefix(expected[0], actual[0])
        return greedy_check("greedy generation", expected, actual, new, self.tolerance, self.quantized)


def greedy_check(name: str, expected, actual, new: int, tolerance: Tolerance, quantized: bool) -> CheckResult:
    """`new` greedy tokens of eager (`expected`: tokens, each step's logits) against a
    backend's (`actual`): equal, or (fp32) diverging only at a step where eager's two best
    logits are closer than the tolerance."""
    (ref_tokens, ref_logits), (run_tokens, run_logits) = expected, actual
    common = _common_prefix(ref_tokens, run_tokens)
    errors = [np.abs(a - b).max() for a, b in zip(ref_logits[: common + 1], run_logits)]
    agreement = common / new if new else 1.0
    name = f"{name} of {new} tokens"
    if common == new or quantized:
        return CheckResult(name, float(max(errors, default=0.0)), agreement, True, positions=new)
    row = ref_logits[common]
    top2 = np.sort(row)[-2:]
    margin = float(top2[1] - top2[0])
    near_tie = margin <= float(tolerance.allowed(top2[1], np.abs(row).max()))
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
    """One line on the worst failed check of `report`: a failed real-text check first, else
    the failed check of the largest error."""
    if text := report.text_failures():
        return f"real text ({text[0].name}): {text[0].detail}"
    worst = max(report.failures(), key=lambda check: check.max_abs_error)
    what = worst.detail or f"max |Δlogit| {worst.max_abs_error:.2e}"
    tolerance = f" ({report.tolerance.describe()})" if report.mode == "fp32" else ""
    return f"{worst.name}: {what}{tolerance}"


def require_parity(report: ParityReport, what: str, consequence: str = "no export written") -> ParityReport:
    """The report, or a ParityError naming its worst failed check."""
    if report.passed:
        return report
    raise ParityError(f"{what} parity check failed, {consequence}: {describe_failure(report)}", report)
