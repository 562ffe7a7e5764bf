"""The main job: one spec through the whole flow, on the built-in default when none is
given: compile, train, export to ONNX (verified against eager), generate through
onnxruntime.

    OUT/                    the run folder (see train/trainer.py), also the model folder
    OUT/exports/onnx/       the verified ONNX export folder (see exports/folder.py)

Running it again continues an interrupted run from its last checkpoint, and skips
training once the run has reached its steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from light_llm.runtime.sampling import Sampling

if TYPE_CHECKING:
    from light_llm.schemas.overrides import Override

SAMPLE_PROMPT = "def "
SAMPLE_TOKENS = 200
SAMPLE_SAMPLING = Sampling(temperature=0.8, top_k=40, seed=0)


@dataclass(frozen=True)
class DemoResult:
    run: Path
    export: Path
    sample: str
    interrupted: bool = False


def run_demo(
    spec_source: Path, out: Path, *, steps: int | None = None, overrides: Sequence[Override] = (), console: Console
) -> DemoResult:
    """Raises SpecError, TrainingError, ExportError (all ValueErrors) and OSError."""
    spec = _load(spec_source, steps, overrides)
    _compile(spec, console)
    if not _train(spec, out, console):
        return DemoResult(out, out / "exports" / "onnx", "", interrupted=True)
    export = _export(out, console)
    sample = _generate(export, console)
    _where(out, export, console)
    return DemoResult(out, export, sample)


def _load(spec_source: Path, steps: int | None, overrides: Sequence[Override]):
    from light_llm.compiler.resolve import resolve_spec
    from light_llm.schemas.overrides import Override, load_spec_with_overrides

    steps_override = [Override(("train", "steps"), steps)] if steps is not None else []
    return resolve_spec(load_spec_with_overrides(spec_source, [*overrides, *steps_override]))


def _compile(spec, console: Console) -> None:
    from light_llm.compiler.pipeline import lower_spec
    from light_llm.compiler.summary import compile_summary

    console.rule("1/4 compile")
    console.print(compile_summary(lower_spec(spec)))


def _train(spec, out: Path, console: Console) -> bool:
    """False when the run was interrupted (its checkpoint is saved)."""
    from light_llm.train.checkpoint import checkpoint_steps
    from light_llm.train.trainer import Trainer

    console.rule("2/4 train")
    done = checkpoint_steps(out)
    if done and done[-1][0] >= spec.train.steps:
        console.print(f"{out} is already trained to step {done[-1][0]}; delete it to train again")
        return True
    summary = Trainer(spec, out, resume=bool(done), console=console).train()
    console.print(
        f"trained steps {summary.start_step}→{summary.steps} in {summary.seconds:.0f} s "
        f"({summary.tokens_per_second:,.0f} tok/s): loss {summary.final_loss:.3f}, "
        f"validation loss {summary.validation_loss:.3f}",
        highlight=False,
    )
    if summary.interrupted:
        console.print("interrupted: run `lightllm demo` again to continue from the checkpoint")
    return not summary.interrupted


def _export(out: Path, console: Console) -> Path:
    from light_llm.exports.onnx import export_onnx
    from light_llm.model_folder import load_model_folder

    console.rule("3/4 export to ONNX and verify against eager PyTorch")
    result = export_onnx(load_model_folder(out), out / "exports" / "onnx")
    console.print(result.parity.summary(), highlight=False)
    for note in result.notes:
        console.print(f"note: {note}", highlight=False)
    return result.out_dir


def _generate(export: Path, console: Console) -> str:
    from light_llm.runtime.exported import load_export

    sampling = SAMPLE_SAMPLING
    console.rule("4/4 generate with onnxruntime")
    console.print(
        f"prompt {SAMPLE_PROMPT!r}, {SAMPLE_TOKENS} tokens, temperature {sampling.temperature}, "
        f"top-k {sampling.top_k}, seed {sampling.seed}:",
        highlight=False,
    )
    pieces = [SAMPLE_PROMPT]
    console.out(SAMPLE_PROMPT, end="")
    for piece in load_export(export).stream(SAMPLE_PROMPT, SAMPLE_TOKENS, sampling):
        console.out(piece, end="", highlight=False)
        pieces.append(piece)
    console.out("")
    return "".join(pieces)


def _where(out: Path, export: Path, console: Console) -> None:
    console.rule("written")
    for path, what in [
        (out, "run folder and model folder: spec.resolved.json, model.safetensors, tokenizer.json"),
        (out / "metrics.jsonl", "loss, learning rate and validation loss per step"),
        (out / "loss.png", "the loss plot: training and validation loss against tokens"),
        (out / "tensorboard", f"TensorBoard event files: `tensorboard --logdir {out.parent}`"),
        (out / "checkpoints", f"checkpoints: `lightllm train {out / 'spec.resolved.json'} --out {out} --resume "
                              "--steps 2000` trains further"),
        (export, "model.onnx with genai_config.json, tokenizer files and light_llm.json (parity report)"),
    ]:
        console.print(f"{path}  {what}", highlight=False)
    console.print(f"next: lightllm generate {export} --prompt 'import os'", highlight=False)
