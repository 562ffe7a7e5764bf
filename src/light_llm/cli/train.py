"""`lightllm train SPEC --out RUN [--steps N] [--resume] [--init-from MODEL_DIR]`: train
the spec's model (from MODEL_DIR's weights with --init-from; SPEC left out: MODEL_DIR's own
spec); RUN ends up a model folder that `lightllm export` reads. Under `torchrun --nproc_per_node N`
the same command trains on N processes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from light_llm.cli.options import SetOption

INTERRUPTED_EXIT_CODE = 130


def train(
    spec_path: Annotated[
        Path | None,
        typer.Argument(metavar="[SPEC]", help="Spec file (JSON or YAML); optional with --init-from (the folder's own spec).", show_default=False),
    ] = None,
    *,
    out: Annotated[Path, typer.Option("--out", help="Run folder: checkpoints, metrics, the trained model.")],
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the newest checkpoint in RUN.")] = False,
    steps: Annotated[int | None, typer.Option(help="Override train.steps.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Override train.batch_size (global).")] = None,
    learning_rate: Annotated[float | None, typer.Option("--lr", help="Override train.learning_rate.")] = None,
    precision: Annotated[str | None, typer.Option(help="Override train.precision: fp32 or bf16.")] = None,
    compile: Annotated[bool | None, typer.Option("--compile/--no-compile", help="Override train.compile.")] = None,
    device: Annotated[str | None, typer.Option(help="Override train.device: auto, cpu or cuda.")] = None,
    seed: Annotated[int | None, typer.Option(help="Override train.seed.")] = None,
    eval_every: Annotated[int | None, typer.Option(help="Override train.eval_every.")] = None,
    checkpoint_every: Annotated[int | None, typer.Option(help="Override train.checkpoint_every.")] = None,
    set_values: SetOption = None,
    tensorboard: Annotated[
        bool, typer.Option("--tensorboard/--no-tensorboard", help="Write TensorBoard event files to RUN/tensorboard.")
    ] = True,
    allow_large: Annotated[bool, typer.Option("--allow-large", help="Train even when the spec needs more memory than the device has.")] = False,
    init_from: Annotated[
        Path | None,
        typer.Option("--init-from", metavar="MODEL_DIR", help="Start from this model folder's weights (import-hf, compile --out or a run); its model must equal the spec's.", show_default=False),
    ] = None,
) -> None:
    """Train a spec's model; Ctrl-C saves a checkpoint, --resume continues exactly."""
    from rich.console import Console

    from light_llm.schemas.errors import SpecError
    from light_llm.schemas.overrides import Override, load_spec_with_overrides, parse_overrides
    from light_llm.staging import missing_ancestors, remove_if_empty
    from light_llm.train.trainer import Trainer

    overrides = {
        "steps": steps,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "precision": precision,
        "compile": compile,
        "device": device,
        "seed": seed,
        "eval_every": eval_every,
        "checkpoint_every": checkpoint_every,
    }
    console = Console()
    made = missing_ancestors(out)  # removed again when a failure leaves them empty
    try:
        options = [Override(("train", key), value, _option_text(key, value)) for key, value in overrides.items() if value is not None]
        source, implied = _spec_source(spec_path, init_from)
        spec = load_spec_with_overrides(source, [*implied, *parse_overrides(set_values), *options])
        if not allow_large:
            _check_memory(spec)
        summary = Trainer(spec, out, resume=resume, console=console, tensorboard=tensorboard,
                          init_from=init_from).train()
    except SpecError as error:
        remove_if_empty(made)
        typer.echo(str(error), err=True)
        raise typer.Exit(1)
    except KeyboardInterrupt:
        remove_if_empty(made)
        typer.echo("interrupted before a checkpoint could be saved", err=True)
        raise typer.Exit(INTERRUPTED_EXIT_CODE)
    except BaseException:
        remove_if_empty(made)
        raise  # TrainingError, OSError and the rest: the one error path of cli/errors.py
    if not summary.main_process:
        return
    _print_summary(console, summary)
    if summary.interrupted:
        raise typer.Exit(INTERRUPTED_EXIT_CODE)


def _spec_source(spec_path: Path | None, init_from: Path | None):
    """The spec to load and the overrides it implies: SPEC, or without it the
    --init-from folder's spec.resolved.json reading the folder's own tokenizer.json."""
    from light_llm.cli.errors import fail
    from light_llm.model_folder import SPEC_FILE, load_model_folder
    from light_llm.schemas.overrides import Override

    if spec_path is not None:
        return spec_path, []
    if init_from is None:
        fail("give a SPEC, or --init-from MODEL_DIR to train a model folder with its own spec")
    folder = load_model_folder(init_from)
    if folder.tokenizer_path is None or folder.spec.data.tokenizer == "byte":
        return folder.path / SPEC_FILE, []
    tokenizer = str(folder.tokenizer_path.resolve())
    return folder.path / SPEC_FILE, [Override(("data", "tokenizer"), tokenizer, f"--init-from {folder.path}")]


def _option_text(key: str, value) -> str:
    """`--lr 0.001`, `--no-compile`: a named option as it was typed, for error messages."""
    if isinstance(value, bool):
        return f"--{'' if value else 'no-'}{key}"
    return f"--{'lr' if key == 'learning_rate' else key.replace('_', '-')} {value}"


def _check_memory(spec) -> None:
    """Refuse, before any work, a spec whose training cannot fit on its device."""
    from light_llm.compiler.memory import (
        check_fits, physical_memory_bytes, training_memory, training_shape,
    )
    from light_llm.compiler.pipeline import lower_spec

    if spec.data.tokenizer == "bpe" and spec.model.vocab_size == "auto":
        return  # the loader refuses this; nothing to size
    micro_batch, seq_len = training_shape(spec)
    estimate = training_memory(lower_spec(spec), micro_batch, seq_len)
    device = spec.train.device
    if device != "cpu":
        import torch

        if torch.cuda.is_available():
            check_fits(estimate, torch.cuda.get_device_properties(0).total_memory, "the GPU")
            return
    check_fits(estimate, physical_memory_bytes(), "this machine")


def _print_summary(console, summary) -> None:
    import math

    validation = (
        f", validation loss {summary.validation_loss:.4f} (perplexity {math.exp(min(summary.validation_loss, 50)):.2f})"
        if summary.validation_loss is not None
        else ""
    )
    console.print(
        f"{'stopped' if summary.interrupted else 'trained'} steps {summary.start_step}→{summary.steps}: "
        f"loss {summary.final_loss:.4f}{validation}; {summary.tokens:,} tokens in "
        f"{summary.seconds:.1f} s ({summary.tokens_per_second:,.0f} tok/s); run folder {summary.run}",
        highlight=False,
    )
